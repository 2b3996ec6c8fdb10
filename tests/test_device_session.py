"""select_device, set_seed, and where the code runs (is_headless, quick_profile, lesson_path)."""

import random
from types import SimpleNamespace

import IPython
import numpy as np
import pytest
import torch

from cifar_helpers import is_headless, quick_profile, select_device, set_seed


def test_select_device_cpu(capsys):
    assert select_device(False) == torch.device("cpu")
    assert capsys.readouterr().out == ""


def test_select_device_cuda_without_cuda_falls_back_to_cpu(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device(True) == torch.device("cpu")
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "CPU" in out


def test_select_device_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device(True) == torch.device("cuda")


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
