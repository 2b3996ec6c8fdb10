"""tools/airbench_reference.py: airbench94_muon.py on the lesson's images. The GPU run itself needs CUDA;
here a stand-in airbench file checks what the script does around it."""

import importlib.util
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cifar_helpers import load_cifar10
from cifar_helpers.data.cifar10_spec import CLASSES

PATH = Path(__file__).resolve().parent.parent / "tools" / "airbench_reference.py"
spec = importlib.util.spec_from_file_location("airbench_reference", PATH)
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)

# What the script needs of airbench94_muon.py: CifarNet, main(run, model) -> accuracy, and its table printer.
STAND_IN = textwrap.dedent('''
    import sys
    from pathlib import Path
    import torch
    with open(sys.argv[0]) as f:  # as airbench94_muon.py does
        code = f.read()
    calls = []
    logging_columns_list = ["run", "epoch"]
    def print_columns(columns, is_head=False):
        print("TABLE", columns)
    class CifarNet:
        compiled = False
        def cuda(self):
            return self
        def to(self, memory_format):
            assert memory_format is torch.channels_last
            return self
        def compile(self):
            self.compiled = True
    def main(run, model):
        data = torch.load(Path("cifar10") / "train.pt")  # airbench reads ./cifar10
        calls.append((run, model.compiled, len(data["labels"])))
        return 0.9 + 0.01 * (len(calls) % 2)
''')


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    path = tmp_path / "airbench94_muon.py"
    path.write_text(STAND_IN)
    monkeypatch.chdir(tmp_path)  # the script moves into its work folder; come back after
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    return path


def test_the_images_are_written_in_airbenchs_format(tmp_path):
    written = reference.export_for_airbench(tmp_path / "cifar10", source="synthetic")
    assert [p.name for p in written] == ["train.pt", "test.pt"]
    assert sorted(p.name for p in (tmp_path / "cifar10").iterdir()) == ["test.pt", "train.pt"]  # nothing partial
    for split, path in zip(("train", "test"), written):
        data = torch.load(path, weights_only=True)  # airbench's torch.load, PyTorch's safe default
        expected = load_cifar10(split, source="synthetic")
        assert data["images"].dtype == torch.uint8 and data["images"].shape == (len(expected), 32, 32, 3)
        assert np.array_equal(data["images"].numpy(), expected.images)
        assert np.array_equal(data["labels"].numpy(), expected.labels) and data["classes"] == list(CLASSES)


def test_it_runs_airbench_the_given_number_of_times_on_those_images(stand_in, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Stand-in GPU")
    work = tmp_path / "work"
    assert reference.main(["--airbench", str(stand_in), "--runs", "3", "--source", "synthetic",
                           "--work", str(work)]) == 0
    out = capsys.readouterr().out
    assert "TABLE ['run', 'epoch']" in out
    assert ("airbench94_muon on Stand-in GPU: test accuracy with test-time augmentation 90.67% over 3 runs "
            "(standard deviation 0.58%): 91.00%, 90.00%, 91.00%") in out
    assert (work / "cifar10" / "train.pt").is_file() and Path.cwd() == work


def test_compile_warms_the_compiled_model_up_once_before_the_runs(stand_in, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Stand-in GPU")
    loaded = []
    load = reference.load_airbench
    monkeypatch.setattr(reference, "load_airbench", lambda path: loaded.append(load(path)) or loaded[-1])
    assert reference.main(["--airbench", str(stand_in), "--runs", "2", "--compile", "--source", "synthetic",
                           "--work", str(tmp_path / "work")]) == 0
    n = len(load_cifar10("train", source="synthetic"))
    assert loaded[0].calls == [("warmup", True, n), (0, True, n), (1, True, n)]
    assert "over 2 runs" in capsys.readouterr().out


def test_without_cuda_it_says_so_in_one_line(stand_in, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert reference.main(["--airbench", str(stand_in)]) == 1
    assert capsys.readouterr().err == ("airbench_reference.py: airbench94_muon.py runs on an NVIDIA GPU only, "
                                       "and PyTorch sees none here.\n")


def test_bad_arguments_and_a_wrong_file_get_one_line_errors(stand_in, tmp_path, capsys):
    with pytest.raises(SystemExit):
        reference.parse_args(["--airbench", str(tmp_path / "missing.py")])
    assert "argument --airbench: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        reference.parse_args(["--airbench", str(stand_in), "--runs", "0"])
    assert "argument --runs: --runs=0 must be a positive whole number, such as 5." in capsys.readouterr().err
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(SystemExit, match=r"--airbench .*other.py: no CifarNet or main or print_columns or "
                                         r"logging_columns_list in it; give airbench94_muon.py"):
        reference.load_airbench(other)
