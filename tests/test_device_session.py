"""select_device, set_seed, and where the code runs (is_headless, quick_profile, lesson_path)."""

import random
from types import SimpleNamespace

import IPython
import numpy as np
import pytest
import torch

from cifar_helpers import (batch_to_tensors, check_parameters, fast_bfloat16, holds_in_memory, is_headless,
                           quick_profile, select_device, set_seed)
from cifar_helpers.core.device import pins_memory


class StandIn:
    """An accelerator of a given kind that "is there" for PyTorch's availability questions, on the CPU."""

    def __init__(self, monkeypatch, kind=None, free=None):
        found = torch.device(kind) if kind else None
        monkeypatch.setattr(torch.accelerator, "current_accelerator",
                            lambda check_available=False: found)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: kind == "cuda")
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: kind == "mps")
        monkeypatch.setattr(torch.xpu, "is_available", lambda: kind == "xpu")
        if free is not None:
            monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))


# (cuda, device, accelerator here, chosen, what the one line says or None for silence)
CHOICES = [
    (None, "auto", None, "cpu", None),  # nothing but a CPU: no word
    (None, "auto", "mps", "mps", "device='auto': training on mps"),  # an Apple laptop's GPU is used
    (None, "auto", "xpu", "xpu", "training on xpu"),
    (None, "auto", "cuda", "cuda", "training on cuda"),
    (None, "cpu", "mps", "cpu", None),
    (None, "mps", "mps", "mps", None),
    (None, "mps", None, "cpu", "device='mps', but PyTorch finds no MPS device on this machine: running on the CPU"),
    (None, "cuda", "mps", "cpu", "no CUDA device"),
    (True, "auto", "cuda", "cuda", None),  # the card's -p cuda true
    (True, "auto", None, "cpu", "cuda=True, but PyTorch finds no CUDA device on this machine: running on the CPU"),
    (True, "mps", "cuda", "cuda", "cuda=True overrides device='mps'"),
    (False, "auto", "cuda", "cpu", None),  # -p cuda false: the CPU, whatever is there
    (False, "cuda", "cuda", "cpu", "cuda=False overrides device='cuda'"),
    (False, "cpu", None, "cpu", None),
    (None, torch.device("cuda", 1), "cuda", "cuda:1", None),
]


@pytest.mark.parametrize("cuda, device, here, chosen, said", CHOICES)
def test_select_device_follows_cuda_then_device(monkeypatch, capsys, cuda, device, here, chosen, said):
    StandIn(monkeypatch, here)
    assert select_device(cuda, device) == torch.device(chosen)
    out = capsys.readouterr().out
    if said is None:
        assert out == ""
    else:
        assert said in out and len(out.splitlines()) == 1, out


def test_select_device_keeps_the_seeds_positional_cuda(monkeypatch):
    StandIn(monkeypatch, "cuda")
    assert select_device(True) == torch.device("cuda") and select_device(False) == torch.device("cpu")
    assert select_device() == torch.device("cuda")  # "auto"


@pytest.mark.parametrize("device", ["gpu", "CUDA", "", None, 0])
def test_an_unknown_device_is_refused_in_one_line(device):
    with pytest.raises(ValueError, match=r"^device=.* must be one of 'auto', 'cpu', 'cuda', 'mps', 'xpu'") as error:
        select_device(None, device)
    assert "\n" not in str(error.value)


def test_papermill_text_for_cuda_and_device_is_read_at_the_boundary():
    assert check_parameters({"cuda": "true", "device": "mps"}) == {"cuda": True, "device": "mps"}
    assert check_parameters({"cuda": "None"}) == {"cuda": None} and check_parameters({"cuda": "false"}) == {
        "cuda": False}
    with pytest.raises(ValueError, match="device='tpu'"):
        check_parameters({"device": "tpu"})


def test_fast_bfloat16_asks_each_kind_of_device(monkeypatch):
    StandIn(monkeypatch, "xpu")
    monkeypatch.setattr(torch.xpu, "is_bf16_supported", lambda *a, **k: True, raising=False)
    assert fast_bfloat16("xpu")
    monkeypatch.setattr(torch.xpu, "is_bf16_supported", lambda *a, **k: False)
    assert not fast_bfloat16("xpu")
    StandIn(monkeypatch, "mps")
    assert not fast_bfloat16("mps")  # not known to be fast: float32 unless asked
    StandIn(monkeypatch, None)
    assert not fast_bfloat16("xpu")  # not here


