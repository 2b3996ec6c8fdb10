"""Save and load checkpoints atomically: a crash or a full disk while saving never spoils the previous file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.files import atomic_write


def save_checkpoint(payload: object, path: str | os.PathLike) -> Path:
    """Write ``payload`` with torch.save to ``path`` atomically (see `atomic_write`); return the path."""
    with atomic_write(path, what="checkpoint") as f:
        torch.save(payload, f)
    return Path(path)


def plain_data(value: object, where: str) -> object:
    """``value`` (a history: lists and dicts) with numpy and one-number torch values made Python numbers.

    Checkpoints are loaded with ``weights_only=True``, which accepts tensors and plain data only:
    a numpy number that a plugin put into a history record would make the saved file unreadable.
    Anything else that is not plain data is a TypeError naming where it is, before anything is written.
    """
    if isinstance(value, dict):
        return {key: plain_data(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain_data(item, f"{where}[{i}]") for i, item in enumerate(value))
    if isinstance(value, (np.generic, torch.Tensor)) and getattr(value, "ndim", 0) == 0:
        return value.item()  # before the plain types: np.float64 is a float, yet weights_only refuses it
    if value is None or type(value) in (bool, int, float, str):
        return value
    for kind in (bool, int, float, str):  # a subclass (an IntEnum, say) as its plain type
        if isinstance(value, kind):
            return kind(value)
    raise TypeError(f"{where} is a {type(value).__name__}: a history record holds plain numbers and text; "
                    "store float(value) instead.")


def load_checkpoint(path: str | os.PathLike, into: nn.Module | None = None) -> Any:
    """Load a checkpoint onto the CPU, whatever device saved it; only tensors and plain data.

    into: a `Model` the checkpoint is meant for: a file that `Model.save` did not write, or that
    holds another architecture or weights of other shapes, is refused with one line, before
    anything is loaded (load_state_dict would copy what fits, then fail).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train a model first (notebook 04) or fix the path.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint ({type(error).__name__}); "
                         "train again to write a fresh one.") from None
    if into is not None:
        _check_fits(checkpoint, into, path)
    return checkpoint


def _check_fits(checkpoint: object, model: nn.Module, path: Path) -> None:
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ValueError(f"{path} was not written by Model.save: it has no state_dict.")
    architecture, mine = checkpoint.get("architecture"), type(model).__name__
    if architecture != mine:
        raise ValueError(f"{path} holds a {architecture} checkpoint, not a {mine}: load it into a "
                         f"{architecture}, or train this {mine} and save it.")
    ours, theirs = model.state_dict(), checkpoint["state_dict"]
    misfits = sorted(name for name in ours.keys() | theirs.keys()
                     if name not in ours or name not in theirs or ours[name].shape != theirs[name].shape)
    if misfits:
        shapes = [tuple(sd[misfits[0]].shape) if misfits[0] in sd else "missing" for sd in (theirs, ours)]
        raise ValueError(f"{path} holds {mine} weights of other shapes ({misfits[0]}: {shapes[0]} in the file, "
                         f"{shapes[1]} here): build the model with the settings it was trained with.")
