"""One call to make a run repeatable."""

from __future__ import annotations

import random

import numpy as np
import torch

from .validation import whole_number


def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and PyTorch's (CPU and CUDA) random generators with ``seed``."""
    seed = whole_number(seed, "seed", 0, minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
