"""`Evaluator`: measure metrics on a data set after every epoch and record them in the history."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..events import PluginInterface

if TYPE_CHECKING:
    from ...core.batch import Batch
    from ..metrics import Metric
    from ..model import Model


class Evaluator(PluginInterface):
    """Evaluate ``metrics`` (name -> fn(output, batch)) on ``dataset`` at the end of each epoch.

    The values land in the epoch's record as ``<prefix>_<name>`` (for example ``test_accuracy``),
    where Logger, LivePlot and EarlyStopping see them. `Model.learn` already evaluates its
    validation_dataset this way; use an Evaluator for any further data set.
    """

    def __init__(self, dataset: Iterable[Batch], metrics: dict[str, Metric], prefix: str = "test") -> None:
        if not metrics:
            raise ValueError("metrics is empty: pass a dict such as {'accuracy': classification_accuracy}.")
        self.dataset, self.metrics, self.prefix = dataset, metrics, prefix

    def on_end_epoch(self, model: Model, record: dict[str, float], **_) -> None:
        values = model.evaluate_with_metrics(self.dataset, self.metrics)
        record.update({f"{self.prefix}_{name}": value for name, value in values.items()})
