"""The checks of notebook 3. The model."""

from __future__ import annotations

import math
from typing import Any

from ...core.batch import Batch
from . import Verdict, _unanswered, exercise, missing, right, wrong


@exercise("3.1")
def _twelve_filters(model: Any, parameters: Any, batch: Batch) -> Verdict:
    if _unanswered(model, parameters):
        return missing("build the network with 12 conv1 filters (model) and count its parameters (parameters).")
    if getattr(getattr(model, "conv1", None), "out_channels", None) != 12:
        return wrong("conv1 should have 12 filters: nn.Conv2d(3, 12, 5).")
    try:
        model.eval()(batch)
    except RuntimeError:
        return wrong("the network fails on a batch: conv2 still expects the 6 channels that conv1 used to give.")
    expected = sum(p.numel() for p in model.parameters())
    if parameters != expected:
        return wrong("count every weight and bias: sum(p.numel() for p in model.parameters()).")
    return right(f"{expected:,} parameters: conv2 must take 12 channels too, which adds 6 x 5 x 5 weights to "
                 "each of its 16 filters.")


@exercise("3.2")
def _three_by_three(fc1_inputs: Any) -> Verdict:
    if _unanswered(fc1_inputs):
        return missing("set fc1_inputs to the number of inputs fc1 needs with a 3 x 3 conv1.")
    if fc1_inputs == 400:
        return right("32 -> 30 (3x3) -> 15 (pool) -> 11 (5x5) -> 5 (pool, 11 / 2 rounded down): still "
                     "16 x 5 x 5 = 400. fc1 need not change.")
    if fc1_inputs in (16 * 6 * 6, 576):
        return wrong("max pooling of an odd size rounds down: what is 11 // 2?")
    return wrong("follow the height: a k x k convolution without padding takes k - 1 pixels, pooling halves "
                 "(rounding down); then multiply channels x height x width.")


@exercise("3.3")
def _zeroed_loss(zeroed_loss: Any) -> Verdict:
    if _unanswered(zeroed_loss):
        return missing("set zeroed_loss to the loss of the network with fc3's weights and bias set to zero.")
    # Exactly ln 10: to float32's rounding (well under 5e-6), or as printed, 2.3026. With only the weights or
    # only the bias zeroed the scores still differ between classes, and the loss lies near ln 10, not on it.
    if abs(zeroed_loss - math.log(10)) < 5e-6 or abs(zeroed_loss - 2.3026) < 1e-6:
        return right(f"{zeroed_loss:.4f} = ln 10 exactly: every score is 0, so every class gets probability "
                     "1/10 whatever the image.")
    return wrong("zero both fc3.weight and fc3.bias (under torch.no_grad()), then evaluate as above.")
