"""`EarlyStopping`: keep the best model on disk, stop when it has not improved for a while."""

import math

from ..events import PluginInterface, StopTraining


class EarlyStopping(PluginInterface):
    """After each epoch, compare ``metric`` with the best so far.

    Better by more than ``min_delta``: the model is saved to ``path`` (atomically). Not better
    ``max_tries`` epochs in a row: the best weights are loaded back (``restore_best``) and
    training stops, so `Model.learn` returns False.
    """

    event = "on_end_epoch"

    def __init__(self, max_tries=5, path="model.pt", metric="val_loss", mode="min", min_delta=0.0,
                 restore_best=True):
        if isinstance(max_tries, bool) or not isinstance(max_tries, int) or max_tries < 1:
            raise ValueError(f"max_tries={max_tries!r} must be a whole number >= 1, such as 5.")
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r} must be 'min' (losses) or 'max' (accuracies).")
        if min_delta < 0:
            raise ValueError(f"min_delta={min_delta!r} must be >= 0.")
        self.max_tries, self.path, self.metric = max_tries, path, metric
        self.mode, self.min_delta, self.restore_best = mode, min_delta, restore_best
        self.best = None
        self.best_epoch = None
        self.tries = 0

    def improved(self, value) -> bool:
        if self.best is None:
            return not math.isnan(value)
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def function(self, model, record, epoch, **_):
        if self.metric not in record:
            raise KeyError(f"EarlyStopping watches metric={self.metric!r}, but the epoch has only "
                           f"{sorted(record)}: pass validation_dataset to learn, or choose another metric.")
        value = record[self.metric]
        if self.improved(value):
            self.best, self.best_epoch, self.tries = value, epoch, 0
            model.save(self.path)
            return
        self.tries += 1
        if self.tries >= self.max_tries:
            if self.restore_best and self.best_epoch is not None:
                model.load(self.path, with_history=False)
            if self.best is None:  # every value so far was NaN: nothing was saved
                raise StopTraining(f"{self.metric} has not been a number for {self.tries} epochs; "
                                   "no model was saved.")
            raise StopTraining(f"{self.metric} has not improved for {self.tries} epochs; the best, "
                               f"{self.best:.4f} at epoch {self.best_epoch}, is in {self.path}"
                               + (" and restored" if self.restore_best else ""))
