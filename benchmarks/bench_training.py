"""Training speed and memory: the library pipeline against plain-PyTorch baselines.

    python benchmarks/bench_training.py [--data-dir DIR] [--source auto] [--rounds 3] [--limit N] [--device cpu]

Notebook 04's CNN and fused Adam, batch 64, in six ways, each with its own model and optimizer:

  (a) library:  DataSet -> AsyncDataLoader(batch_to_tensors) -> Model.learn, no display plugins
  (b) bare:     a plain PyTorch loop over the same uint8 arrays, converting each batch inline
  (c) tutorial: the PyTorch tutorial's way: a torchvision CIFAR10 dataset with per-image
                ToTensor + Normalize, torch DataLoader with 2 workers
  (d0) torch:   PyTorch's DataLoader(batch_size=None, num_workers=0) over the same DataSet batches
                and batch_to_tensors: the standard tool in place of AsyncDataLoader, in the main process
  (d1) torch:   the same with num_workers=1 (one worker process)
  (a+) lesson:  (a) plus notebook 04's RandomFlip in the loader (not part of the targets)

Speed: all six train in one process. A round is one epoch of each over the training set (or
--limit images), cut into segments of 100 batches; the six take turns, segment by segment, in
an order that rotates. A shared 2-core virtual machine's speed swings by 20% within seconds and
between processes, so speeds taken minutes or processes apart do not compare: taking turns
every half second puts the same swings into all six. Each segment is a whole epoch of each
way's loader over that segment's images, so no loader works ahead during another's turn; the
loaders' start of an epoch is counted every segment (well under 1% of a segment).
On a GPU (--device cuda) every way copies uint8 batches to it and normalises them there, from
pinned memory where it has a loader (DataLoader's workers cannot use the GPU: theirs yield the
uint8 batch, and batch_to_tensors runs in the training process). Each turn ends in a
synchronize, so it counts the GPU's work.
Memory: then each way trains two segments in a process of its own, for its peak RSS (and the
peak of loading CIFAR-10 alone, which can be the larger).
The ratios are medians over rounds of the ratio within each round. Targets: a/b >= 0.97,
a/c >= 2, a/d0 and a/d1 above 1 (AsyncDataLoader must beat PyTorch's DataLoader to earn its
place), the library's peak RSS <= 1.5 GB. Run it with nothing else busy: on 2 cores a second
process skews every figure. Its runs, with the command, machine and date, are in
benchmarks/RESULTS.md.
"""

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import cifar_helpers as ch

BATCH_SIZE = 64
SEGMENT = 100 * BATCH_SIZE  # images per turn: about half a second of training


def peak_rss_mb():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024  # kB on Linux


def segments(n_images):
    """(start, stop) of each segment; the last one may be shorter."""
    return [(start, min(start + SEGMENT, n_images)) for start in range(0, n_images, SEGMENT)]


def segment_data(split, start, stop, seed):
    """The lesson's DataSet over images[start:stop]: batch 64, shuffled, the last part batch dropped."""
    return ch.DataSet([split.images[start:stop], split.labels[start:stop]], BATCH_SIZE, shuffle=True,
                      drop_last=True, seed=seed)


def lesson_optimizer(model):
    """Notebook 04's optimizer, the same for every way."""
    return torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)


# Each way is built once over the whole split and returns a function that trains one epoch over
# images[start:stop] (drop_last, shuffled within the segment) and returns how many it trained.

def library(split, device, flips=False):
    model = ch.CNN().to(device)
    optimizer = lesson_optimizer(model)
    flip = ch.RandomFlip(seed=0)
    prepare = (lambda batch: ch.batch_to_tensors(flip(batch), device)) if flips else (
        lambda batch: ch.batch_to_tensors(batch, device))
    seeds = itertools.count()

    def train(start, stop):
        data = segment_data(split, start, stop, next(seeds))
        model.learn(ch.AsyncDataLoader(data, buffer_size=8, on_batch_loaded=prepare), optimizer, max_epochs=1)
        return len(data) * BATCH_SIZE
    return train


