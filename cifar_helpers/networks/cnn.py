"""The tutorial's CNN (the seed's API: forward(batch), loss) and the same network in plain PyTorch (PlainCNN).

Both are exactly as notebook 03 presents them (tests/test_notebooks.py keeps them equal)."""

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .dropout import FastDropout
from ..training.model import Model


class CNN(Model):
    """Two convolution + pooling stages, then three fully connected layers, for 10 classes."""

    def __init__(self, dropout=0.3):
        super().__init__()
        if not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:  # "0.3", text, is not a number
            raise ValueError(f"dropout={dropout!r} must be a number in [0, 1), such as 0.3.")
        self.dropout = FastDropout(dropout)    # nn.Dropout, faster on a CPU: zeroes input pixels while training
        self.conv1 = nn.Conv2d(3, 6, 5)        # 3x32x32 -> 6x28x28
        self.pool = nn.MaxPool2d(2, 2)         # halves height and width
        self.conv2 = nn.Conv2d(6, 16, 5)       # 6x14x14 -> 16x10x10
        self.fc1 = nn.Linear(16 * 5 * 5, 120)  # 16x5x5 = 400 numbers per image
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)           # one score per class

    def forward(self, batch):
        x, _ = batch                           # a batch is (images, labels): use the images
        x = self.dropout(x)
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return F.log_softmax(self.fc3(x), dim=1)

    def loss(self, output, batch):
        _, labels = batch
        return F.nll_loss(output, labels)


class PlainCNN(nn.Module):
    """The same network in plain PyTorch: ``forward(images)`` returns 10 scores per image (logits)."""

    def __init__(self, dropout=0.3):
        super().__init__()
        self.dropout = nn.Dropout(dropout)     # no weights: CNN's state_dict loads into this network as it is
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, images):
        x = self.dropout(images)
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)                     # scores: F.cross_entropy applies log_softmax itself
