"""What learn, evaluate and predict are given: a batch or an optimizer that does not fit gets one line
naming the fix, instead of an error from deep inside PyTorch."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from ..core.batch import Array, Batch
from ..core.validation import batch_inputs


def check_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """A torch.optim optimizer that updates at least one of ``model``'s parameters, else one line saying why."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer={optimizer!r} is not a torch.optim optimizer: "
                        "pass one such as torch.optim.Adam(model.parameters(), lr=1e-3).")
    mine = {id(p) for p in model.parameters()}
    if mine and not any(id(p) in mine for group in optimizer.param_groups for p in group["params"]):
        raise ValueError("the optimizer updates none of this model's parameters (was it made for another "
                         "model?): make it from this one, torch.optim.Adam(model.parameters(), ...).")


def check_batch(model: nn.Module, batch: Batch | Array, where: str) -> None:
    """The first batch of ``where`` (such as "learn(dataset)"): tensors on the model's device, labels
    that are class indices; else one line naming the fix."""
    inputs = batch_inputs(batch)
    if isinstance(inputs, np.ndarray) and where == "predict(batch)":
        raise TypeError(f"predict(batch): its images are a numpy array ({inputs.dtype}, shape {inputs.shape}), "
                        "and the model takes tensors: model.predict(batch_to_tensors((images, labels))).")
    if isinstance(inputs, np.ndarray):
        raise TypeError("the batches hold numpy arrays, and the model needs tensors: convert them as they "
                        "load, AsyncDataLoader(dataset, on_batch_loaded=batch_to_tensors).")
    param = next(model.parameters(), None)
    if isinstance(inputs, torch.Tensor) and param is not None and inputs.device != param.device:
        raise RuntimeError(f"the batches are on {inputs.device} but the model is on {param.device}: "
                           f"move the model with model.to({str(inputs.device)!r}), or load the batches "
                           f"onto {param.device}.")
    check_labels(batch, where)


def check_not_shuffled(dataset: Iterable[Batch]) -> None:
    """predict_dataset's outputs line up with the samples only in their stored order."""
    layers = (dataset, getattr(dataset, "dataset", None))  # also inside an AsyncDataLoader
    shuffled_loader = any(isinstance(getattr(d, "sampler", None), torch.utils.data.RandomSampler) for d in layers)
    if shuffled_loader or any(getattr(d, "shuffle", False) is True for d in layers):
        raise ValueError("predict_dataset: this dataset shuffles its samples, so the outputs would not line "
                         "up with your labels; make it with DataSet(..., shuffle=False) (or a DataLoader "
                         "with shuffle=False).")


def batch_size(batch: Batch | Array) -> int:
    return len(batch_inputs(batch))


def check_labels(batch: Batch | Array, where: str) -> None:
    """A batch's labels are class indices, one per image; one-hot rows (as Keras uses) get one line naming the fix."""
    labels = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
    if getattr(labels, "ndim", 0) >= 2:
        raise ValueError(f"{where}: its labels have shape {tuple(labels.shape)}, a row per image (one-hot?), and "
                         "the lesson's batches hold class indices, one per image: labels.argmax(1) gives them.")


def batch_problem(batch: object, where: str) -> Exception | None:
    """What makes ``batch`` unfit for the lesson's networks, which take (images (N, 3, 32, 32), labels)
    as batch_to_tensors gives: an exception with one line naming the fix, or None if it looks fit."""
    if not isinstance(batch, (tuple, list)):
        return TypeError(f"{where}: a batch is (images, labels), as a DataSet gives, not a {type(batch).__name__} "
                         "alone: pass (images, labels), or (images, None).")
    images = batch[0]
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        kind = f"a {type(images).__name__}" if not isinstance(images, torch.Tensor) else f"{images.dtype} pixels"
        return TypeError(f"{where}: its images are {kind}, and the network takes normalised float tensors: "
                         "convert the batch with batch_to_tensors((images, labels)).")
    shape = tuple(images.shape)
    if shape[1:] == (3, 32, 32):
        return None
    if shape == (3, 32, 32):
        fix = "one image is a batch of one, images[None]"
    elif len(shape) == 4 and shape[1:] == (32, 32, 3):
        fix = "the colour channels come last; images.permute(0, 3, 1, 2) puts them first, as batch_to_tensors does"
    else:
        fix = "make each picture 32 x 32 pixels of RGB first (lesson.widgets.to_network_input does so for any picture)"
    return ValueError(f"{where}: its images have shape {shape}, and the network takes CIFAR-10 images, "
                      f"(N, 3, 32, 32): {fix}.")
