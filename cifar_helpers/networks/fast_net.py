"""`FastNet`: the network of notebook 6, after Keller Jordan's airbench94 (github.com/KellerJordan/cifar10-airbench).

A 2 x 2 convolution first looks at tiny patches; `FastNet.whiten` sets it from the training
images so that its outputs are uncorrelated and of equal spread ("whitened"), and freezes it.
Then three stages of two 3 x 3 convolutions each, with batch normalisation and GELU; each stage
halves the image with max pooling while the channels grow (``widths``). A single linear layer
reads the 10 class scores at the end. airbench94's widths (64, 256, 256) reach 94% in seconds on
a GPU. `FastNet` computes in bfloat16 (autocast) where the hardware does that fast
(`fast_bfloat16`, in core/device.py): on a recent GPU, and on a CPU with Intel's AMX units, where a
training step is about three times faster than in float32. Elsewhere it computes in float32 unless
told otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core.batch import Batch
from ..core.device import fast_bfloat16
from ..core.validation import flag, whole_number
from ..training.model import Model


def check_widths(value: object, name: str = "widths") -> tuple[int, int, int]:
    """Three channel counts (text such as "32,128,128" too), else a ValueError naming ``name``."""
    given = value.strip("()[] ").replace(",", " ").split() if isinstance(value, str) else value  # "32,128,128"
    widths = tuple(given) if isinstance(given, (list, tuple)) else None
    if widths is None or len(widths) != 3:
        raise ValueError(f"{name}={value!r} must be three channel counts, such as (32, 128, 128).")
    return tuple(whole_number(w, name, 128) for w in widths)


def default_widths(bfloat16: bool) -> tuple[int, int, int]:
    """Notebook 6's widths for the compute at hand: airbench94's (64, 256, 256) where bfloat16 is fast,
    else (32, 96, 192), a quarter of the multiply-adds, so that a 2-core CPU computing in float32
    trains the same 10 epochs in about a quarter of an hour instead of an hour."""
    return (64, 256, 256) if bfloat16 else (32, 96, 192)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """Batch normalisation with its scale fixed at 1 (the next convolution can scale) and a learned shift."""
    norm = nn.BatchNorm2d(channels, eps=1e-12, momentum=0.4)
    norm.weight.requires_grad_(False)
    return norm


def conv3x3(channels_in: int, channels_out: int) -> nn.Conv2d:
    """A 3 x 3 convolution whose first output channels start as copies of its input channels."""
    conv = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[:channels_in])  # identity at first: the signal passes through unharmed
    return conv


def conv_group(channels_in: int, channels_out: int) -> nn.Sequential:
    """conv 3x3 -> max pool (halves height and width) -> batch norm -> GELU -> conv 3x3 -> batch norm -> GELU."""
    return nn.Sequential(
        conv3x3(channels_in, channels_out),
        nn.MaxPool2d(2),
        batch_norm(channels_out),
        nn.GELU(),
        conv3x3(channels_out, channels_out),
        batch_norm(channels_out),
        nn.GELU(),
    )


class FastNet(Model):
    """airbench94's network with channel ``widths`` for its three stages; returns class scores (logits)."""

    def __init__(self, widths: Sequence[int] = (64, 256, 256), label_smoothing: float = 0.2,
                 bfloat16: bool | None = None) -> None:
        """bfloat16: compute in bfloat16 (True), in float32 (False), or where that is fast (None, `fast_bfloat16`)."""
        super().__init__()
        widths = check_widths(widths)
        self.label_smoothing = label_smoothing
        self.bfloat16 = None if bfloat16 is None else flag(bfloat16, "bfloat16")
        self.patches = nn.Conv2d(3, 24, kernel_size=2)          # 3x32x32 -> 24x31x31: 2x2 patches
        self.stages = nn.Sequential(conv_group(24, widths[0]),  # -> widths[0] x 15 x 15
                                    conv_group(widths[0], widths[1]),  # -> widths[1] x 7 x 7
                                    conv_group(widths[1], widths[2]))  # -> widths[2] x 3 x 3
        self.head = nn.Linear(widths[2], 10, bias=False)
        with torch.no_grad():
            self.head.weight /= self.head.weight.std()           # spread 1; forward divides the scores

    def forward(self, batch: Batch) -> torch.Tensor:
        x, _ = batch
        fast = fast_bfloat16(x.device) if self.bfloat16 is None else self.bfloat16
        # 8 significant bits instead of 24: plenty here. (A device autocast does not know stays out of it.)
        with torch.autocast(x.device.type, dtype=torch.bfloat16) if fast else contextlib.nullcontext():
            x = self.stages(F.gelu(self.patches(x)))
            x = F.max_pool2d(x, 3).flatten(1)                   # one number per channel
            scores = self.head(x) / x.size(1)                   # small scores at the start: calm first steps
        return scores.float()

    @torch.no_grad()
    def whiten(self, images: torch.Tensor, eps: float = 5e-4) -> FastNet:
        """Set the patch layer from ``images`` (float (N, 3, H, W), a few thousand) so that it whitens, and freeze it.

        The 12 numbers of a 2 x 2 colour patch are strongly correlated (neighbouring pixels look
        alike). Their covariance's eigenvectors, scaled by 1 / sqrt(eigenvalue), turn them into
        12 uncorrelated numbers of spread 1; the layer computes those and their negatives (24
        channels, so that GELU lets both signs through). Its bias stays trainable.
        """
        size = self.patches.kernel_size[0]
        patches = images.float().unfold(2, size, 1).unfold(3, size, 1)    # (N, 3, H', W', 2, 2)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * size * size)
        covariance = patches.T @ patches / len(patches)
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).reshape(-1, 3, size, size)
        weight = self.patches.weight
        weight.copy_(torch.cat((filters, -filters)).to(weight))
        weight.requires_grad_(False)
        return self

    def norm_biases(self) -> list[nn.Parameter]:
        """The batch norms' shifts: few numbers that move slowly, so notebook 6 gives them larger steps."""
        return [module.bias for module in self.modules() if isinstance(module, nn.BatchNorm2d)]

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        _, labels = batch
        return F.cross_entropy(output, labels, label_smoothing=self.label_smoothing)
