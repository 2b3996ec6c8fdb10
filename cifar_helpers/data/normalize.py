"""From a batch of uint8 images to the normalised float tensors a network wants, and back.

Images stay uint8 (N, 32, 32, 3) until a batch is formed: the training set is 150 MB that way and
600 MB as float32. `batch_to_tensors` turns one batch into float (N, 3, 32, 32) tensors with zero
mean and unit variance per channel, on the device that trains.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..core.batch import Batch
from ..core.device import pins_memory

# Per-channel mean and standard deviation of the CIFAR-10 training images, pixels scaled to [0, 1]
# (notebook 01 computes them).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# (x / 255 - mean) / std  ==  x * SCALE - SHIFT, one multiply and one subtract per pixel.
_SCALE = (1.0 / (255.0 * np.asarray(CIFAR10_STD, dtype=np.float32))).astype(np.float32)
_SHIFT = (np.asarray(CIFAR10_MEAN, dtype=np.float32) / np.asarray(CIFAR10_STD, dtype=np.float32))
# A pixel has only 256 values, so the CPU looks the answer up: _TABLE[c][v] is value v of channel c,
# normalised. One lookup per pixel is faster than numpy's convert, multiply and subtract.
_TABLE = np.ascontiguousarray((np.arange(256, dtype=np.float32)[:, None] * _SCALE - _SHIFT).T)


def batch_to_tensors(batch: Batch, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 images (N, 32, 32, 3), labels) -> (float images (N, 3, 32, 32), int64 labels) on ``device``.

    The float images keep the pixels' channels-last order in memory (``permute`` changes the
    shape, not the memory): PyTorch's convolutions run faster on that layout on a CPU. On the
    CPU the work is a numpy table lookup on one thread, so it can run in a background loader
    without fighting PyTorch's own threads. On a GPU the uint8 batch (4x
    smaller than float) is copied from pinned memory without blocking, then normalised there;
    a batch of uint8 tensors already on the GPU (notebook 6 keeps its training images there) is
    normalised where it is.
    """
    images, labels = batch
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
    if images.dtype not in (np.uint8, torch.uint8):
        raise TypeError(f"batch_to_tensors: images are {images.dtype}, expected uint8 pixels 0-255 "
                        "(as load_cifar10 gives); convert with .astype(np.uint8).")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"batch_to_tensors: images have shape {tuple(images.shape)}, expected RGB images "
                         "(N, height, width, 3) as load_cifar10 gives.")
    device = torch.device(device)
    labels = labels.to(torch.int64) if isinstance(labels, torch.Tensor) else torch.as_tensor(
        np.asarray(labels), dtype=torch.int64)
    if device.type == "cpu":
        images = images.cpu().numpy() if isinstance(images, torch.Tensor) else images
        x = np.empty(images.shape, dtype=np.float32)
        for c in range(3):
            np.take(_TABLE[c], images[..., c], out=x[..., c])
        return torch.from_numpy(x).permute(0, 3, 1, 2), labels.cpu()
    x = torch.as_tensor(images)
    if pins_memory(device.type):  # pinned host memory: the copy to the accelerator need not wait
        x, labels = (t.pin_memory() if t.device.type == "cpu" else t for t in (x, labels))
    return _normalise(x.to(device, non_blocking=True)), labels.to(device, non_blocking=True)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) tensor -> normalised float (N, 3, H, W), channels last, on x's device."""
    scale, shift = _constants_on(x.device)
    return x.float().mul_(scale).sub_(shift).permute(0, 3, 1, 2)


@functools.cache
def _constants_on(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalisation constants as tensors on ``device``, copied there once, not per batch."""
    return torch.as_tensor(_SCALE, device=device), torch.as_tensor(_SHIFT, device=device)


def to_images(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Undo the normalisation: float (N, 3, 32, 32) or (3, 32, 32) -> numpy (N, 32, 32, 3) in [0, 1]."""
    x = torch.as_tensor(x).detach().float().cpu()
    mean = torch.tensor(CIFAR10_MEAN)[:, None, None]
    std = torch.tensor(CIFAR10_STD)[:, None, None]
    x = (x * std + mean).clamp_(0, 1)
    return x.movedim(-3, -1).numpy()
