"""Muon: orthogonalised steps for filters, SGD with momentum for the rest, checks by name."""

import pytest
import torch

from cifar_helpers.networks.muon import Muon, orthogonalise


def test_orthogonalise_moves_every_singular_value_near_one():
    torch.manual_seed(0)
    matrix = torch.randn(16, 40) @ torch.diag(torch.logspace(-2, 1, 40))  # spreads over 3 orders of magnitude
    before = torch.linalg.svdvals(matrix)
    after = torch.linalg.svdvals(orthogonalise(matrix, steps=5))
    assert before.max() / before.min() > 20
    assert after.min() > 0.5 and after.max() < 1.5, after
    tall = orthogonalise(matrix.T, steps=5)
    assert tall.shape == (40, 16) and torch.allclose(tall, orthogonalise(matrix, steps=5).T, atol=1e-5)


def test_filters_are_rescaled_to_a_fixed_norm_and_step_by_the_learning_rate_in_every_direction():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(8, 16, 3, bias=False)
    before = conv.weight.detach().clone()
    conv.weight.grad = torch.randn_like(conv.weight)
    Muon(conv.parameters(), lr=0.0).step()  # a step of size 0: only the rescaling
    assert torch.allclose(conv.weight, before * 16 ** 0.5 / before.norm())
    rescaled = conv.weight.detach().clone()
    Muon(conv.parameters(), lr=0.1, momentum=0.0, steps=5).step()
    step = (conv.weight.detach() - rescaled).flatten(1) / 0.1
    singular = torch.linalg.svdvals(step)
    assert len(singular) == 16 and singular.min() > 0.5 and singular.max() < 1.5, singular
    assert (step * conv.weight.grad.flatten(1)).sum() < 0  # downhill


def test_filters_orthogonalise_the_nesterov_momentum_not_the_raw_gradient():
    """Second step, momentum 0.6: the direction is g2 + 0.6 * (0.6 * g1 + g2), then orthogonalised."""
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(16, 8, 3, 3))
    optimizer = Muon([weight], lr=0.1, momentum=0.6, steps=5)
    g1, g2 = torch.randn_like(weight), torch.randn_like(weight)
    weight.grad = g1
    optimizer.step()
    weight.grad = g2
    rescaled = weight.detach() * 16 ** 0.5 / weight.detach().norm()
    optimizer.step()
    direction = g2 + 0.6 * (0.6 * g1 + g2)
    expected = rescaled - 0.1 * orthogonalise(direction.flatten(1), 5).view_as(weight)
    torch.testing.assert_close(weight.detach(), expected)


def test_weight_decay_leaves_filters_alone():
    """The rescaling keeps a filter bank's size fixed: decay would only tilt the step."""
    torch.manual_seed(0)
    start, grad = torch.randn(16, 8, 3, 3), torch.randn(16, 8, 3, 3)
    after = []
    for decay in (0.0, 0.5):
        weight = torch.nn.Parameter(start.clone())
        weight.grad = grad.clone()
        Muon([weight], lr=0.1, weight_decay=decay).step()
        after.append(weight.detach())
    assert torch.equal(after[0], after[1])


def test_sgd_groups_step_exactly_like_torch_sgd_with_nesterov():
    torch.manual_seed(0)
    mine, theirs = torch.nn.Parameter(torch.randn(5)), torch.nn.Parameter(torch.randn(5))
    theirs.data.copy_(mine.data)
    muon = Muon([{"params": [mine], "orthogonalise": False, "lr": 0.3, "momentum": 0.85, "weight_decay": 0.01}])
    sgd = torch.optim.SGD([theirs], lr=0.3, momentum=0.85, nesterov=True, weight_decay=0.01)
    for _ in range(4):
        gradient = torch.randn(5)
        mine.grad, theirs.grad = gradient.clone(), gradient.clone()
        muon.step()
        sgd.step()
    assert torch.allclose(mine, theirs, atol=1e-6)


@pytest.mark.parametrize("groups, message", [
    (lambda: [torch.nn.Parameter(torch.zeros(3))], r"shape \(3,\) to orthogonalise.*'orthogonalise': False"),
    (lambda: [{"params": [torch.nn.Parameter(torch.zeros(3, 3))], "lr": -1}], r"lr=-1 must be a number >= 0"),
    (lambda: [{"params": [torch.nn.Parameter(torch.zeros(3, 3))], "momentum": 1}], r"momentum=1 must be"),
    (lambda: [{"params": [torch.nn.Parameter(torch.zeros(3, 3))], "steps": 0}], r"steps=0 must be"),
])
def test_bad_settings_are_refused_by_name(groups, message):
    with pytest.raises(ValueError, match=message):
        Muon(groups())


def test_a_scheduler_and_a_state_dict_work_as_for_any_torch_optimizer():
    torch.manual_seed(0)
    layer = torch.nn.Linear(6, 4)
    optimizer = Muon([{"params": [layer.weight]}, {"params": [layer.bias], "orthogonalise": False, "lr": 0.5}])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / 10)
    for _ in range(3):
        layer(torch.randn(2, 6)).sum().backward()
        optimizer.step()
        schedule.step()
    assert [group["lr"] for group in optimizer.param_groups] == pytest.approx([0.24 * 0.7, 0.5 * 0.7])
    again = Muon([{"params": [layer.weight]}, {"params": [layer.bias], "orthogonalise": False, "lr": 0.5}])
    again.load_state_dict(optimizer.state_dict())
    assert torch.equal(again.state[layer.weight]["momentum_buffer"], optimizer.state[layer.weight]["momentum_buffer"])


def test_nesterov_changes_the_step():
    torch.manual_seed(0)
    start, g1, g2 = torch.randn(16, 8, 3, 3), torch.randn(16, 8, 3, 3), torch.randn(16, 8, 3, 3)
    after = {}
    for nesterov in (False, True):
        weight = torch.nn.Parameter(start.clone())
        optimizer = Muon([weight], lr=0.1, nesterov=nesterov)
        for grad in (g1, g2):
            weight.grad = grad.clone()
            optimizer.step()
        after[nesterov] = weight.detach()
    assert not torch.allclose(after[False], after[True])


def test_a_filter_bank_of_zeros_takes_its_step_instead_of_becoming_nan():
    """Rescaling to a fixed norm divides by the filters' norm: zeros keep their zeros and still step."""
    torch.manual_seed(0)
    grad = torch.randn(16, 8, 3, 3)
    weight = torch.nn.Parameter(torch.zeros(16, 8, 3, 3))
    weight.grad = grad.clone()
    Muon([weight], lr=0.1, momentum=0.0, steps=5).step()
    assert torch.isfinite(weight).all()
    torch.testing.assert_close(weight.detach(), -0.1 * orthogonalise(grad.flatten(1), 5).view_as(weight))
    still = torch.nn.Parameter(torch.zeros(16, 8, 3, 3))
    still.grad = torch.zeros_like(still)  # nothing to rescale, nothing to step along: left as it is
    Muon([still], lr=0.1).step()
    assert torch.equal(still.detach(), torch.zeros(16, 8, 3, 3))
