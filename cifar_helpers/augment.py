"""Data augmentation: new views of the same images, for training, and extra looks at test time.

A horse facing left mirrored is a horse facing right: still a horse, and an image the network
has not seen; the same horse two pixels further left is one too. Standard for CIFAR-10:

* `RandomFlip` (training): mirrors each uint8 image (N, H, W, C) of a batch with probability
  ``p`` (one half by default).
* `RandomCrop` (training): shifts each image by up to ``pad`` pixels, filling the edge by
  reflection (a crop of the padded image).
  Both run in the background loader, before `batch_to_tensors`, vectorised over the batch, and
  draw from their own seeded generator, so a seeded run repeats exactly.
* `mirror_batch`, `shift_batch` (testing): the mirror, or a shifted copy, of a batch of float
  tensors (N, C, H, W). ``Model.evaluate_with_metrics(..., mirror=True)`` runs the network on
  an image and its mirror and averages the two outputs ("test-time augmentation").
"""

import numpy as np
import torch

from .checks import batch_inputs, real_number, whole_number


class RandomFlip:
    """A loader step: (images, labels, ...) -> the same batch with each image mirrored with probability p."""

    def __init__(self, p=0.5, seed=None):
        self.p = real_number(p, "p", 0.5, low=0, high=1)
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch):
        images, *rest = batch
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):  # (N, 3, H, W) would flip upside down
            raise ValueError(f"RandomFlip wants uint8 images (N, H, W, C), got shape {images.shape}: "
                             "apply it before batch_to_tensors.")
        flip = self.rng.random(len(images)) < self.p
        mirrored = images.copy()  # the caller's array stays as it was
        mirrored[flip] = images[flip, :, ::-1]  # 4x faster than np.where over the whole batch
        images = mirrored
        return type(batch)([images, *rest]) if isinstance(batch, (list, tuple)) else (images, *rest)

    def __repr__(self):
        return f"RandomFlip(p={self.p})"


class RandomCrop:
    """A loader step: (images, labels, ...) -> each uint8 image (N, H, W, C) shifted by up to ``pad`` pixels."""

    def __init__(self, pad=2, seed=None):
        self.pad = whole_number(pad, "pad", 2)
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch):
        images, *rest = batch
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"RandomCrop wants uint8 images (N, H, W, C), got shape {images.shape}: "
                             "apply it before batch_to_tensors.")
        n, height, width, _ = images.shape
        p = self.pad
        padded = np.pad(images, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
        # Every (height x width) window of every padded image, as a view: (N, 2p+1, 2p+1, C, H, W).
        windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(1, 2))
        dy, dx = self.rng.integers(0, 2 * p + 1, size=(2, n))
        cropped = np.ascontiguousarray(windows[np.arange(n), dy, dx].transpose(0, 2, 3, 1))  # one gather
        return type(batch)([cropped, *rest]) if isinstance(batch, (list, tuple)) else (cropped, *rest)

    def __repr__(self):
        return f"RandomCrop(pad={self.pad})"


def shift_batch(batch, dy, dx):
    """The batch with its images (tensors (N, C, H, W)) shifted ``dy`` rows and ``dx`` columns, edges reflected."""
    images = batch_inputs(batch)
    p = max(abs(dy), abs(dx))
    padded = torch.nn.functional.pad(images, (p, p, p, p), mode="reflect")
    height, width = images.shape[-2:]
    shifted = padded[..., p - dy:p - dy + height, p - dx:p - dx + width]
    return type(batch)([shifted, *batch[1:]]) if isinstance(batch, (list, tuple)) else shifted


def mirror_batch(batch):
    """The batch with its images (tensors (N, C, H, W), the batch's first item) mirrored left to right."""
    if isinstance(batch, (list, tuple)):
        return type(batch)([batch[0].flip(-1), *batch[1:]])
    return batch.flip(-1)
