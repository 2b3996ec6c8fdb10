"""`ProgressBar`: tqdm bars over epochs or over the batches of an epoch.

A person at JupyterLab gets tqdm.auto's widget bars. A headless run (papermill, nbval, a script)
has no one watching a bar move: there each epoch bar prints one line when training ends, and the
per-batch bars print nothing (the Logger's line per epoch shows the progress), so a saved
notebook or a log stays short.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

from ...core.environment import is_headless
from ..events import PluginInterface

if TYPE_CHECKING:
    import torch
    from tqdm.std import tqdm


def make_bar(total: int, desc: str, leave: bool) -> tqdm:
    """A tqdm bar suited to where the code runs (see the module docstring)."""
    if is_headless():
        from tqdm.std import tqdm

        return tqdm(total=total, desc=desc, leave=leave, file=sys.stdout, ncols=100, disable=not leave,
                    delay=math.inf)  # shows nothing while running; see ProgressBar._close
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=leave)


class ProgressBar(PluginInterface):
    """``ProgressBar("epoch")``: one bar for the whole training; ``ProgressBar("batch")``: one per epoch."""

    def __init__(self, unit: str = "batch") -> None:
        if unit not in ("batch", "epoch"):
            raise ValueError(f"unit={unit!r} must be 'batch' or 'epoch'.")
        self.unit = unit
        self.bar = None
        self._loss_every = 1

    def on_start(self, max_epochs: int, **_) -> None:
        if self.unit == "epoch":
            self.bar = make_bar(max_epochs, "training", leave=True)

    def on_start_epoch(self, epoch: int, num_batches: int, **_) -> None:
        if self.unit == "batch":
            self.bar = make_bar(num_batches, f"epoch {epoch}", leave=False)
            self._loss_every = max(1, num_batches // 20)

    def on_end_batch(self, batch_index: int, loss: torch.Tensor, **_) -> None:
        if self.unit == "batch" and self.bar is not None:
            if batch_index % self._loss_every == 0:
                self.bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            self.bar.update(1)

    def on_end_epoch(self, record: dict[str, float], **_) -> None:
        if self.unit == "batch":
            self._close()
        elif self.bar is not None:
            shown = {k: f"{v:.3f}" for k, v in record.items() if k in ("train_loss", "val_loss", "val_accuracy")}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

    def on_end(self, **_) -> None:
        self._close()

    def _close(self) -> None:
        if self.bar is None:
            return
        if not self.bar.disable and self.bar.delay == math.inf:  # headless: one final line
            print(self.bar.format_meter(**self.bar.format_dict))
        self.bar.close()
        self.bar = None
