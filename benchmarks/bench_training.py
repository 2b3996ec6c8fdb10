"""Training speed and memory: the library pipeline against two plain-PyTorch baselines.

    python benchmarks/bench_training.py [--data-dir DIR] [--epochs 1] [--limit N] [--source auto]

Same CNN and optimizer (notebook 04's fused Adam), batch 64, the full training set (or --limit
images), one epoch each, in six ways:

  (a) library:  DataSet -> AsyncDataLoader(batch_to_tensors) -> Model.learn, no display plugins
  (b) bare:     a plain PyTorch loop over the same uint8 arrays, converting each batch inline
  (c) tutorial: the PyTorch tutorial's way: a torchvision CIFAR10 dataset with per-image
                ToTensor + Normalize, torch DataLoader with 2 workers
  (d0) torch:   PyTorch's DataLoader(batch_size=None, num_workers=0) over the same DataSet batches
                and batch_to_tensors: the standard tool in place of AsyncDataLoader, in the main process
  (d1) torch:   the same with num_workers=1 (one worker process, pin_memory=<on a GPU>)
  (a+) lesson:  (a) plus notebook 04's RandomFlip in the loader (not part of the targets)

Each runs in its own process (so peak RSS is its own) after a short warm-up, in rounds of a, b, c,
d0, d1, a+ (--rounds, default 3); the script prints the median images/s, the peak RSS, and the ratios
(each the median of its per-round ratios). Targets: a/b >= 0.97, a/c >= 2, a/d0 and a/d1 above 1
(AsyncDataLoader must beat PyTorch's DataLoader to earn its place), RSS <= 1.5 GB.
Run it with nothing else busy: on 2 cores a second process skews every figure.
Its runs, with the command, the machine and the date, are in benchmarks/RESULTS.md.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

BATCH_SIZE = 64
WARMUP_BATCHES = 20


def peak_rss_mb(include_children=False):
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if include_children:
        kb = max(kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return kb / 1024


def lesson_optimizer(model):
    """Notebook 04's optimizer, the same for all three ways."""
    return torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)


def warmed_up_model_and_data(split):
    """The lesson's CNN and optimizer after a short warm-up, and the training DataSet (batch 64, shuffled)."""
    import cifar_helpers as ch

    model = ch.CNN()
    optimizer = lesson_optimizer(model)
    warm = ch.DataSet([split.images[:WARMUP_BATCHES * BATCH_SIZE], split.labels[:WARMUP_BATCHES * BATCH_SIZE]],
                      BATCH_SIZE)
    model.learn(ch.AsyncDataLoader(warm, on_batch_loaded=ch.batch_to_tensors), optimizer, max_epochs=1)
    return model, optimizer, ch.DataSet([split.images, split.labels], BATCH_SIZE, shuffle=True, drop_last=True,
                                        seed=0)


def train_library(split, epochs, flips=False):
    import cifar_helpers as ch

    model, optimizer, data = warmed_up_model_and_data(split)
    flip = ch.RandomFlip(seed=0)
    prepare = (lambda batch: ch.batch_to_tensors(flip(batch))) if flips else ch.batch_to_tensors
    loader = ch.AsyncDataLoader(data, buffer_size=8, on_batch_loaded=prepare)
    started = time.perf_counter()
    model.learn(loader, optimizer, max_epochs=epochs)
    return epochs * len(data) * BATCH_SIZE / (time.perf_counter() - started)


def train_bare(split, epochs):
    import cifar_helpers as ch

    model = ch.CNN()
    optimizer = lesson_optimizer(model)
    images = torch.from_numpy(split.images)
    labels = torch.from_numpy(split.labels)
    mean = torch.tensor(ch.CIFAR10_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(ch.CIFAR10_STD).view(1, 3, 1, 1) * 255
    rng = np.random.default_rng(0)

    def epoch(n_batches):
        order = torch.from_numpy(rng.permutation(len(labels)))
        model.train()
        for b in range(n_batches):
            index = order[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]
            x = (images[index].permute(0, 3, 1, 2).float() - mean) / std
            y = labels[index]
            optimizer.zero_grad(set_to_none=True)
            loss = F.nll_loss(model((x, y)), y)
            loss.backward()
            optimizer.step()

    epoch(WARMUP_BATCHES)
    n_batches = len(labels) // BATCH_SIZE
    started = time.perf_counter()
    for _ in range(epochs):
        epoch(n_batches)
    return epochs * n_batches * BATCH_SIZE / (time.perf_counter() - started)


def train_tutorial(split, epochs):
    import torchvision.transforms as T
    from torch.utils.data import DataLoader

    import cifar_helpers as ch

    # torchvision's own CIFAR10 class (its __getitem__: PIL image, then the transform), holding
    # the same arrays as the other two, without its download and checksum step.
    transform = T.Compose([T.ToTensor(), T.Normalize(ch.CIFAR10_MEAN, ch.CIFAR10_STD)])
    dataset = ch.as_torchvision_dataset(split, transform)

    model = ch.CNN()
    optimizer = lesson_optimizer(model)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=2, drop_last=True,
                        persistent_workers=True)

    def epoch(n_batches):
        model.train()
        for b, (x, y) in enumerate(loader):
            if b == n_batches:
                break
            optimizer.zero_grad(set_to_none=True)
            loss = F.nll_loss(model((x, y)), y)
            loss.backward()
            optimizer.step()

    epoch(WARMUP_BATCHES)
    started = time.perf_counter()
    for _ in range(epochs):
        epoch(len(loader))
    return epochs * len(loader) * BATCH_SIZE / (time.perf_counter() - started)


