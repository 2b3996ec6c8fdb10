"""benchmarks/bench_fast_net.py times the training step notebook 6 takes: it must really take it."""

import importlib.util
from pathlib import Path

import pytest
import torch

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_fast_net.py"
spec = importlib.util.spec_from_file_location("bench_fast_net", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.mark.parametrize("frozen_bias", [True, False])
def test_a_benchmark_step_trains_the_filters_and_the_whitening_bias_only_when_learning(frozen_bias):
    step = bench.make_step((8, 16, 16), 32, channels_last=True, frozen_bias=frozen_bias, device=torch.device("cpu"))
    model = step.model
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    step()
    after = dict(model.named_parameters())
    assert not torch.equal(before["stages.0.0.weight"], after["stages.0.0.weight"])  # a filter moved
    assert torch.equal(before["patches.weight"], after["patches.weight"])  # the whitening stays frozen
    assert torch.equal(before["patches.bias"], after["patches.bias"]) == frozen_bias
    assert model.patches.bias.grad is None


def test_images_per_second_counts_the_images_of_the_steps_taken():
    calls = []
    speed = bench.images_per_second(lambda: calls.append(1), batch_size=10, seconds=0.02)
    timed = len(calls) - 2  # the first two are the warm-up
    assert timed > 0 and 0 < speed <= 10 * timed / 0.02  # at least 0.02 s passed


def test_multiply_adds_counts_every_convolution_and_the_classifier_of_fast_net():
    a, b, c = 8, 16, 24
    expected = (31 * 31 * 24 * 3 * 2 * 2                      # the 2 x 2 whitening patches
                + 31 * 31 * 24 * a * 9 + 15 * 15 * a * a * 9  # stage 1 (pooled after its first convolution)
                + 15 * 15 * a * b * 9 + 7 * 7 * b * b * 9     # stage 2
                + 7 * 7 * b * c * 9 + 3 * 3 * c * c * 9       # stage 3
                + c * 10)                                     # the classifier
    model = bench.make_step((a, b, c), 4, channels_last=True, frozen_bias=True, device=torch.device("cpu")).model
    statistics = [buffer.clone() for buffer in model.buffers()]
    assert bench.multiply_adds(model) == expected
    assert model.training and all(torch.equal(x, y) for x, y in zip(statistics, model.buffers()))


@pytest.mark.parametrize("text", ["32,96", "32,96,x", "32,0,192"])
def test_widths_that_are_not_three_positive_counts_stop_with_the_option_named(text, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--compare", "16,64,256", text])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --compare:" in error and "such as" in error  # the option, and an example of good widths


def test_widths_options_read_text_as_tuples_and_leave_the_default_to_the_device():
    args = bench.parse_args(["--compare", "16,64,256", "24,64,256"])
    assert args.widths is None and args.compare == [(16, 64, 256), (24, 64, 256)]  # main: default_widths
    assert bench.parse_args(["--widths", "8,16,16"]).widths == (8, 16, 16)


@pytest.mark.parametrize("bfloat16", [True, False, None])
def test_the_step_computes_in_the_number_format_asked_for(bfloat16):
    step = bench.make_step((8, 16, 16), 4, channels_last=True, frozen_bias=True, device=torch.device("cpu"),
                           bfloat16=bfloat16)
    assert step.model.bfloat16 is bfloat16  # None: FastNet decides by the hardware, as in notebook 6


@pytest.mark.parametrize("kept_as_tensors", [False, True])
def test_the_loader_timing_counts_the_images_it_prepared(kept_as_tensors, monkeypatch):
    prepared = []
    real = bench.batch_to_tensors

    def counted(batch, device):
        prepared.append(real(batch, device))
        return prepared[-1]

    monkeypatch.setattr(bench, "batch_to_tensors", counted)
    images = torch.randint(0, 256, (40, 32, 32, 3), dtype=torch.uint8)
    labels = torch.arange(40) % 10
    if not kept_as_tensors:
        images, labels = images.numpy(), labels.numpy()
    speed = bench.loader_images_per_second(images, labels, 8, torch.device("cpu"), seconds=0.1)
    timed = len(prepared) - 1  # the first is the warm-up
    assert timed > 5, "more batches than one epoch has (5): it goes round again"
    assert 0 < speed <= 8 * timed / 0.1
    assert all(x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 for x, _ in prepared)


@pytest.mark.parametrize("text", ["0", "-5", "many", "2.5"])
def test_a_loader_batch_that_is_not_a_count_stops_with_the_option_named(text, capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--loader-batch", text])
    shown = text if text != "many" else "'many'"  # text that is no number is quoted
    assert f"argument --loader-batch: --loader-batch={shown} must be a positive whole number, such as 500." in (
        capsys.readouterr().err)


def test_a_compiled_benchmark_step_trains_through_torch_compile(monkeypatch):
    """--compile's step runs the model through torch.compile (here its cheap "eager" backend, no compiler)."""
    backends = []
    real_compile = torch.compile

    def spy(model, backend):
        backends.append(backend)
        return real_compile(model, backend=backend)

    monkeypatch.setattr(torch, "compile", spy)
    step = bench.make_step((8, 16, 16), 32, channels_last=True, frozen_bias=True, device=torch.device("cpu"),
                           compile_backend="eager")
    before = step.model.stages[0][0].weight.detach().clone()
    step()
    assert backends == ["eager"] and not torch.equal(before, step.model.stages[0][0].weight)
    assert bench.parse_args(["--compile"]).compile and not bench.parse_args([]).compile
