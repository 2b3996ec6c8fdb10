"""Data augmentation: new views of the same images, for training, and extra looks at test time.

A horse facing left mirrored is a horse facing right: still a horse, and an image the network
has not seen; the same horse two pixels further left is one too. Standard for CIFAR-10:

* `RandomFlip` (training): mirrors each uint8 image (N, H, W, C) of a batch with probability
  ``p`` (one half by default).
* `RandomCrop` (training): shifts each image by up to ``pad`` pixels, filling the edge by
  reflection (a crop of the padded image).
  Both run in the background loader, before `batch_to_tensors`, vectorised over the batch, and
  draw from their own seeded generator, so a seeded run repeats exactly. They take numpy arrays
  or torch uint8 tensors on any device: on a GPU the training images can stay there (notebook 6),
  and the same seed mirrors and shifts them exactly as it does the numpy arrays.
* `AlternatingFlip` (training, notebook 6): wraps a `DataSet` so that a random half of the images
  is mirrored in the first epoch and every image the other way round in each epoch after, as
  airbench does. `RandomFlip` draws afresh each epoch, so half the time an image looks the same
  in two epochs running; here any two epochs running show every image both ways.
* `mirror_batch`, `shift_batch` (testing): the mirror, or a shifted copy, of a batch of float
  tensors (N, C, H, W). ``Model.evaluate_with_metrics(..., mirror=True)`` runs the network on
  an image and its mirror and averages the two outputs ("test-time augmentation").
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..core.batch import Array, Batch
from ..core.validation import batch_inputs, real_number, seed_value, whole_number
from .dataset import DataSet


class RandomFlip:
    """A loader step: (images, labels, ...) -> the same batch with each image mirrored with probability p."""

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        self.p = real_number(p, "p", 0.5, low=0, high=1)
        self.rng = np.random.default_rng(seed_value(seed))

    def __call__(self, batch: Batch) -> Batch:
        images, *rest = batch
        images = _images(images, "RandomFlip")
        images = _mirrored_where(images, self.rng.random(len(images)) < self.p)
        return type(batch)([images, *rest]) if isinstance(batch, (list, tuple)) else (images, *rest)

    def __repr__(self) -> str:
        return f"RandomFlip(p={self.p})"


class RandomCrop:
    """A loader step: (images, labels, ...) -> each uint8 image (N, H, W, C) shifted by up to ``pad`` pixels."""

    def __init__(self, pad: int = 2, seed: int | None = None) -> None:
        self.pad = whole_number(pad, "pad", 2)
        self.rng = np.random.default_rng(seed_value(seed))

    def __call__(self, batch: Batch) -> Batch:
        images, *rest = batch
        images = _images(images, "RandomCrop")
        n, height, width, _ = images.shape
        p = self.pad
        dy, dx = self.rng.integers(0, 2 * p + 1, size=(2, n))
        if isinstance(images, torch.Tensor):  # on its device, with the same draws as for numpy
            cropped = _shifted(images, dy - p, dx - p)
        else:
            padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
            # Every (height x width) window of every padded image, as a view: (N, 2p+1, 2p+1, C, H, W).
            windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(1, 2))
            cropped = np.ascontiguousarray(windows[np.arange(n), dy, dx].transpose(0, 2, 3, 1))  # one gather
        return type(batch)([cropped, *rest]) if isinstance(batch, (list, tuple)) else (cropped, *rest)

    def __repr__(self) -> str:
        return f"RandomCrop(pad={self.pad})"


class AlternatingFlip:
    """A `DataSet` of (images, labels, ...) whose images are mirrored in every other epoch.

    >>> batches = AlternatingFlip(DataSet([images, labels], batch_size=500, drop_last=True), seed=0)
    >>> loader = AsyncDataLoader(batches, on_batch_loaded=lambda batch: batch_to_tensors(crop(batch)))

    A half of the images, drawn from ``seed``, is mirrored in the first epoch (and the 3rd, 5th,
    ...), the other half in the epochs in between. So each image is seen both ways in any two
    epochs running, and at random which way first. The batches come in the dataset's order from
    its ``seed`` (as ``dataset.restarted()`` would give them), with its batch size; the dataset's
    arrays are shared, not copied, and stay as they are. Iterating again starts the next epoch:
    give each training run a new `AlternatingFlip`.
    """

    def __init__(self, dataset: DataSet, seed: int | None = None) -> None:
        if not isinstance(dataset, DataSet):
            raise TypeError(f"AlternatingFlip wants a DataSet of (images, labels, ...), got {type(dataset).__name__}: "
                            "wrap the arrays first, AlternatingFlip(DataSet([images, labels], batch_size=...)).")
        count = len(_images(dataset.data[0], "AlternatingFlip"))
        self.mirrored_first = np.random.default_rng(seed_value(seed)).random(count) < 0.5  # as RandomFlip draws
        # The same arrays (not copies) and each image's position, to look up which way round it comes.
        self.dataset = DataSet([*dataset.data, np.arange(count)], dataset.batch_size, dataset.shuffle,
                               dataset.drop_last, seed=dataset.seed)
        self.epochs_started = 0

    def __len__(self) -> int:
        """Batches per epoch."""
        return len(self.dataset)

    def __iter__(self) -> Iterator[Batch]:
        the_other_half = self.epochs_started % 2 == 1  # decided now, not when the first batch is asked for
        self.epochs_started += 1
        return self._batches(the_other_half)

    def _batches(self, the_other_half: bool) -> Iterator[Batch]:
        for images, *rest, positions in self.dataset:
            yield (_mirrored_where(images, self.mirrored_first[positions] != the_other_half), *rest)

    def __repr__(self) -> str:
        return f"AlternatingFlip({self.dataset!r})"


def _mirrored_where(images: Array, flip: np.ndarray) -> Array:
    """A copy of uint8 images (N, H, W, C), image i mirrored left to right where ``flip[i]`` (numpy booleans)."""
    if isinstance(images, torch.Tensor):  # on its device, with the same draws as for numpy
        flip = torch.from_numpy(flip).to(images.device)[:, None, None, None]
        return torch.where(flip, images.flip(2), images)
    mirrored = images.copy()  # the caller's array stays as it was
    mirrored[flip] = images[flip, :, ::-1]  # touches only the chosen images: faster than np.where over the batch
    return mirrored


def _images(images: Array, name: str) -> Array:
    """The batch's images as a numpy array or a torch tensor (kept where it is), checked to be (N, H, W, C)."""
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):  # (N, 3, H, W) would flip upside down
        raise ValueError(f"{name} wants uint8 images (N, H, W, C), got shape {tuple(images.shape)}: "
                         "apply it before batch_to_tensors.")
    return images


