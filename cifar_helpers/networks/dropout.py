"""`FastDropout`: `nn.Dropout` with the same maths, faster on a CPU.

On a CPU, PyTorch draws dropout's random mask with `bernoulli_`, which produces one random number
at a time: for the tutorial CNN that is a large share of a training step. `torch.rand_like` fills
a tensor with vectorised code, and "uniform number below 1 - p" is a keep-mask with exactly the
same probabilities (benchmarks/RESULTS.md has the timings). Everywhere else
(evaluation mode, p = 0, GPUs, in-place use, half precision, whose few bits would distort
the probabilities) it is `nn.Dropout` unchanged.
"""

from __future__ import annotations

import torch
from torch import nn


class FastDropout(nn.Dropout):
    """Zero each input element with probability ``p`` while training and scale the rest by 1 / (1 - p)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and 0 < self.p < 1 and x.device.type == "cpu" and not self.inplace
                and x.dtype in (torch.float32, torch.float64)):  # bfloat16 draws too coarsely
            return super().forward(x)
        keep = 1.0 - self.p
        return x * torch.rand_like(x).lt_(keep).mul_(1.0 / keep)
