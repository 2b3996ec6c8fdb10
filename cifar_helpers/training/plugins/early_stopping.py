"""`EarlyStopping`: keep the best model, on disk and in memory; stop when it has not improved for a while."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.validation import flag, real_number, whole_number
from ..events import PluginInterface, StopTraining

if TYPE_CHECKING:
    from ..model import Model


class EarlyStopping(PluginInterface):
    """After each epoch, compare ``metric`` (default: the validation loss) with the best so far.

    Better by more than ``min_delta``: the weights are kept as the best. Not better ``max_tries``
    epochs in a row: training stops (`Model.learn` returns False).

    mode: "min" (the metric should fall, as a loss does) or "max" (grow, as an accuracy does);
        "auto", the default, picks "max" for a metric whose name holds "acc", as Keras does.
    path: after every epoch (once there is a best) the best weights and the whole history so
        far are written there, atomically, so the file always describes a training run as far as
        it got, even if it is interrupted. None: the best weights are kept in memory only. A path
        under a file, or a folder, is refused at once (and as each `learn` starts), not after an epoch.
    restore_best: when training ends, however it ends (stopped early, all epochs run, or
        interrupted), the best weights are put back into the model, as Keras's
        ``restore_best_weights`` does. So after `learn` the model in memory is the one in ``path``.
    """

    def __init__(self, max_tries: int = 5, path: str | os.PathLike | None = "model.pt", metric: str = "val_loss",
                 mode: str = "auto", min_delta: float = 0.0, restore_best: bool = True) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode={mode!r} must be 'auto', 'min' (losses) or 'max' (accuracies).")
        if mode == "auto":  # as Keras does: an accuracy should grow, anything else (a loss) fall
            mode = "max" if "acc" in str(metric) else "min"
        self.max_tries = whole_number(max_tries, "max_tries", 5)
        self.min_delta = real_number(min_delta, "min_delta", 0.0, low=0)
        self.path, self.metric, self.mode = path, metric, mode
        self.restore_best = flag(restore_best, "restore_best")
        self.on_start()

    def on_start(self, **_) -> None:
        _check_path(self.path)  # at construction and as each learn starts: before an epoch's work, not after it
        self.best = None
        self.best_epoch = None
        self.tries = 0
        self._best_weights = None

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_end_epoch(self, model: Model, record: dict[str, float], **_) -> None:
        if self.metric not in record:
            raise KeyError(f"EarlyStopping watches metric={self.metric!r}, but the epoch has only "
                           f"{sorted(record)}: pass validation_dataset to learn, or choose another metric.")
        value = record[self.metric]
        if self.improved(value):
            self.best, self.best_epoch, self.tries = value, record["epoch"], 0
            self._best_weights = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
        else:
            self.tries += 1
        if self.path is not None and self._best_weights is not None:
            model.save(self.path, weights=self._best_weights, epoch=self.best_epoch)
        if self.tries >= self.max_tries:
            if self.best is None:
                earlier = (f" ({self.path} is an earlier run's)" if self.path is not None and Path(self.path).exists()
                           else "")
                raise StopTraining(f"{self.metric} has not been a number for {self.tries} epochs; no model was kept"
                                   f"{earlier}.")
            raise StopTraining(f"{self.metric} has not improved for {self.tries} epochs; the best, {self.best:.4f}, "
                               f"is from epoch {self.best_epoch}")

    def on_end(self, model: Model, **_) -> None:
        if self.restore_best and self._best_weights is not None:
            model.load_state_dict(self._best_weights)
            model.weights_epoch = self.best_epoch


def _check_path(path: object) -> None:
    """None, or a path a checkpoint can be written to; else one line naming ``path`` and the fix."""
    if path is None:
        return
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path={path!r} must be a file name, such as 'runs/model.pt', or None to keep the best "
                        "weights in memory only.")
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"path={str(path)!r} is a folder: name a file in it, such as {str(target / 'model.pt')!r}.")
    folder = next(folder for folder in target.parents if folder.exists())  # "." or "/" at least
    if not folder.is_dir():
        raise ValueError(f"path={str(path)!r} lies under {str(folder)!r}, which is a file, not a folder: "
                         "choose another path, such as 'runs/model.pt'.")
