"""The checks of notebook 5. Evaluation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...core.batch import Array, Batch
from . import Verdict, _separated, _unanswered, exercise, missing, right, wrong

if TYPE_CHECKING:
    from ...training.model import Model


@exercise("5.1")
def _best_and_worst(best_class: Any, worst_class: Any, per_class: Array, classes: Sequence[str]) -> Verdict:
    if _unanswered(best_class, worst_class):
        return missing("set best_class and worst_class to class names.")
    per_class = np.asarray(per_class, dtype=float)
    expected = classes[int(np.argmax(per_class))], classes[int(np.argmin(per_class))]
    tied = {name for name, value in zip(classes, per_class) if value == per_class.max()}, {
        name for name, value in zip(classes, per_class) if value == per_class.min()}
    if best_class in tied[0] and worst_class in tied[1]:  # with a tie, either of the tied classes
        return right(f"{expected[0]} ({per_class.max():.1%}) and {expected[1]} ({per_class.min():.1%}).")
    return wrong("read them off per_class_accuracy(matrix): the largest and the smallest value.")


@exercise("5.2")
def _most_confident_wrong(index: Any, probabilities: Array, labels: Array) -> Verdict:
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=1)
    wrong_ones = np.flatnonzero(predicted != np.asarray(labels))
    if len(wrong_ones) == 0:  # a model can get every image right (on the synthetic images, say)
        if index is None:
            return right("the model got every test image right: there is no wrong prediction to find.")
        return wrong("the model got every test image right, so no image answers this: leave index at None.")
    if _unanswered(index):
        return missing("set index to the position of that test image.")
    expected = int(wrong_ones[np.argmax(probabilities[wrong_ones].max(axis=1))])
    if int(index) == expected:
        return right(f"test image {expected}: {probabilities[expected].max():.1%} sure, and wrong.")
    if predicted[int(index)] == labels[int(index)]:
        return wrong("the model got that image right: look only among the wrong predictions.")
    return wrong("among the wrong predictions, take the one whose highest probability is largest.")


@exercise("5.3")
def _mirror_gain(most_gained: Any, model: Model, test_loader: Iterable[Batch], labels: Array,
                 classes: Sequence[str]) -> Verdict:
    from ...training.metrics import confusion_matrix, per_class_accuracy

    if _unanswered(most_gained):
        return missing("set most_gained to the class whose accuracy rises most with the mirror look.")
    one_look, two_looks = (per_class_accuracy(confusion_matrix(
        model.predict_dataset(test_loader, mirror=mirror).argmax(dim=1), labels, len(classes))).numpy()
        for mirror in (False, True))
    gains = two_looks - one_look
    expected = classes[int(np.argmax(gains))]
    if most_gained in {name for name, gain in zip(classes, gains) if gain == gains.max()}:  # ties: either
        return right(f"{expected} gains {gains.max():+.1%}; the gains range from {gains.min():+.1%} to "
                     f"{gains.max():+.1%}.")
    return wrong("subtract each class's one-look accuracy from its two-look accuracy and take the largest.")


@exercise("5.4")
def _dropout_on_test(test_results: Any, lower_loss: Any, run_dir: Path, test_loader: Iterable[Batch]) -> Verdict:
    from ...networks.cnn import CNN
    from ...training.metrics import classification_accuracy
    from .training import DROPOUT_RUNS

    paths = {(p, seed): run_dir / f"exercise_dropout_{p}_seed{seed}.pt" for p, seed in sorted(DROPOUT_RUNS)}
    if not all(path.is_file() for path in paths.values()):
        return missing("run exercise 4.2 of notebook 4 first: it saves its four models in run_dir.")
    if _unanswered(test_results) or set(test_results) != set(paths):
        return missing("set test_results to {(0.0, 0): ..., (0.0, 1): ..., (0.5, 0): ..., (0.5, 1): ...}, each "
                       "model's test loss and accuracy from evaluate_with_metrics.")
    if any(not {"loss", "accuracy"} <= set(result) for result in test_results.values()):
        return wrong("keep what evaluate_with_metrics(test_loader, metrics_to_measure) returns: a dict with "
                     "'loss' and 'accuracy'.")
    if any(result["accuracy"] > 1 for result in test_results.values()):
        return wrong("give each accuracy as a fraction, such as 0.46, not as a percentage.")
    device = next(iter(test_loader))[0].device
    expected = {}
    for key, path in paths.items():
        model = CNN().to(device)
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
        expected[key] = model.evaluate_with_metrics(test_loader, {"loss": model.metric_loss,
                                                                  "accuracy": classification_accuracy})
    if not all(abs(test_results[key][name] - expected[key][name]) < 1e-3 for key in expected
               for name in ("loss", "accuracy")):
        return wrong("load each state_dict into CNN() with load_state_dict(torch.load(path)) and evaluate it on "
                     "test_loader with its metric_loss and classification_accuracy.")
    if _unanswered(lower_loss):
        return missing("set lower_loss to 0.0, 0.5 or \"neither\".")
    higher, separation, spread = _separated({key: result["loss"] for key, result in expected.items()})
    lower = None if higher is None else ({0.0, 0.5} - {higher}).pop()
    if lower_loss != (lower if lower is not None else "neither"):
        if lower_loss == "neither":
            return wrong(f"the settings' losses differ by at least {separation:.3f}, more than the seeds do "
                         f"({spread:.3f}): which setting's are lower?")
        if lower is None:
            return wrong(f"the two seeds of one setting differ by up to {spread:.3f}: do the settings differ by more?")
        return wrong("compare the two settings' test losses: which are lower?")
    shown = ", ".join(f"{p} (seed {seed}): {expected[p, seed]['loss']:.3f}" for p, seed in sorted(expected))
    verdict = (f"dropout {lower} has the lower test loss, by at least {separation:.3f}, more than two seeds of one "
               f"setting differ ({spread:.3f})" if lower is not None else
               f"the settings differ by no more than two seeds of one setting do ({spread:.3f})")
    better, apart, noise = _separated({key: result["accuracy"] for key, result in expected.items()})
    accuracy = (f"In accuracy dropout {better} scores higher, by at least {apart:.1%}, beyond the seeds' "
                f"{noise:.1%}." if better is not None else
                f"In accuracy the settings lie within the seeds' spread ({noise:.1%}): the loss also counts how "
                "sure each answer is, and it shows what the accuracy does not.")
    return right(f"test losses {shown}: {verdict}. {accuracy}")
