"""Choose the device to train on, and ask what it can do.

``select_device(cuda, device)`` turns the lesson's two parameters into a ``torch.device``:
``device="auto"`` takes the accelerator PyTorch finds (``torch.accelerator``: CUDA, Apple's MPS,
Intel's XPU, ...) and else the CPU; ``cuda=True`` or ``False``, where given, wins, as the seed's
``--cuda`` flag did. The capability questions below (``fast_bfloat16``, ``pins_memory``,
``holds_in_memory``) replace tests of ``device.type``, so that a new kind of accelerator needs
no change elsewhere.
"""

from __future__ import annotations

import functools
from types import ModuleType

import torch

from .validation import flag

DEVICES = ("auto", "cpu", "cuda", "mps", "xpu")


def _backend(kind: str) -> ModuleType | None:
    """torch.cuda, torch.mps, torch.xpu, ... or None where this PyTorch has no such module."""
    return getattr(torch, kind, None)


def is_available(kind: str) -> bool:
    """Whether PyTorch can use a device of this kind here ("cpu" always)."""
    if kind == "cpu":
        return True
    if kind == "mps":
        return torch.backends.mps.is_available()
    backend = _backend(kind)
    return bool(backend is not None and backend.is_available())


def check_device(device: object, name: str = "device") -> str | torch.device:
    """``device`` if it is one of DEVICES or a torch.device, else a ValueError naming ``name``."""
    if isinstance(device, torch.device) or device in DEVICES:
        return device
    raise ValueError(f"{name}={device!r} must be one of {', '.join(map(repr, DEVICES))}, "
                     f"such as 'auto' (the accelerator PyTorch finds, else the CPU).")


def select_device(cuda: bool | None = None, device: str | torch.device = "auto") -> torch.device:
    """The device to train on: ``cuda`` when it is True or False, else ``device``.

    ``device="auto"`` is ``torch.accelerator``'s current accelerator where one is available,
    else the CPU; "cpu", "cuda", "mps" and "xpu" ask for that kind. A kind that is not here
    falls back to the CPU. A choice that the student should know about (an accelerator found,
    a fallback, ``cuda`` overriding ``device``) is said in one line; on a machine with nothing but
    a CPU, "auto" chooses it in silence.
    """
    check_device(device)
    asked = device if isinstance(device, torch.device) else None
    if cuda is not None:
        use_cuda = flag(cuda, "cuda")
        kind = "cuda" if use_cuda else "cpu"
        if device not in ("auto", kind) and getattr(asked, "type", None) != kind:
            print(f"cuda={use_cuda} overrides device={str(device)!r}: asking for {kind.upper()}.")
        device, reason = kind, f"cuda={use_cuda}"
    elif asked is not None:
        device, reason = asked.type, f"device={str(asked)!r}"
    elif device == "auto":
        found = torch.accelerator.current_accelerator(check_available=True)
        if found is None:
            return torch.device("cpu")
        print(f"device='auto': training on {found.type}, the accelerator PyTorch finds here "
              f"(device='cpu' keeps to the CPU).")
        return torch.device(found.type)
    else:
        reason = f"device={device!r}"
    if not is_available(device):
        print(f"{reason}, but PyTorch finds no {device.upper()} device on this machine: running on the CPU.")
        return torch.device("cpu")
    return torch.device(asked if asked is not None and asked.type == device else device)


def _amx() -> bool:
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # PyTorch's own check, private: looked up with care
    return amx is not None and bool(amx())


def _native_bfloat16(kind: str) -> bool:
    """Whether an accelerator of this kind multiplies bfloat16 in hardware (False where unknown)."""
    backend = _backend(kind)
    if kind == "cuda":  # since Ampere (A100, RTX 30xx); the T4 only emulates it
        return backend.is_available() and backend.is_bf16_supported(including_emulation=False)
    supported = getattr(backend, "is_bf16_supported", None)  # XPU has it; MPS does not say
    return bool(kind != "mps" and is_available(kind) and supported is not None and supported())


def fast_bfloat16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 much faster than float32: a recent GPU, or a CPU with AMX.

    NVIDIA GPUs since Ampere and Intel's XPUs have bfloat16 in hardware. AMX (Intel Xeon since
    Sapphire Rapids, 2023) multiplies bfloat16 matrices in hardware, which makes notebook 6's
    training step about three times faster than in float32 (benchmarks/bench_fast_net.py). Laptop
    CPUs have no AMX: most emulate bfloat16, more slowly than float32; Apple's MPS is left in
    float32 too. ``FastNet(bfloat16=True)`` tries bfloat16 anywhere.
    """
    kind = torch.device(device).type
    if kind == "cpu":
        return _amx()
    return kind in DEVICES and _native_bfloat16(kind)


@functools.cache
def pins_memory(kind: str) -> bool:
    """Whether copies to a device of this kind gain from page-locked ("pinned") host memory.

    A copy from pinned memory need not wait (``non_blocking``); the CPU needs no copy at all.
    Asked of PyTorch once: pinning raises where the machine cannot do it.
    """
    if kind == "cpu" or not is_available(kind):
        return False
    try:
        torch.empty(1).pin_memory()
    except RuntimeError:
        print(f"this {kind} device cannot use pinned memory: batches are copied to it without it.")
        return False
    return True


def free_memory(device: torch.device | str) -> int | None:
    """Bytes free on an accelerator, where its backend says (None where it does not)."""
    device = torch.device(device)
    if device.type == "mps":
        return torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory()
    mem_get_info = getattr(_backend(device.type), "mem_get_info", None)
    return mem_get_info(device)[0] if mem_get_info is not None and is_available(device.type) else None


def holds_in_memory(device: torch.device | str, nbytes: int) -> bool:
    """Whether to keep ``nbytes`` of data (a whole training set) on ``device`` for the whole run.

    On an accelerator with room to spare (four times the data, for the batches cut from it) every
    batch is made there, with no copy per step. The CPU keeps its arrays where they are. A device
    short of memory says so in one line.
    """
    device = torch.device(device)
    if device.type == "cpu":
        return False
    free = free_memory(device)
    if free is not None and free < 4 * nbytes:
        print(f"{device} has {free / 2**30:.1f} GiB free, too little to keep {nbytes / 2**30:.2f} GiB of images "
              f"there: batches are copied to it one by one.")
        return False
    return True
