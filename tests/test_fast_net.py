"""FastNet, notebook 6's network: its shapes, its checks, what it trains and how it learns."""

import pytest
import torch
import torch.nn.functional as F

from cifar_helpers import batch_to_tensors, load_cifar10
from cifar_helpers.fast_net import FastNet


def test_ten_scores_per_image_for_any_widths():
    model = FastNet(widths=(8, 16, 12)).eval()
    images = torch.randn(5, 3, 32, 32)
    assert model((images, torch.zeros(5, dtype=torch.long))).shape == (5, 10)
    assert model.head.in_features == 12


@pytest.mark.parametrize("widths, message", [((8, 16), "must be three channel counts"),
                                             ((8, 0, 16), "must be a positive whole number"),
                                             ("8,16,16,16", "must be three channel counts")])
def test_bad_widths_are_refused_by_name(widths, message):
    with pytest.raises(ValueError, match=rf"widths=.*{message}"):
        FastNet(widths=widths)


def test_batch_norm_scales_stay_fixed_and_their_shifts_are_the_norm_biases():
    model = FastNet(widths=(8, 16, 16))
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 6 and not any(n.weight.requires_grad for n in norms)
    assert [id(b) for b in model.norm_biases()] == [id(n.bias) for n in norms]
    trained = {id(p) for p in model.parameters() if p.requires_grad}
    assert all(id(n.bias) in trained for n in norms)


def test_the_loss_is_label_smoothed_cross_entropy():
    model = FastNet(widths=(8, 16, 16), label_smoothing=0.2)
    scores, labels = torch.randn(4, 10), torch.tensor([0, 3, 9, 3])
    expected = F.cross_entropy(scores, labels, label_smoothing=0.2)
    assert torch.isclose(model.loss(scores, (None, labels)), expected)
    assert not torch.isclose(expected, F.cross_entropy(scores, labels))


def test_it_learns_the_synthetic_set_in_a_few_steps():
    torch.manual_seed(0)
    split = load_cifar10("train", source="synthetic", verbose=False)
    x, y = batch_to_tensors((split.images[:256], split.labels[:256]))
    model = FastNet(widths=(8, 16, 16))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, nesterov=True)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = model.loss(model((x, y)), (x, y))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    accuracy = (model((x, y)).argmax(1) == y).float().mean().item()
    assert losses[-1] < 0.7 * losses[0] and accuracy > 0.5, (losses[0], losses[-1], accuracy)