def test_pinned_memory_only_for_an_accelerator_that_can_pin(monkeypatch, capsys):
    pins_memory.cache_clear()
    assert not pins_memory("cpu")
    StandIn(monkeypatch, "cuda")

    def cannot_pin(self):
        raise RuntimeError("no pinned memory here")

    monkeypatch.setattr(torch.Tensor, "pin_memory", cannot_pin)
    assert not pins_memory("cuda")
    assert "pinned memory" in capsys.readouterr().out  # one line, then the copies go without it
    pins_memory.cache_clear()
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: self)
    assert pins_memory("cuda")
    pins_memory.cache_clear()


def test_batch_to_tensors_on_another_device_normalises_there():
    images = np.zeros((2, 32, 32, 3), np.uint8)
    x, y = batch_to_tensors((images, np.array([1, 2])), "meta")  # a device without data, no pinning
    assert x.device.type == y.device.type == "meta" and x.shape == (2, 3, 32, 32) and x.dtype == torch.float32


@pytest.mark.parametrize("free, kept", [(10 * 2**30, True), (2**28, False)])
def test_the_training_images_stay_on_an_accelerator_with_room(monkeypatch, capsys, free, kept):
    StandIn(monkeypatch, "cuda", free=free)
    assert holds_in_memory("cuda", 150 * 2**20) is kept
    assert ("too little" in capsys.readouterr().out) is not kept
    assert holds_in_memory("cpu", 1) is False  # the CPU keeps its arrays where they are


def test_set_seed_makes_every_generator_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    set_seed(3)
    first = draw()
    set_seed(3)
    assert draw() == first
    set_seed(4)
    assert draw() != first


@pytest.mark.parametrize("seed", [-1, 1.5, "zero", True, None])
def test_set_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        set_seed(seed)


def test_is_headless(monkeypatch):
    monkeypatch.setenv("CIFAR_HEADLESS", "1")
    assert is_headless() is True
    monkeypatch.delenv("CIFAR_HEADLESS")
    assert is_headless() is True  # no Jupyter kernel here


@pytest.mark.parametrize("allow_stdin, headless", [(True, False), (False, True)])
def test_is_headless_in_a_kernel(monkeypatch, allow_stdin, headless):
    """JupyterLab allows input (a person is there); papermill and nbclient do not."""
    shell = SimpleNamespace(kernel=SimpleNamespace(_allow_stdin=allow_stdin))
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setenv("CIFAR_HEADLESS", "0")
    assert is_headless() is headless
    monkeypatch.setenv("CIFAR_HEADLESS", "1")
    assert is_headless() is True


@pytest.mark.parametrize("value, quick", [(None, False), ("", False), ("0", False), ("1", True), ("false", False),
                                         ("off", False), ("no", False), ("true", True), ("Yes", True)])
def test_quick_profile_follows_cifar_quick(monkeypatch, capsys, value, quick):
    if value is None:
        monkeypatch.delenv("CIFAR_QUICK", raising=False)
    else:
        monkeypatch.setenv("CIFAR_QUICK", value)
    assert quick_profile() is quick
    assert ("QUICK PROFILE" in capsys.readouterr().out) is quick  # it says so when active
    assert quick_profile(announce=False) is quick
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("variable, reader", [("CIFAR_QUICK", quick_profile), ("CIFAR_HEADLESS", is_headless)])
def test_a_flag_that_is_not_on_or_off_is_refused_with_its_name(monkeypatch, variable, reader):
    monkeypatch.setenv(variable, "maybe")
    with pytest.raises(ValueError, match=f"^{variable}='maybe' is not an on/off value: set it to 1 or 0"):
        reader()


def test_lesson_path_counts_from_the_lesson_top_folder(tmp_path, monkeypatch):
    from pathlib import Path

    from cifar_helpers import lesson_path

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_loading.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path / "notebooks")  # JupyterLab runs a notebook in its own folder
    assert lesson_path("data") == Path("../data")
    monkeypatch.chdir(tmp_path)  # papermill started from the top folder
    assert lesson_path("runs/lesson") == Path("runs/lesson")
    assert lesson_path(tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_lesson_path_outside_a_lesson_keeps_the_path(tmp_path, monkeypatch):
    from pathlib import Path

    from cifar_helpers import lesson_path

    monkeypatch.chdir(tmp_path)
    assert lesson_path("data") == Path("data")
