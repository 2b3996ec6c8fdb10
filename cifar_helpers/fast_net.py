"""`FastNet`: the network of notebook 6, after Keller Jordan's airbench94 (github.com/KellerJordan/cifar10-airbench).

Three stages of two 3 x 3 convolutions each, with batch normalisation and GELU; each stage
halves the image with max pooling while the channels grow (``widths``). A 2 x 2 convolution
first looks at tiny patches, and a single linear layer reads the 10 class scores at the end.
airbench94 (widths 64, 256, 256) reaches 94% in 3.3 seconds on an A100; narrower widths trade
accuracy for speed, which is what a laptop CPU needs.
"""

import torch.nn.functional as F
from torch import nn

from .model import Model
from .parameters import check_widths


def batch_norm(channels):
    """Batch normalisation with its scale fixed at 1 (the next convolution can scale) and a learned shift."""
    norm = nn.BatchNorm2d(channels, momentum=0.4)
    norm.weight.requires_grad_(False)
    return norm


def conv_group(channels_in, channels_out):
    """conv 3x3 -> max pool (halves height and width) -> batch norm -> GELU -> conv 3x3 -> batch norm -> GELU."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        batch_norm(channels_out),
        nn.GELU(),
        nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False),
        batch_norm(channels_out),
        nn.GELU(),
    )


class FastNet(Model):
    """airbench94's network with channel ``widths`` for its three stages; returns class scores (logits)."""

    def __init__(self, widths=(64, 256, 256), label_smoothing=0.2):
        super().__init__()
        widths = check_widths(widths)
        self.label_smoothing = label_smoothing
        self.patches = nn.Conv2d(3, 24, kernel_size=2)          # 3x32x32 -> 24x31x31: 2x2 patches
        self.stages = nn.Sequential(conv_group(24, widths[0]),  # -> widths[0] x 15 x 15
                                    conv_group(widths[0], widths[1]),  # -> widths[1] x 7 x 7
                                    conv_group(widths[1], widths[2]))  # -> widths[2] x 3 x 3
        self.head = nn.Linear(widths[2], 10, bias=False)

    def forward(self, batch):
        x, _ = batch
        x = self.stages(F.gelu(self.patches(x)))
        x = F.max_pool2d(x, 3).flatten(1)                       # one number per channel
        return self.head(x) / 9                                 # small scores at the start: calm first steps

    def norm_biases(self):
        """The batch norms' shifts: few numbers that move slowly, so notebook 6 gives them larger steps."""
        return [module.bias for module in self.modules() if isinstance(module, nn.BatchNorm2d)]

    def loss(self, output, batch):
        _, labels = batch
        return F.cross_entropy(output, labels, label_smoothing=self.label_smoothing)
