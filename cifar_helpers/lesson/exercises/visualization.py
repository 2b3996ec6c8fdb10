"""The checks of notebook 2. Looking at CIFAR-10."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.batch import Array
from . import Verdict, _unanswered, exercise, missing, right, wrong


@exercise("2.1")
def _test_grid(figure: Any, test_labels: Array, classes: Sequence[str]) -> Verdict:
    if _unanswered(figure):
        return missing("set figure to the grid of the first 32 test images that show_images returns.")
    shown = [ax for ax in getattr(figure, "axes", []) if ax.images]
    if len(shown) != 32:
        return wrong(f"the figure shows {len(shown)} images; show the first 32 test images.")
    titles = [ax.get_title() for ax in shown]
    if titles != [classes[i] for i in test_labels[:32]]:
        return wrong("the titles are not the test images' classes: pass the test labels and CLASSES too.")
    return right("the test images look like the training images: same sources, same kinds of pictures.")


@exercise("2.2")
def _most_similar(most_similar: Any, average_images: Array, classes: Sequence[str]) -> Verdict:
    if _unanswered(most_similar):
        return missing("set most_similar to the two class names, such as ('cat', 'dog').")
    images = np.asarray(average_images, dtype=float)
    distances = {(i, j): np.abs(images[i] - images[j]).mean()
                 for i in range(len(classes)) for j in range(i + 1, len(classes))}
    i, j = min(distances, key=distances.get)
    if set(most_similar) == {classes[i], classes[j]}:
        return right(f"{classes[i]} and {classes[j]}: their average images differ by "
                     f"{distances[(i, j)]:.1f} brightness levels per pixel.")
    if len(set(most_similar)) != 2:
        return wrong("name two different classes: a class compared with itself differs by 0.")
    return wrong("compute the mean absolute difference for every pair of classes and take the smallest; "
                 "use floats, since uint8 subtraction wraps around below 0.")


@exercise("2.3")
def _brightness(brighter: Any, figure: Any, images: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> Verdict:
    if _unanswered(brighter, figure):
        return missing("draw the two histograms (figure) and set brighter to 'airplane' or 'frog'.")
    if not getattr(figure, "axes", None):
        return wrong("figure should be the matplotlib figure with the two histograms.")
    means = {name: images[labels == classes.index(name)].mean() for name in ("airplane", "frog")}
    expected = max(means, key=means.get)
    if brighter == expected:
        return right(f"mean brightness {means['airplane']:.0f} for airplanes, {means['frog']:.0f} for frogs"
                     + (": sky against undergrowth." if expected == "airplane" else "."))
    if brighter not in means:
        return wrong("answer 'airplane' or 'frog'.")
    return wrong("look at where each histogram's mass lies, or compare the two classes' mean pixel values.")