def train_torch_loader(split, epochs, workers):
    from torch.utils.data import DataLoader, IterableDataset

    import cifar_helpers as ch

    class Batches(IterableDataset):
        """The same DataSet batches, converted by batch_to_tensors, for a DataLoader worker process."""

        def __init__(self, dataset):
            self.dataset = dataset

        def __iter__(self):
            return (ch.batch_to_tensors(batch) for batch in self.dataset)

        def __len__(self):
            return len(self.dataset)

    model, optimizer, data = warmed_up_model_and_data(split)
    loader = DataLoader(Batches(data), batch_size=None, num_workers=workers,
                        pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0)
    started = time.perf_counter()
    model.learn(loader, optimizer, max_epochs=epochs)
    return epochs * len(data) * BATCH_SIZE / (time.perf_counter() - started)


def train_lesson(split, epochs):
    return train_library(split, epochs, flips=True)


WAYS = {"library": train_library, "bare": train_bare, "tutorial": train_tutorial,
        "torch0": lambda split, epochs: train_torch_loader(split, epochs, workers=0),
        "torch1": lambda split, epochs: train_torch_loader(split, epochs, workers=1), "lesson": train_lesson}
LETTERS = ("a", "b", "c", "d0", "d1", "a+")


def child(args):
    import cifar_helpers as ch

    split = ch.load_cifar10("train", root=args.data_dir, source=args.source, subset=args.limit, verbose=False)
    torch.manual_seed(0)
    speed = WAYS[args.child](split, args.epochs)
    print(json.dumps({"images_per_s": speed, "peak_rss_mb": peak_rss_mb(include_children=True),
                      "threads": torch.get_num_threads()}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="data", help="folder holding CIFAR-10 (see load_cifar10)")
    parser.add_argument("--source", default="auto", help="load_cifar10 source (auto, local, synthetic, ...)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="use only this many training images")
    parser.add_argument("--rounds", type=int, default=3, help="repeat the six ways this many times; report medians")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    # Rounds of every way in turn, medians at the end: on a shared 2-core machine the speed can
    # drift by tens of percent over a minute, and interleaving spreads that drift over all six.
    runs = {way: [] for way in WAYS}
    for round_number in range(1, args.rounds + 1):
        for letter, way in zip(LETTERS, WAYS):
            command = [sys.executable, __file__, "--child", way, "--data-dir", args.data_dir, "--source",
                       args.source, "--epochs", str(args.epochs)] + (["--limit", str(args.limit)] if args.limit else [])
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs[way].append(json.loads(out.strip().splitlines()[-1]))
            print(f"round {round_number}  ({letter:2s}) {way:9s} {runs[way][-1]['images_per_s']:8,.0f} images/s   "
                  f"peak RSS {runs[way][-1]['peak_rss_mb']:6,.0f} MB", flush=True)
    speed = {way: statistics.median(r["images_per_s"] for r in runs[way]) for way in WAYS}
    rss = {way: max(r["peak_rss_mb"] for r in runs[way]) for way in WAYS}
    print(f"\nmedians over {args.rounds} rounds (torch threads: {runs['library'][0]['threads']})")
    for letter, way in zip(LETTERS, WAYS):
        print(f"({letter:2s}) {way:9s} {speed[way]:8,.0f} images/s   peak RSS {rss[way]:6,.0f} MB")

    def ratio(top, bottom):
        """Median over rounds of the ratio within each round: the runs of one round are a minute
        apart at most, so the machine's drift cancels out better than in a ratio of medians."""
        return statistics.median(t["images_per_s"] / b["images_per_s"] for t, b in zip(runs[top], runs[bottom]))

    print("ratios (median of the per-round ratios):")
    print(f"a/b = {ratio('library', 'bare'):.2f}  (target >= 0.97)")
    print(f"a/c = {ratio('library', 'tutorial'):.2f}  (target >= 2)")
    print(f"a/d0 = {ratio('library', 'torch0'):.2f}  (AsyncDataLoader against DataLoader, num_workers=0; target > 1)")
    print(f"a/d1 = {ratio('library', 'torch1'):.2f}  (the same, num_workers=1; target > 1)")
    print(f"a+/a = {ratio('lesson', 'library'):.2f}  (the cost of notebook 04's RandomFlip, for information)")
    print(f"library peak RSS = {rss['library'] / 1024:.2f} GB  (target <= 1.5 GB)")


if __name__ == "__main__":
    main()
