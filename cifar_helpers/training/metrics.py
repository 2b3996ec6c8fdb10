"""Classification metrics, vectorised: accuracy, confusion matrix, per-class accuracy."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeAlias

import torch

from ..core.batch import Array, Batch

# A metric for Model.evaluate_with_metrics and Evaluator: fn(output, batch) -> one number (a 0-d tensor or a float).
Metric: TypeAlias = Callable[[torch.Tensor, Batch], torch.Tensor | float]


def _labels(predicted: Array) -> torch.Tensor:
    """Class indices from either indices (N,) or scores / log-probabilities (N, C).

    A column of indices (N, 1), as ``output.topk(1).indices`` gives, counts as indices: read as
    scores of one class, every prediction would be class 0.
    """
    predicted = torch.as_tensor(predicted)
    if predicted.ndim == 2 and predicted.shape[1] == 1:
        if predicted.is_floating_point():
            raise ValueError("predicted holds one score per image (N, 1): pass a score for every class (N, C), "
                             "or class indices (N,).")
        return predicted[:, 0]
    if predicted.ndim not in (1, 2):
        raise ValueError(f"predicted has shape {tuple(predicted.shape)}: pass class indices (N,) or scores (N, C).")
    return predicted.argmax(dim=1) if predicted.ndim == 2 else predicted


def accuracy(predicted: Array, expected: Array) -> torch.Tensor:
    """Fraction of correct predictions, as a 0-d float tensor (on the inputs' device).

    predicted: class indices (N,) or scores (N, C); expected: class indices (N,).
    """
    predicted, expected = _labels(predicted), torch.as_tensor(expected)
    if predicted.shape != expected.shape:
        raise ValueError(f"predicted has {tuple(predicted.shape)} labels but expected has "
                         f"{tuple(expected.shape)}: pass one prediction per label.")
    if len(expected) == 0:
        raise ValueError("there are no predictions to score: predicted and expected are empty.")
    return (predicted == expected.to(predicted.device)).float().mean()


def classification_accuracy(output: torch.Tensor, batch: Batch) -> torch.Tensor:
    """A metric for `Model.evaluate_with_metrics`: accuracy of ``output`` against the batch's labels."""
    return accuracy(output, batch[1])


def confusion_matrix(predicted: Array, expected: Array, num_classes: int = 10) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts: row = true class, column = predicted class."""
    predicted, expected = _labels(predicted).cpu(), torch.as_tensor(expected).cpu()
    for name, labels in (("predicted", predicted), ("expected", expected)):
        if labels.is_floating_point() and not torch.equal(labels, labels.round()):
            raise ValueError(f"{name} holds fractional labels such as {labels[labels != labels.round()][0].item()}: "
                             "class labels are whole numbers (for scores, pass the (N, C) array).")
    predicted, expected = predicted.long(), expected.long()
    for name, labels in (("predicted", predicted), ("expected", expected)):
        if len(labels) and labels.min() < 0:
            raise ValueError(f"{name} holds negative labels ({int(labels.min())}): class labels count from 0.")
        if len(labels) and labels.max() >= num_classes:
            raise ValueError(f"{name} holds labels outside 0..{num_classes - 1}: pass "
                             f"num_classes={int(labels.max()) + 1} or check the labels.")
    counts = torch.bincount(expected * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def lowest_record(history: Sequence[dict[str, float]], key: str = "val_loss") -> dict[str, float] | None:
    """The epoch record with the lowest ``key`` that is a number (NaN is never the best, as in
    `EarlyStopping`), or None when there is none."""
    numbers = [record for record in history if not math.isnan(record.get(key, math.nan))]
    return min(numbers, key=lambda record: record[key]) if numbers else None


def per_class_accuracy(matrix: Array) -> torch.Tensor:
    """Accuracy of each true class, from a confusion matrix (NaN for a class with no samples)."""
    matrix = torch.as_tensor(matrix).double()
    return matrix.diagonal() / matrix.sum(dim=1)


def most_confused(matrix: Array, classes: Sequence[str], top: int = 5) -> list[tuple[str, str, int]]:
    """The ``top`` (true class, predicted class, count) pairs off the diagonal, most frequent first."""
    matrix = torch.as_tensor(matrix).clone()
    matrix.fill_diagonal_(0)
    counts, flat = matrix.flatten().topk(min(top, matrix.numel()))  # fewer pairs than top: all of them
    n = matrix.shape[0]
    return [(classes[i // n], classes[i % n], int(c)) for c, i in zip(counts.tolist(), flat.tolist()) if c > 0]