def _shifted(images: torch.Tensor, dy: np.ndarray, dx: np.ndarray) -> torch.Tensor:
    """Tensor images (N, H, W, C) with image i moved by (-dy[i], -dx[i]), edges reflected: one gather.

    Output pixel (y, x) of image i is input pixel (y + dy[i], x + dx[i]), its row and column
    reflected back into the image when they fall outside (as numpy's "reflect" padding does).
    """
    n, height, width, _ = images.shape
    rows = _reflect(torch.arange(height) + torch.from_numpy(dy)[:, None], height)  # (N, H)
    cols = _reflect(torch.arange(width) + torch.from_numpy(dx)[:, None], width)    # (N, W)
    device = images.device
    return images[torch.arange(n, device=device)[:, None, None], rows.to(device)[:, :, None],
                  cols.to(device)[:, None, :]]


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Indices reflected into 0 .. size - 1 without repeating the edge: -1 -> 1, size -> size - 2."""
    period = 2 * (size - 1)
    index = index.remainder(period)
    return torch.where(index >= size, period - index, index)


def shift_batch(batch: Batch | torch.Tensor, dy: int, dx: int) -> Batch | torch.Tensor:
    """The batch with its images (tensors (N, C, H, W)) shifted ``dy`` rows and ``dx`` columns, edges reflected."""
    images = batch_inputs(batch)
    p = max(abs(dy), abs(dx))
    padded = torch.nn.functional.pad(images, (p, p, p, p), mode="reflect")
    height, width = images.shape[-2:]
    shifted = padded[..., p - dy:p - dy + height, p - dx:p - dx + width]
    return type(batch)([shifted, *batch[1:]]) if isinstance(batch, (list, tuple)) else shifted


def mirror_batch(batch: Batch | torch.Tensor) -> Batch | torch.Tensor:
    """The batch with its images (tensors (N, C, H, W), the batch's first item) mirrored left to right."""
    if isinstance(batch, (list, tuple)):
        return type(batch)([batch[0].flip(-1), *batch[1:]])
    return batch.flip(-1)
