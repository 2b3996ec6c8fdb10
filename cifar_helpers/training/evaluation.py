"""How a `Model` evaluates and predicts: in eval mode (no dropout), without gradients.

`Evaluation` holds `Model`'s methods for that (`evaluate_with_metrics`, `evaluate`, `predict`,
`predict_dataset`, `metric_loss`); `Model` inherits them. Its forward pass turns a batch the
lesson's networks cannot take into one line naming the fix; `Model.learn` uses it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..core.batch import Batch
from ..core.validation import flag
from ..data.augment import mirror_batch
from .inputs import batch_problem, batch_size, check_batch, check_not_shuffled
from .metrics import Metric


class Evaluation:
    """`Model`'s evaluation and prediction; it calls the model's ``forward`` (through ``self(batch)``) and ``loss``."""

    def metric_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """The loss as a metric: `loss` without gradient."""
        return self.loss(output, batch).detach()

    @torch.no_grad()
    def evaluate_with_metrics(self, dataset: Iterable[Batch], metrics: dict[str, Metric],
                              mirror: bool = False) -> dict[str, float]:
        """Each metric (name -> fn(output, batch)) averaged over every sample of ``dataset``.

        Batches are weighted by their size, so a smaller last batch counts exactly as much as
        its samples do. Dropout is off while evaluating; the model's mode is restored after.
        mirror=True: each image's output is the mean of the outputs for it and its mirror image
        (left-right), as in `predict`.
        """
        if not metrics:
            raise ValueError("metrics is empty: pass a dict such as {'loss': model.metric_loss}.")
        mirror = flag(mirror, "mirror")
        totals, seen = dict.fromkeys(metrics, 0.0), 0
        with _eval_mode(self):
            for batch in dataset:
                if seen == 0:
                    check_batch(self, batch, "evaluate_with_metrics(dataset)")
                output = self._output(batch, mirror, "evaluate_with_metrics(dataset)")
                n = batch_size(batch)
                for name, fn in metrics.items():
                    totals[name] = torch.as_tensor(fn(output, batch)).detach() * n + totals[name]
                seen += n
        if seen == 0:
            raise ValueError("the dataset to evaluate gave no batches: it is empty.")
        return {name: float(total) / seen for name, total in totals.items()}

    def evaluate(self, dataset: Iterable[Batch], mirror: bool = False) -> float:
        """The mean loss over every sample of ``dataset``."""
        return self.evaluate_with_metrics(dataset, {"loss": self.metric_loss}, mirror=mirror)["loss"]

    @torch.no_grad()
    def predict(self, batch: Batch, mirror: bool = False) -> torch.Tensor:
        """The model's output for one batch, in eval mode (no dropout) and without gradient.

        batch: (images, labels) as batch_to_tensors gives them; labels (class indices) may be None.
        mirror=True averages the outputs for the images and their mirror images (test-time
        augmentation). For log-probabilities, as `CNN` gives, that is the log of a geometric mean:
        its argmax is the combined prediction; apply softmax for probabilities.
        """
        mirror = flag(mirror, "mirror")
        check_batch(self, batch, "predict(batch)")
        with _eval_mode(self):
            return self._output(batch, mirror, "predict(batch)")

    @torch.no_grad()
    def predict_dataset(self, dataset: Iterable[Batch], mirror: bool = False) -> torch.Tensor:
        """The outputs for every batch of ``dataset``, joined in order, on the CPU.

        The dataset must not shuffle: the outputs are lined up with its samples in their order.
        """
        check_not_shuffled(dataset)
        mirror = flag(mirror, "mirror")
        outputs = []
        with _eval_mode(self):
            for batch in dataset:
                if not outputs:
                    check_batch(self, batch, "predict_dataset(dataset)")
                outputs.append(self._output(batch, mirror, "predict_dataset(dataset)").cpu())
        if not outputs:
            raise ValueError("predict_dataset: the dataset gave no batches: it is empty.")
        return torch.cat(outputs)

    def _output(self, batch: Batch, mirror: bool, where: str) -> torch.Tensor:
        output = self._forward(batch, where)
        if mirror:
            output = (output + self(mirror_batch(batch))) / 2
        return output

    def _forward(self, batch: Batch, where: str) -> torch.Tensor:
        """``self(batch)``; when that fails on a batch the lesson's networks cannot take, one line saying why."""
        try:
            return self(batch)
        except (RuntimeError, TypeError, ValueError) as error:
            problem = batch_problem(batch, where)
            if problem is None:
                raise
            raise problem from error


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Switch a module to eval mode (no dropout, batch-norm statistics fixed) for a block, then back."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)
