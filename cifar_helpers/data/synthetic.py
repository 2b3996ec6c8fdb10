"""A small made-up stand-in for CIFAR-10, for offline demos and tests.

Each class has its own colour layout (a 4x4 grid of random colours, scaled up to 32x32); an image
is its class layout, shifted by a few pixels, with a random brightness and pixel noise. A small CNN
learns it in one epoch, so a quick run shows the whole lesson working. It is not CIFAR-10:
`load_cifar10` announces it every time.
"""

from __future__ import annotations

import numpy as np

SYNTHETIC_SIZES = {"train": 2000, "test": 500}


def make_synthetic_cifar10(split: str = "train", size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 (N, 32, 32, 3), labels int64 (N,)), the same on every call."""
    size = SYNTHETIC_SIZES[split] if size is None else size
    layouts = np.random.default_rng(10).integers(0, 256, size=(10, 4, 4, 3)).astype(np.float32)
    layouts = layouts.repeat(8, axis=1).repeat(8, axis=2)  # (10, 32, 32, 3)

    rng = np.random.default_rng(0 if split == "train" else 1)
    labels = rng.integers(0, 10, size=size).astype(np.int64)
    shifts = rng.integers(-3, 4, size=(size, 2))
    brightness = rng.uniform(0.7, 1.3, size=(size, 1, 1, 1)).astype(np.float32)
    noise = rng.normal(0, 25, size=(size, 32, 32, 3)).astype(np.float32)

    images = np.empty((size, 32, 32, 3), dtype=np.float32)
    for i, (dy, dx) in enumerate(shifts):
        images[i] = np.roll(layouts[labels[i]], (dy, dx), axis=(0, 1))
    images = images * brightness + noise
    return np.clip(images, 0, 255).astype(np.uint8), labels
