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
