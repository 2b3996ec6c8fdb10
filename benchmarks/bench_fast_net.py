"""What a CPU (or GPU) does per second with notebook 6's FastNet: batch size, memory layout, frozen first layer.

    python benchmarks/bench_fast_net.py [--widths 32,96,192] [--seconds 6] [--cuda]

One training step as notebook 6 takes it (forward, backward, a Muon step for the filters and SGD
for the rest) on random images, for several settings; each is timed for about ``--seconds``
after a warm-up, in rounds that alternate the settings so that a machine whose speed drifts
skews them alike. The script prints images/s for each (median over rounds) and its ratio to the
reference: batch 500, channels_last, whitening bias frozen (notebook 6's setting after the first
epoch). Run it with nothing else busy: on 2 cores a second process skews every figure.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cifar_helpers import FastNet, Muon


def make_step(widths, batch_size, channels_last, frozen_bias, device):
    """A function doing one training step of a fresh FastNet on a fixed random batch."""
    torch.manual_seed(0)
    model = FastNet(widths).whiten(torch.randn(500, 3, 32, 32)).to(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    model.patches.bias.requires_grad_(not frozen_bias)
    images = torch.randn(batch_size, 3, 32, 32, device=device).contiguous(memory_format=memory_format)
    labels = torch.randint(0, 10, (batch_size,), device=device)
    filters = [p for p in model.parameters() if p.ndim == 4 and p.requires_grad]
    others = [p for p in model.parameters() if p.ndim < 4 and p.requires_grad]
    optimizer = Muon([{"params": filters, "lr": 0.01},
                      {"params": others, "orthogonalise": False, "lr": 0.01, "momentum": 0.85}])

    def step():
        loss = F.cross_entropy(model((images, labels)), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
    step.model = model  # for tests
    return step


def images_per_second(step, batch_size, seconds):
    for _ in range(2):
        step()  # warm-up: allocation, kernel choice
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        steps += 1
    return steps * batch_size / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="32,96,192", help="FastNet's widths (default notebook 6's, 32,96,192)")
    parser.add_argument("--seconds", type=float, default=6.0, help="timing per setting and round (default 6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all settings (default 2)")
    parser.add_argument("--cuda", action="store_true", help="on the GPU (default: the CPU)")
    args = parser.parse_args()
    widths = tuple(int(w) for w in args.widths.split(","))
    device = torch.device("cuda" if args.cuda else "cpu")
    reference = (500, True, True)
    settings = [reference, (500, True, False), (500, False, True), (125, True, True), (250, True, True),
                (1000, True, True)]
    steps = {setting: make_step(widths, *setting, device) for setting in settings}
    speeds = {setting: [] for setting in settings}
    for _ in range(args.rounds):
        for setting in settings:
            speeds[setting].append(images_per_second(steps[setting], setting[0], args.seconds))
    print(f"FastNet{widths} on {device} ({torch.get_num_threads()} threads), a training step, images/s:")
    base = statistics.median(speeds[reference])
    for (batch_size, channels_last, frozen_bias), values in speeds.items():
        speed = statistics.median(values)
        name = (f"batch {batch_size:>4}, {'channels_last' if channels_last else 'contiguous':<13}, "
                f"whitening bias {'frozen' if frozen_bias else 'learning'}")
        print(f"  {name:<58} {speed:8.0f}   ratio to reference {speed / base:.2f}")


if __name__ == "__main__":
    main()
