"""FastNet, notebook 6's network: its shapes, its checks, what it trains and how it learns."""

import pytest
import torch
import torch.nn.functional as F

from cifar_helpers import batch_to_tensors, load_cifar10
from cifar_helpers.networks.fast_net import FastNet


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


def test_whiten_makes_the_patch_features_uncorrelated_with_spread_one_and_freezes_the_weights():
    torch.manual_seed(0)
    split = load_cifar10("train", source="synthetic", verbose=False)
    images, _ = batch_to_tensors((split.images[:500], split.labels[:500]))
    model = FastNet(widths=(8, 16, 16))
    assert model.whiten(images, eps=0) is model
    features = F.conv2d(images, model.patches.weight[:12])  # without the bias, as whitening computed
    flat = features.permute(0, 2, 3, 1).reshape(-1, 12)
    second_moment = flat.T @ flat / len(flat)
    assert torch.allclose(second_moment, torch.eye(12), atol=1e-3)
    assert torch.equal(model.patches.weight[12:], -model.patches.weight[:12])
    assert not model.patches.weight.requires_grad and model.patches.bias.requires_grad


def test_each_conv_starts_as_identity_on_its_first_channels():
    model = FastNet(widths=(8, 16, 16))
    conv = model.stages[1][0]  # 8 -> 16 channels
    x = torch.randn(2, 8, 6, 6)
    assert torch.allclose(conv(x)[:, :8], x, atol=1e-6)


@pytest.mark.parametrize("bfloat16, dtype", [(True, torch.bfloat16), (False, torch.float32)])
def test_bfloat16_decides_the_number_format_of_the_convolutions(bfloat16, dtype):
    model = FastNet(widths=(8, 16, 16), bfloat16=bfloat16).eval()
    seen = []
    model.stages[0][0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    scores = model((torch.randn(3, 3, 32, 32), None))
    assert seen == [dtype] and scores.dtype == torch.float32  # the scores come back in float32 either way


def test_bfloat16_none_follows_the_hardware(monkeypatch):
    import cifar_helpers.networks.fast_net as fast_net
    model = FastNet(widths=(8, 16, 16)).eval()
    seen = []
    model.stages[0][0].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    for fast in (True, False):
        monkeypatch.setattr(fast_net, "fast_bfloat16", lambda device, fast=fast: fast)
        model((torch.randn(2, 3, 32, 32), None))
    assert seen == [torch.bfloat16, torch.float32]


def test_fast_bfloat16_means_a_gpu_or_a_cpu_with_amx(monkeypatch):
    from cifar_helpers.networks.fast_net import fast_bfloat16
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for native in (True, False):  # Ampere or later; a T4 only emulates bfloat16
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True, n=native: n or including_emulation)
        assert fast_bfloat16("cuda") == native
    assert not fast_bfloat16("meta")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not fast_bfloat16("cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert fast_bfloat16(torch.device("cpu"))
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a PyTorch without the (private) check
    assert not fast_bfloat16("cpu")


def test_a_device_autocast_does_not_know_still_runs_in_float32():
    model = FastNet(widths=(8, 16, 16), bfloat16=False).to("meta")  # autocast refuses "meta" even when disabled
    assert model((torch.empty(2, 3, 32, 32, device="meta"), None)).shape == (2, 10)
    model = FastNet(widths=(8, 16, 16)).to("meta")  # None: fast_bfloat16("meta") is False
    assert model((torch.empty(1, 3, 32, 32, device="meta"), None)).shape == (1, 10)


def test_a_bad_bfloat16_is_refused_by_name():
    with pytest.raises(ValueError, match="bfloat16="):
        FastNet(widths=(8, 16, 16), bfloat16="sometimes")


def multiply_adds(widths):
    """Multiply-adds of one forward pass of FastNet(widths) on one image, counted from its convolutions."""
    total = []
    model = FastNet(widths=widths)
    for conv in model.modules():
        if isinstance(conv, torch.nn.Conv2d):
            conv.register_forward_hook(lambda m, i, out: total.append(out[0].numel() * m.weight[0].numel()))
    model.eval()((torch.zeros(1, 3, 32, 32), None))
    return sum(total)


def test_default_widths_where_bfloat16_is_slow_cost_a_quarter_of_the_work():
    from cifar_helpers import default_widths
    fast, slow = default_widths(True), default_widths(False)
    assert 0.2 <= multiply_adds(slow) / multiply_adds(fast) <= 0.3  # "a quarter of the multiply-adds"
    assert min(slow) >= 32  # narrower than 32 at the end, the network stays at chance (notebook 6)


@pytest.mark.parametrize("widths", [(8, 16, 12), (16, 32, 64)])
def test_a_fresh_network_scores_calmly_whatever_its_width(widths):
    """The head starts with weights of spread 1 and forward divides its scores by the channels it reads:
    the first scores stay small however wide the last stage is, so the first steps are calm."""
    torch.manual_seed(0)
    model = FastNet(widths=widths, bfloat16=False).eval()
    assert model.head.weight.std().item() == pytest.approx(1.0, rel=1e-5)
    seen = {}
    model.head.register_forward_hook(lambda module, inputs, output: seen.update(features=inputs[0], head=output))
    scores = model((torch.randn(6, 3, 32, 32), None))
    torch.testing.assert_close(scores, seen["head"] / widths[2])
    torch.testing.assert_close(seen["head"], seen["features"] @ model.head.weight.T)
