"""What a CPU (or GPU) does per second with notebook 6's FastNet: number format, batch, layout, frozen layer, widths.

    python benchmarks/bench_fast_net.py [--widths 64,256,256] [--compare 16,64,256 64,256,256] [--seconds 6] [--cuda]
                                        [--compile] [--loader-batch 500]

One training step as notebook 6 takes it (forward, backward, a Muon step for the filters and SGD
for the rest) on random images, for several settings; each is timed for about ``--seconds``
after a warm-up, in rounds that alternate the settings so that a machine whose speed drifts
skews them alike. The script prints images/s for each (median over rounds) and its ratio to the
reference: notebook 6's setting after the first epoch on this machine (bfloat16 where that is fast,
`fast_bfloat16`, batch 500, channels_last, whitening bias frozen); the other number format is one
of the variants. ``--widths`` defaults to notebook 6's choice for the device. A second table
compares the ``--compare`` widths with ``--widths`` at that setting, with the multiply-adds of one
image's forward pass (in float32 on a 2-core CPU the speeds follow them closely; in bfloat16 less so).
``--compile`` adds the reference under ``torch.compile`` to the first table, with the time
compiling took (tools/gpu_check.sh asks for it on a GPU).
A third table times notebook 6's training loader on its own (shuffled batches of ``--loader-batch``,
mirrored every other epoch, shifted and made tensors on the device), with the images in host memory as numpy
arrays and, as notebook 6 keeps them on a GPU, as tensors on the device: the training keeps
pace only where the loader prepares more images per second than a training step takes.
Run it with nothing else busy: on 2 cores a second process skews every figure, and a machine's
speed can drift, so compare ratios from one run. Its runs are in benchmarks/RESULTS.md.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from cifar_helpers import (AlternatingFlip, DataSet, FastNet, Muon, RandomCrop, batch_to_tensors, default_widths,
                           fast_bfloat16)
from cifar_helpers.core.validation import argument_type, whole_number
from cifar_helpers.lesson.parameters import check_widths


def make_step(widths, batch_size, channels_last, frozen_bias, device, bfloat16=None, compile_backend=None):
    """A function doing one training step of a fresh FastNet on a fixed random batch.

    bfloat16: FastNet's (None: where the device computes it fast).

    compile_backend: None, or a torch.compile backend ("inductor", its default) for the forward
    and backward passes; the first step then compiles.
    """
    torch.manual_seed(0)
    model = FastNet(widths, bfloat16=bfloat16).whiten(torch.randn(500, 3, 32, 32)).to(device)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    model.patches.bias.requires_grad_(not frozen_bias)
    images = torch.randn(batch_size, 3, 32, 32, device=device).contiguous(memory_format=memory_format)
    labels = torch.randint(0, 10, (batch_size,), device=device)
    filters = [p for p in model.parameters() if p.ndim == 4 and p.requires_grad]
    others = [p for p in model.parameters() if p.ndim < 4 and p.requires_grad]
    optimizer = Muon([{"params": filters, "lr": 0.01},
                      {"params": others, "orthogonalise": False, "lr": 0.01, "momentum": 0.85}])

    forward = model if compile_backend is None else torch.compile(model, backend=compile_backend)

    def step():
        loss = F.cross_entropy(forward((images, labels)), labels)
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


def loader_images_per_second(images, labels, batch_size, device, seconds):
    """Images/s that notebook 6's training loader prepares from ``images`` (numpy, or tensors on ``device``)."""
    data = AlternatingFlip(DataSet([images, labels], batch_size=batch_size, shuffle=True, drop_last=True, seed=0),
                           seed=0)
    crop = RandomCrop(pad=2, seed=0)

    def batches():
        while True:
            for batch in data:  # each epoch mirrors the half of the images the epoch before did not
                yield batch_to_tensors(crop(batch), device)

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize()

    prepared = batches()
    next(prepared)  # warm-up
    synchronize()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        count += len(next(prepared)[1])
        synchronize()
    return count / (time.perf_counter() - started)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=argument_type(check_widths),
                        help="FastNet's widths (default notebook 6's for the device: 64,256,256 where bfloat16 is "
                             "fast, else 32,96,192)")
    parser.add_argument("--compare", type=argument_type(check_widths), nargs="*",
                        default=[(16, 64, 256), (32, 96, 192), (48, 192, 192), (64, 256, 256)],
                        help="other widths to time against --widths (default 16,64,256 32,96,192 48,192,192 "
                             "64,256,256)")
    parser.add_argument("--seconds", type=float, default=6.0, help="timing per setting and round (default 6)")
    parser.add_argument("--loader-batch", type=argument_type(whole_number, "--loader-batch", 500), default=500,
                        help="batch size of the loader's timing (default 500, notebook 6's; 2000 on a GPU)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all settings (default 2)")
    parser.add_argument("--cuda", action="store_true", help="on the GPU (default: the CPU)")
    parser.add_argument("--compile", action="store_true",
                        help="also time the reference setting under torch.compile (compiling takes a minute or more)")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    device = torch.device("cuda" if args.cuda else "cpu")
    bf16 = fast_bfloat16(device)
    widths = args.widths or default_widths(bf16)
    # (widths, batch size, channels_last, whitening bias frozen, bfloat16)
    reference = (widths, 500, True, True, bf16)
    variants = [reference, (widths, 500, True, True, not bf16), (widths, 500, True, False, bf16),
                (widths, 500, False, True, bf16), (widths, 125, True, True, bf16), (widths, 250, True, True, bf16),
                (widths, 1000, True, True, bf16)]
    compared = [reference] + [(other, 500, True, True, bf16) for other in args.compare if other != widths]
    settings = variants + compared[1:]
    steps = {setting: make_step(*setting[:4], device, bfloat16=setting[4]) for setting in settings}
    speeds = {setting: [] for setting in settings}
    for _ in range(args.rounds):
        for setting in settings:
            speeds[setting].append(images_per_second(steps[setting], setting[1], args.seconds))
    speed = {setting: statistics.median(values) for setting, values in speeds.items()}
    if args.compile:  # after the others, so that compiling's threads do not skew them
        compiled = make_step(*reference[:4], device, bfloat16=bf16, compile_backend="inductor")
        started = time.perf_counter()
        compiled()
        compile_seconds = time.perf_counter() - started
        compiled_speed = statistics.median(images_per_second(compiled, reference[1], args.seconds)
                                           for _ in range(args.rounds))

    def show(name, setting):
        print(f"  {name:<62} {speed[setting]:8.0f}   ratio to reference {speed[setting] / speed[reference]:.2f}")

    print(f"FastNet{widths} on {device} ({torch.get_num_threads()} threads), a training step, images/s:")
    for setting in variants:
        _, batch_size, channels_last, frozen_bias, bfloat16 = setting
        show(f"{'bfloat16' if bfloat16 else 'float32':<8}, batch {batch_size:>4}, "
             f"{'channels_last' if channels_last else 'contiguous':<13}, "
             f"whitening bias {'frozen' if frozen_bias else 'learning'}", setting)
    if args.compile:
        print(f"  {f'the reference under torch.compile ({compile_seconds:.0f} s to compile)':<62} "
              f"{compiled_speed:8.0f}   ratio to reference {compiled_speed / speed[reference]:.2f}")
    print(f"Widths in {'bfloat16' if bf16 else 'float32'}, batch 500, channels_last, whitening bias frozen "
          "(multiply-adds per image, forward):")
    for setting in compared:
        show(f"FastNet{setting[0]}, {multiply_adds(steps[setting].model) / 1e6:5.1f} M multiply-adds", setting)

    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20 * args.loader_batch, 32, 32, 3), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (len(images),), generator=generator)
    host = loader_images_per_second(images.numpy(), labels.numpy(), args.loader_batch, device, args.seconds)
    kept = loader_images_per_second(images.to(device), labels.to(device), args.loader_batch, device, args.seconds)
    print(f"The training loader alone (mirror every other epoch, shift, to tensors on {device}), "
          f"batch {args.loader_batch}, images/s:")
    print(f"  {'images in host memory (numpy), as on a CPU':<62} {host:8.0f}   ratio to the reference step "
          f"{host / speed[reference]:.2f}")
    print(f"  {'images kept on ' + str(device) + ' (tensors), as notebook 6 on a GPU':<62} {kept:8.0f}   "
          f"ratio to the reference step {kept / speed[reference]:.2f}")


if __name__ == "__main__":
    main()
