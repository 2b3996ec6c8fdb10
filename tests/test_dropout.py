"""FastDropout must be nn.Dropout in everything but speed."""

import pytest
import torch
from torch import nn

from cifar_helpers.networks.dropout import FastDropout


def test_is_an_nn_dropout_with_its_p():
    layer = FastDropout(0.3)
    assert isinstance(layer, nn.Dropout) and layer.p == 0.3


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_training_zeroes_a_fraction_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    x = torch.rand(200_000) + 1  # no zeros of its own
    y = FastDropout(p).train()(x)
    dropped = y == 0
    assert abs(dropped.float().mean().item() - p) < 0.01
    torch.testing.assert_close(y[~dropped], x[~dropped] / (1 - p))


def test_gradient_is_the_same_mask():
    torch.manual_seed(1)
    x = torch.randn(64, 3, 32, 32, requires_grad=True)
    y = FastDropout(0.3).train()(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y != 0).float() / 0.7)


def test_evaluation_mode_and_p_zero_pass_the_input_through():
    x = torch.randn(8, 3, 32, 32)
    assert torch.equal(FastDropout(0.5).eval()(x), x)
    assert torch.equal(FastDropout(0.0).train()(x), x)


def test_same_seed_same_mask_and_keeps_channels_last():
    x = torch.randn(4, 32, 32, 3).permute(0, 3, 1, 2)  # channels-last memory, as batch_to_tensors gives
    layer = FastDropout(0.3).train()
    torch.manual_seed(5)
    first = layer(x)
    torch.manual_seed(5)
    assert torch.equal(first, layer(x))
    assert first.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("p", [0.001, 0.01])
def test_bfloat16_keeps_small_probabilities(p):
    torch.manual_seed(0)
    x = torch.ones(1_000_000, dtype=torch.bfloat16)
    dropped = (FastDropout(p).train()(x) == 0).float().mean().item()
    assert abs(dropped - p) < 0.2 * p  # drawing the mask in bfloat16 would give 0 for p=0.001