def bare(split, device):
    model = ch.CNN().to(device)
    optimizer = lesson_optimizer(model)
    images = torch.from_numpy(split.images)
    labels = torch.from_numpy(split.labels)
    mean = torch.tensor(ch.CIFAR10_MEAN, device=device).view(1, 3, 1, 1) * 255
    std = torch.tensor(ch.CIFAR10_STD, device=device).view(1, 3, 1, 1) * 255
    rng = np.random.default_rng(0)

    def train(start, stop):
        order = torch.from_numpy(start + rng.permutation(stop - start))
        model.train()
        n_batches = (stop - start) // BATCH_SIZE
        for b in range(n_batches):
            index = order[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]
            x = (images[index].to(device).permute(0, 3, 1, 2).float() - mean) / std
            y = labels[index].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = F.nll_loss(model((x, y)), y)
            loss.backward()
            optimizer.step()
        return n_batches * BATCH_SIZE
    return train


def tutorial(split, device):
    import torchvision.transforms as T
    from torch.utils.data import DataLoader, SubsetRandomSampler

    # torchvision's own CIFAR10 class (its __getitem__: PIL image, then the transform), holding
    # the same arrays as the others, without its download and checksum step.
    transform = T.Compose([T.ToTensor(), T.Normalize(ch.CIFAR10_MEAN, ch.CIFAR10_STD)])
    dataset = ch.as_torchvision_dataset(split, transform)
    model = ch.CNN().to(device)
    optimizer = lesson_optimizer(model)
    # The sampler lives in this process: pointing it at the next segment reaches the persistent workers.
    sampler = SubsetRandomSampler(range(0), generator=torch.Generator().manual_seed(0))
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, sampler=sampler, num_workers=2, drop_last=True,
                        persistent_workers=True, pin_memory=device.type == "cuda")

    def train(start, stop):
        sampler.indices = range(start, stop)
        model.train()
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = F.nll_loss(model((x, y)), y)
            loss.backward()
            optimizer.step()
        return len(loader) * BATCH_SIZE
    return train


def torch_loader(split, device, workers, schedule):
    from torch.utils.data import DataLoader, IterableDataset

    class Batches(IterableDataset):
        """The DataSet batches of each segment in ``schedule`` in turn, through batch_to_tensors. A
        persistent worker holds its own copy of this object, so it follows the schedule itself."""

        def __init__(self):
            self.epochs, self.length = 0, 0

        def __len__(self):  # Model.learn asks; set in this process before each epoch
            return self.length

        def __iter__(self):
            start, stop = schedule[self.epochs]
            data = segment_data(split, start, stop, self.epochs)
            self.epochs += 1
            return (batch if on_gpu else ch.batch_to_tensors(batch) for batch in data)

    class OnDevice:
        """The loader's uint8 batches, moved to the GPU and normalised there by batch_to_tensors."""

        def __len__(self):
            return len(loader)

        def __iter__(self):
            return (ch.batch_to_tensors(batch, device) for batch in loader)

    on_gpu = device.type != "cpu"
    model = ch.CNN().to(device)
    optimizer = lesson_optimizer(model)
    batches = Batches()
    loader = DataLoader(batches, batch_size=None, num_workers=workers, pin_memory=on_gpu,
                        persistent_workers=workers > 0)

    def train(start, stop):
        batches.length = (stop - start) // BATCH_SIZE
        model.learn(OnDevice() if on_gpu else loader, optimizer, max_epochs=1)
        return batches.length * BATCH_SIZE
    return train


# Each entry takes (split, device, schedule); only DataLoader's workers need the schedule ahead.
WAYS = {"library": lambda split, device, _: library(split, device),
        "bare": lambda split, device, _: bare(split, device),
        "tutorial": lambda split, device, _: tutorial(split, device),
        "torch0": lambda split, device, schedule: torch_loader(split, device, 0, schedule),
        "torch1": lambda split, device, schedule: torch_loader(split, device, 1, schedule),
        "lesson": lambda split, device, _: library(split, device, flips=True)}
LETTERS = ("a", "b", "c", "d0", "d1", "a+")


def build(way, split, device, schedule):
    """The way's train(start, stop), which returns once the device has done the work."""
    train = WAYS[way](split, device, schedule)
    if device.type != "cuda":
        return train

    def train_and_wait(start, stop):
        images = train(start, stop)
        torch.cuda.synchronize(device)
        return images
    return train_and_wait


