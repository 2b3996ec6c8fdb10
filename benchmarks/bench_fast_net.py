"""What a CPU (or GPU) does per second with notebook 6's FastNet: batch size, memory layout, frozen first layer, widths.

    python benchmarks/bench_fast_net.py [--widths 32,96,192] [--compare 16,64,256 64,256,256] [--seconds 6] [--cuda]

One training step as notebook 6 takes it (forward, backward, a Muon step for the filters and SGD
for the rest) on random images, for several settings; each is timed for about ``--seconds``
after a warm-up, in rounds that alternate the settings so that a machine whose speed drifts
skews them alike. The script prints images/s for each (median over rounds) and its ratio to the
reference: batch 500, channels_last, whitening bias frozen (notebook 6's setting after the first
epoch). A second table compares the ``--compare`` widths with ``--widths`` at that setting, with
the multiply-adds of one image's forward pass (on a 2-core CPU the speeds follow them closely).
Run it with nothing else busy: on 2 cores a second process skews every figure, and a virtual
machine's speed drifts, so compare ratios from one run.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cifar_helpers import FastNet, Muon
from cifar_helpers.parameters import check_widths


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


def multiply_adds(model):
    """Multiply-adds of one 32 x 32 image's forward pass through ``model``'s convolutions and linear layers."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            per_output = module.in_features
        total += output[0].numel() * per_output

    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    hooks = [layer.register_forward_hook(count) for layer in layers]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()  # one image: leave the batch norms' running statistics alone
            model((torch.zeros(1, 3, 32, 32, device=next(model.parameters()).device), None))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return total


def images_per_second(step, batch_size, seconds):
    for _ in range(2):
        step()  # warm-up: allocation, kernel choice
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        steps += 1
    return steps * batch_size / (time.perf_counter() - started)


def widths_option(text):
    """argparse type for widths such as 32,96,192; the project's own check gives the message."""
    try:
        return check_widths(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=widths_option, default=(32, 96, 192),
                        help="FastNet's widths (default notebook 6's, 32,96,192)")
    parser.add_argument("--compare", type=widths_option, nargs="*",
                        default=[(16, 64, 256), (24, 64, 256), (64, 256, 256)],
                        help="other widths to time against --widths (default 16,64,256 24,64,256 64,256,256)")
    parser.add_argument("--seconds", type=float, default=6.0, help="timing per setting and round (default 6)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all settings (default 2)")
    parser.add_argument("--cuda", action="store_true", help="on the GPU (default: the CPU)")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    widths = args.widths
    device = torch.device("cuda" if args.cuda else "cpu")
    reference = (widths, 500, True, True)  # (widths, batch size, channels_last, whitening bias frozen)
    variants = [reference, (widths, 500, True, False), (widths, 500, False, True), (widths, 125, True, True),
                (widths, 250, True, True), (widths, 1000, True, True)]
    compared = [reference] + [(other, 500, True, True) for other in args.compare if other != widths]
    settings = variants + compared[1:]
    steps = {setting: make_step(*setting, device) for setting in settings}
    speeds = {setting: [] for setting in settings}
    for _ in range(args.rounds):
        for setting in settings:
            speeds[setting].append(images_per_second(steps[setting], setting[1], args.seconds))
    speed = {setting: statistics.median(values) for setting, values in speeds.items()}

    def show(name, setting):
        print(f"  {name:<58} {speed[setting]:8.0f}   ratio to reference {speed[setting] / speed[reference]:.2f}")

    print(f"FastNet{widths} on {device} ({torch.get_num_threads()} threads), a training step, images/s:")
    for setting in variants:
        _, batch_size, channels_last, frozen_bias = setting
        show(f"batch {batch_size:>4}, {'channels_last' if channels_last else 'contiguous':<13}, "
             f"whitening bias {'frozen' if frozen_bias else 'learning'}", setting)
    print("Widths at batch 500, channels_last, whitening bias frozen (multiply-adds per image, forward):")
    for setting in compared:
        show(f"FastNet{setting[0]}, {multiply_adds(steps[setting].model) / 1e6:5.1f} M multiply-adds", setting)


if __name__ == "__main__":
    main()
