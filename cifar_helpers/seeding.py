"""One call to make a run repeatable."""

import random

import numpy as np
import torch


def set_seed(seed):
    """Seed Python's, numpy's and PyTorch's (CPU and CUDA) random generators with ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a whole number >= 0, such as 0.")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
