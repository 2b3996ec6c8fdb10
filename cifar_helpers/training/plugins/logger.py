"""`Logger`: one line per epoch with the figures of the epoch."""

from __future__ import annotations

from ..events import PluginInterface


def format_record(record: dict[str, float], last_epoch: int | None = None) -> str:
    """'epoch 3/10  train_loss 1.2345  val_loss 1.3012  val_accuracy 0.5410  12.3 s  3,650 img/s'.

    last_epoch: the number after the slash, the last epoch this training runs to.
    """
    width = len(str(last_epoch)) if last_epoch else 1
    total = f"/{last_epoch}" if last_epoch else ""
    parts = [f"epoch {record['epoch']:>{width}}{total}"]
    parts += [f"{name} {value:.4f}" for name, value in record.items()
              if name.startswith(("train_", "val_", "test_")) and isinstance(value, float)]
    if "seconds" in record:
        parts.append(f"{record['seconds']:.1f} s  {record['images_per_second']:,.0f} img/s")
    return "  ".join(parts)


class Logger(PluginInterface):
    """Print the epoch's record (losses, metrics, time, speed) when the epoch ends."""

    def on_end_epoch(self, record: dict[str, float], last_epoch: int, **_) -> None:
        # A plain print: notebook progress bars are widgets that printing does not disturb, and
        # headless text bars draw nothing until training ends (see progress.py).
        print(format_record(record, last_epoch), flush=True)
