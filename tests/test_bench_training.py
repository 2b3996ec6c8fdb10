"""benchmarks/bench_training.py compares six ways of training: each must train on the same images."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import cifar_helpers as ch

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_training.py"
spec = importlib.util.spec_from_file_location("bench_training", PATH)
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def numbered_split(n):
    """Image i is one colour that spells i (red i % 256, green i // 256), so a flip keeps it."""
    images = np.zeros((n, 32, 32, 3), np.uint8)
    images[..., 0] = (np.arange(n) % 256)[:, None, None]
    images[..., 1] = (np.arange(n) // 256)[:, None, None]
    return ch.Split(images, np.arange(n) % 10, ch.CLASSES, "synthetic", "train")


class Recording(ch.CNN):
    """notebook 4's CNN, noting which numbered images each training batch holds."""

    seen = []

    def forward(self, batch):
        x = batch[0]
        pixels = [torch.round((x[:, c, 0, 0] * ch.CIFAR10_STD[c] + ch.CIFAR10_MEAN[c]) * 255).long()
                  for c in (0, 1)]
        Recording.seen.extend((pixels[0] + 256 * pixels[1]).tolist())
        return super().forward(batch)


@pytest.mark.parametrize("way", list(bench.WAYS))
def test_each_way_trains_every_image_of_its_segment_once_and_no_other(way, monkeypatch):
    monkeypatch.setattr(ch, "CNN", Recording)
    schedule = [(0, 256), (256, 512), (0, 256)]
    train = bench.build(way, numbered_split(512), torch.device("cpu"), schedule)
    for start, stop in schedule:
        Recording.seen = []
        assert train(start, stop) == stop - start
        assert sorted(Recording.seen) == list(range(start, stop))


def test_segments_cover_the_images_in_turns_of_100_batches_with_a_shorter_last_one():
    assert bench.segments(2 * bench.SEGMENT + 64) == [
        (0, bench.SEGMENT), (bench.SEGMENT, 2 * bench.SEGMENT), (2 * bench.SEGMENT, 2 * bench.SEGMENT + 64)]
