"""Save and load checkpoints atomically: a crash while saving never spoils the previous file."""

import os
from pathlib import Path

import torch


def save_checkpoint(payload, path):
    """Write ``payload`` with torch.save to a temporary file beside ``path``, then rename it.

    os.replace is atomic on POSIX and Windows: a reader sees the old file or the new one,
    never half of one, even if the process is killed mid-write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
