"""Save and load checkpoints atomically: a crash or a full disk while saving never spoils the previous file."""

from pathlib import Path

import torch

from .files import atomic_write


def save_checkpoint(payload, path):
    """Write ``payload`` with torch.save to ``path`` atomically (see `atomic_write`); return the path."""
    with atomic_write(path, what="checkpoint") as f:
        torch.save(payload, f)
    return Path(path)


def load_checkpoint(path):
    """Load a checkpoint onto the CPU, whatever device saved it; only tensors and plain data."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train a model first (notebook 04) or fix the path.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint ({type(error).__name__}); "
                         "train again to write a fresh one.") from None
