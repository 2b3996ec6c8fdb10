"""`Muon`: momentum, then orthogonalise. The optimizer airbench94 trains its convolution filters with.

SGD moves a layer's filters along their gradient. In a convolution a few directions of that
gradient dominate, so most directions barely move in a short training. Muon (Keller Jordan, 2024:
kellerjordan.github.io/posts/muon, github.com/KellerJordan/cifar10-airbench) keeps SGD's
momentum, views the averaged gradient G of a layer as a matrix (output channels x the rest), and
steps along the orthogonal matrix closest to it instead: U V^T from G's singular value
decomposition, where every direction has the same size. A few Newton-Schulz iterations (a handful
of matrix products) approximate U V^T without an SVD. Before each step the filters are scaled
back to a fixed norm, so the learning rate is the size of a step relative to the weights.

Orthogonalising suits weight matrices and convolution filters only. Biases, batch-norm shifts
and, in airbench, the classifier get SGD with Nesterov momentum instead: put them in a parameter
group with ``"orthogonalise": False`` (and their own ``lr``, ``momentum``, ``weight_decay``), so
that one optimizer, and one learning-rate schedule, trains the whole model.

PyTorch has ``torch.optim.Muon`` since 2.9, but it takes 2-D matrices only, not 4-D
convolution filters, and does not rescale the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from ..core.device import fast_bfloat16
from ..core.validation import flag, real_number, whole_number

if TYPE_CHECKING:
    from torch.optim.optimizer import ParamsT

# Coefficients of the quintic Newton-Schulz iteration, chosen to push small singular values up fast.
_A, _B, _C = 3.4445, -4.7750, 2.0315


def orthogonalise(matrix: torch.Tensor, steps: int = 3, eps: float = 1e-7) -> torch.Tensor:
    """About U V^T for ``matrix`` = U S V^T: every singular value moved near 1 (0.5 to 1.5 suffice)."""
    # bfloat16 on an accelerator that computes it natively, as airbench94 does on a GPU; on the CPU
    # float32 (AMX gains little on matrices this small, and float32 is the iteration's safe side)
    x = matrix.bfloat16() if matrix.device.type != "cpu" and fast_bfloat16(matrix.device) else matrix.float()
    x = x / (x.norm() + eps)  # singular values at most 1, where the iteration converges
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T  # the products below are then on the smaller side
    for _ in range(steps):
        gram = x @ x.T
        x = _A * x + (_B * gram + _C * gram @ gram) @ x
    return (x.T if tall else x).to(matrix.dtype)


class Muon(torch.optim.Optimizer):
    """Muon for weight matrices and filters; SGD with momentum for groups marked ``orthogonalise=False``.

    lr: for Muon, the size of each step relative to the (fixed-norm) weights, 0.24 in airbench94;
        for SGD groups, SGD's learning rate.
    momentum, nesterov: momentum on the gradients (for Muon, before orthogonalising).
    weight_decay: SGD groups only (Muon's rescaling already keeps the weights' size fixed).
    steps: Newton-Schulz iterations per step (3 suffice when the rate decays to 0).
    """

    def __init__(self, params: ParamsT, lr: float = 0.24, momentum: float = 0.6, nesterov: bool = True,
                 weight_decay: float = 0.0, steps: int = 3) -> None:
        defaults = {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay,
                    "steps": steps, "orthogonalise": True}
        super().__init__(params, defaults)
        for group in self.param_groups:
            group["lr"] = real_number(group["lr"], "lr", 0.24, low=0)
            group["momentum"] = real_number(group["momentum"], "momentum", 0.6, low=0, high=1, high_open=True)
            group["weight_decay"] = real_number(group["weight_decay"], "weight_decay", 0.0, low=0)
            group["steps"] = whole_number(group["steps"], "steps", 3)
            group["nesterov"] = flag(group["nesterov"], "nesterov")
            group["orthogonalise"] = flag(group["orthogonalise"], "orthogonalise")
            if group["orthogonalise"] and any(p.ndim < 2 for p in group["params"]):
                shape = next(tuple(p.shape) for p in group["params"] if p.ndim < 2)
                raise ValueError(f"Muon got a parameter of shape {shape} to orthogonalise: only matrices and filters "
                                 "can be; put biases and norms in a group with 'orthogonalise': False.")

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            momentum, orthogonal = group["momentum"], group["orthogonalise"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                gradient = p.grad
                if group["weight_decay"] and not orthogonal:
                    gradient = gradient.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(gradient)
                average = state["momentum_buffer"].mul_(momentum).add_(gradient)
                direction = gradient.add(average, alpha=momentum) if group["nesterov"] else average
                if orthogonal:
                    # Each output channel of norm 1 on average. A filter bank of zeros has no size to
                    # restore (0 times the scale, sqrt(n) / 0, is NaN): it keeps its zeros and takes the step.
                    norm = p.norm()
                    p.mul_(torch.where(norm > 0, len(p) ** 0.5 / norm, 1.0))
                    direction = orthogonalise(direction.flatten(1), group["steps"]).view_as(p)
                p.add_(direction, alpha=-group["lr"])
        return loss
