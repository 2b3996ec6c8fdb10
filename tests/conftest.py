"""Shared fixtures for the unit tests: tiny data, a tiny model, a headless, offline environment."""

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: no windows, no display needed

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cifar_helpers import DataSet, Model, batch_to_tensors, load_cifar10

torch.set_num_threads(1)  # a 2-core machine: tiny models gain nothing from more threads


@pytest.fixture(autouse=True)
def quiet_headless_env(monkeypatch, tmp_path):
    """Every test: Agg backend, headless, and caches under tmp_path, never in ~/.cache."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("CIFAR_HEADLESS", "1")
    (tmp_path / "home").mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def synthetic_train():
    """256 synthetic training images (uint8 NHWC) and labels."""
    return load_cifar10("train", source="synthetic", subset=256, seed=0, verbose=False)


@pytest.fixture(scope="session")
def synthetic_tensors(synthetic_train):
    """The same images as normalised float tensors (N, 3, 32, 32) and int64 labels."""
    return batch_to_tensors((synthetic_train.images, synthetic_train.labels))


@pytest.fixture
def make_dataset(synthetic_tensors):
    """make_dataset(n, batch_size, **kw): a DataSet of the first n synthetic tensors, in order unless shuffle=True."""
    def make(n=64, batch_size=16, shuffle=False, **kwargs):
        x, y = synthetic_tensors
        return DataSet([x[:n], y[:n]], batch_size=batch_size, shuffle=shuffle, **kwargs)
    return make


class TinyNet(Model):
    """A linear classifier on the flattened image: enough to learn, fast to train."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)

    def forward(self, batch):
        return F.log_softmax(self.fc(batch[0].flatten(1)), dim=1)

    def loss(self, output, batch):
        return F.nll_loss(output, batch[1])


@pytest.fixture
def losses_of():
    """losses_of(model, dataset, optimizer, max_epochs=2): train and return every batch's loss, in order."""
    def train(model, dataset, optimizer, max_epochs=2):
        losses = []
        model.register_plugin(lambda loss, **_: losses.append(loss.item()), "before_backward")
        model.learn(dataset, optimizer, max_epochs=max_epochs)
        return losses
    return train


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return TinyNet()