def speeds(split, device, rounds):
    """images/s of every way in every round, taking turns segment by segment."""
    parts = segments(len(split))
    schedule = [parts[0]] + parts * rounds  # a warm-up segment, then the rounds
    trainers = {way: build(way, split, device, schedule) for way in WAYS}
    for train in trainers.values():
        train(*schedule[0])
    results = []
    for round_number in range(1, rounds + 1):
        images, seconds = dict.fromkeys(WAYS, 0), dict.fromkeys(WAYS, 0.0)
        for turn, part in enumerate(parts):
            order = list(WAYS)[turn % len(WAYS):] + list(WAYS)[:turn % len(WAYS)]
            for way in order:
                started = time.perf_counter()
                images[way] += trainers[way](*part)
                seconds[way] += time.perf_counter() - started
        results.append({way: images[way] / seconds[way] for way in WAYS})
        print(f"round {round_number}: " + "  ".join(f"({letter}) {results[-1][way]:,.0f}"
                                                    for letter, way in zip(LETTERS, WAYS)) + "  images/s", flush=True)
    return results


def load(args):
    split = ch.load_cifar10("train", root=args.data_dir, source=args.source, subset=args.limit, verbose=False)
    if args.child:  # the memory run keeps the arrays as loaded: a shuffled copy would add to its peak
        return split
    # The copy is stored class by class: shuffle it once, so that every segment holds all ten classes.
    order = np.random.default_rng(0).permutation(len(split))
    return ch.Split(split.images[order], split.labels[order], split.classes, split.source, split.name)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="data", help="folder holding CIFAR-10 (see load_cifar10)")
    parser.add_argument("--source", default="auto", help="load_cifar10 source (auto, local, synthetic, ...)")
    parser.add_argument("--limit", type=int, default=None, help="use only this many training images")
    parser.add_argument("--rounds", type=int, default=3, help="epochs of every way, taking turns; report medians")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="cuda: on an NVIDIA GPU")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.limit is not None and args.limit < SEGMENT:
        parser.error(f"--limit {args.limit} is under one segment: give at least {SEGMENT} images.")
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: give 1 or more.")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: PyTorch finds no CUDA GPU here; leave --device out to time the CPU.")
    device = torch.device(args.device)
    torch.manual_seed(0)
    split = load(args)
    if args.child:  # the memory run: two segments of one way in a process of its own
        loading = peak_rss_mb()
        parts = segments(len(split))[:2]
        train = build(args.child, split, device, parts)
        for part in parts:
            train(*part)
        print(json.dumps({"peak_rss_mb": peak_rss_mb(), "loading_mb": loading}))
        return

    results = speeds(split, device, args.rounds)
    rss = {}
    for way in WAYS:
        command = [sys.executable, __file__, "--child", way, "--data-dir", args.data_dir, "--source", args.source,
                   "--device", args.device]
        out = subprocess.run(command + (["--limit", str(args.limit)] if args.limit else []), check=True,
                             capture_output=True, text=True).stdout
        rss[way] = json.loads(out.strip().splitlines()[-1])

    print(f"\nmedians over {args.rounds} rounds on {device} (torch threads: {torch.get_num_threads()})")
    for letter, way in zip(LETTERS, WAYS):
        print(f"({letter:2s}) {way:9s} {statistics.median(r[way] for r in results):8,.0f} images/s   "
              f"peak RSS {rss[way]['peak_rss_mb']:6,.0f} MB (loading CIFAR-10 alone: {rss[way]['loading_mb']:,.0f} MB)")

    def ratio(top, bottom):
        return statistics.median(r[top] / r[bottom] for r in results)

    print("ratios (median of the per-round ratios):")
    print(f"a/b = {ratio('library', 'bare'):.2f}  (target >= 0.97)")
    print(f"a/c = {ratio('library', 'tutorial'):.2f}  (target >= 2)")
    print(f"a/d0 = {ratio('library', 'torch0'):.2f}  (AsyncDataLoader against DataLoader, num_workers=0; target > 1)")
    print(f"a/d1 = {ratio('library', 'torch1'):.2f}  (the same, num_workers=1; target > 1)")
    print(f"a+/a = {ratio('lesson', 'library'):.2f}  (the cost of notebook 04's RandomFlip, for information)")
    print(f"library peak RSS = {rss['library']['peak_rss_mb'] / 1024:.2f} GB  (target <= 1.5 GB)")


if __name__ == "__main__":
    main()
