"""The checks of notebook 1. Loading and normalising."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...core.validation import boolean_value
from . import Verdict, _unanswered, exercise, missing, right, wrong


@exercise("1.1")
def _batches_per_epoch(batches_256: Any, n_train: int) -> Verdict:
    if _unanswered(batches_256):
        return missing("set batches_256 to the number of batches in one epoch with batch_size=256.")
    if batches_256 == n_train // 256:
        return right(f"{n_train:,} / 256 = {n_train / 256:.2f}: drop_last=True leaves out the last "
                     f"{n_train % 256} images, so an epoch has {n_train // 256} full batches.")
    if batches_256 == math.ceil(n_train / 256):
        return wrong("that counts the last, smaller batch too. Which DataSet option leaves it out?")
    if not float(batches_256).is_integer():
        return wrong("a number of batches is a whole number: what happens to the images left over?")
    return wrong("make a DataSet of the training images with batch_size=256 and drop_last=True, and ask len().")


@exercise("1.2")
def _test_mean(test_mean: Any, test_images: np.ndarray, train_mean: np.ndarray | Sequence[float]) -> Verdict:
    expected = test_images.reshape(-1, 3).mean(axis=0) / 255
    if _unanswered(test_mean):
        return missing("set test_mean to the mean of each channel of the test images, scaled to 0-1.")
    test_mean = np.asarray(test_mean, dtype=float)
    if test_mean.shape != (3,):
        return wrong(f"give one mean per colour channel: three numbers, not an array of shape {test_mean.shape}.")
    if np.allclose(test_mean, expected * 255, atol=0.5):
        return wrong("those are pixel values 0-255; the training means were scaled to 0-1.")
    if np.allclose(test_mean, expected, atol=1e-3):
        apart = np.abs(expected - np.asarray(train_mean, dtype=float)).max()
        return right(f"{np.round(expected, 3).tolist()}: at most {apart:.3f} from the training means.")
    return wrong("average over every pixel of every test image, one channel at a time (reshape to (-1, 3)).")


@exercise("1.3")
def _shuffle(same_without_shuffle: Any, same_with_shuffle: Any) -> Verdict:
    if _unanswered(same_without_shuffle, same_with_shuffle):
        return missing("set same_without_shuffle and same_with_shuffle to True or False.")
    same_without_shuffle, same_with_shuffle = boolean_value(same_without_shuffle), boolean_value(same_with_shuffle)
    if same_without_shuffle is None or same_with_shuffle is None:
        return wrong("answer each with True or False, such as np.array_equal(first, second) gives.")
    if same_without_shuffle is True and same_with_shuffle is False:
        return right("without shuffling every epoch starts with the same images; with it, each epoch has "
                     "its own order.")
    if same_without_shuffle is False:
        return wrong("without shuffling, a DataSet cuts its arrays in the same order every time. Compare the "
                     "first batches with np.array_equal.")
    return wrong("with shuffle=True a DataSet draws a new order every epoch: is the first batch of the second "
                 "epoch the same as the first's?")


@exercise("1.4")
def _buffer_timing(seconds: Any) -> Verdict:
    if _unanswered(seconds) or not seconds:
        return missing("set seconds to {1: time with buffer_size=1, 16: time with buffer_size=16}.")
    if set(seconds) != {1, 16}:
        return wrong("time exactly two loaders, buffer_size=1 and buffer_size=16, as {1: ..., 16: ...}.")
    seconds = {size: _real(s) for size, s in seconds.items()}
    if not all(s is not None and 0 < s < 3600 for s in seconds.values()):
        return wrong("each time should be seconds, a positive number: use time.perf_counter() before and after.")
    return right(f"{seconds[1]:.2f} s and {seconds[16]:.2f} s. Without a model to wait for, the loader is the "
                 "only work: a bigger buffer cannot make it faster. The guide discusses when it helps.")


def _real(value: object) -> float | None:
    """A real number as a float, also from numpy (np.float32) or a 0-d tensor; None for anything else (True too)."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # a 0-d tensor or array
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return float(value)
