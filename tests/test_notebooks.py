"""The lesson's notebooks: their shape, their parameters, and headless runs with papermill.

nbval re-executes the committed notebooks as well (pytest collects notebooks/ with --nbval-lax);
these tests check what nbval does not: structure, hygiene, the runner, papermill parameters.
"""

import ast
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

import cifar_helpers
from cifar_helpers import run

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.name for p in NOTEBOOKS]


def read(path):
    return nbformat.read(path, as_version=4)


def parameters_cells(nb):
    return [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]


def test_the_lesson_has_five_numbered_notebooks():
    assert [n[:2] for n in NAMES] == ["01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_one_parameters_cell_of_literals(path):
    cells = parameters_cells(read(path))
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse(cells[0].source)
    for statement in tree.body:
        assert isinstance(statement, ast.Assign), f"only assignments: {ast.unparse(statement)}"
        ast.literal_eval(statement.value)  # raises on anything but a literal


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_committed_notebook_is_clean(path):
    nb = read(path)
    text = path.read_text()
    assert path.stat().st_size < 2 * 1024 * 1024
    assert "widgets" not in nb.metadata and "papermill" not in nb.metadata
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    for machine_path in ("/work/", "/tmp/", "/root/", "/home/", "site-packages"):
        assert machine_path not in text, f"machine path {machine_path} in {path.name}"
    assert "QUICK PROFILE" not in text and "SYNTHETIC" not in text, "committed outputs come from real data"
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert all(isinstance(n, int) for n in counts), "every code cell was executed"
    assert counts == sorted(counts), "executed top to bottom"
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_opens_with_goal_and_time_and_ends_with_exercises(path):
    markdown = [c.source for c in read(path).cells if c.cell_type == "markdown"]
    assert "**Goal:**" in markdown[0] and "**Time:**" in markdown[0]
    assert "## Exercises" in markdown[-1]


def test_notebook_03_cnn_is_the_library_cnn():
    cells = [c for c in read(NOTEBOOK_DIR / "03_model.ipynb").cells if "cnn-definition" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    assert cells[0].source.strip() == inspect.getsource(cifar_helpers.cnn.CNN).strip()


def test_later_notebooks_import_the_library_cnn():
    for name in ("04_training.ipynb", "05_evaluation.ipynb"):
        code = "\n".join(c.source for c in read(NOTEBOOK_DIR / name).cells if c.cell_type == "code")
        assert "class CNN" not in code and "CNN" in code


def test_runner_knows_every_parameter_the_notebooks_declare():
    args = run.parse_args(["--cuda", "--epochs", "3", "--data-dir", "d", "--source", "synthetic",
                           "--train-subset", "10", "--batch-size", "8", "--learning-rate", "0.1",
                           "--dropout", "0.1", "--patience", "2", "--seed", "1", "--out", "o",
                           "--no-flips", "--no-mirror"])
    assert args.random_flips is False and args.mirror is False
    assert run.parse_args([]).random_flips is None  # not given: the notebook's own default
    known = set(run.lesson_parameters(args)) | {"validation_fraction"}
    for path in NOTEBOOKS:
        assert run.declared_parameters(path) <= known, path.name


def test_runner_passes_each_notebook_only_what_it_declares(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda nb, out, parameters, **kw: seen.update(parameters))
    parameters = {"max_epochs": 3, "data_dir": "d", "run_dir": "r", "cuda": True}
    run.run_notebook(NOTEBOOK_DIR / "01_loading.ipynb", tmp_path, parameters)
    assert seen == {"data_dir": "d"}


def test_runner_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        run.parse_args(["--epochs", "0"])
    assert "--epochs must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run.parse_args(["--batch-size", "-1"])
    assert "--batch-size must be >= 1" in capsys.readouterr().err


def test_whole_lesson_runs_headless(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIFAR_QUICK", "0")  # the runner's own settings, not the quick profile's
    out = tmp_path / "run"
    code = run.main(["--source", "synthetic", "--epochs", "1", "--out", str(out), "--data-dir", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == NAMES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_images"] == 500 and metrics["source"] == "synthetic"
    assert metrics["epochs_trained"] == 1
    assert metrics["mirror"] is True and 0 <= metrics["one_look_test_accuracy"] <= 1  # notebook 05's default
    assert (out / "model.pt").is_file() and (out / "history.json").is_file()
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"confusion_matrix.png", "training_curves.png", "predictions.png"} <= figures
    assert "test accuracy" in printed and "one look" in printed and str(out) in printed
    trained = read(out / "notebooks" / "04_training.ipynb")
    outputs = [o for c in trained.cells if c.cell_type == "code" for o in c.outputs]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 1, "the live plot leaves exactly one figure"
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def papermill_cli(tmp_path, *parameters):
    out = tmp_path / "out.ipynb"
    command = [sys.executable, "-m", "papermill", "notebooks/04_training.ipynb", str(out),
               "-p", "run_dir", str(tmp_path / "run"), "-p", "max_epochs", "1", *parameters]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)  # as the README says, from the top
    return "".join(o.get("text", "") for c in read(out).cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("value", ["False", "false"])
def test_papermill_cuda_false_means_cpu(tmp_path, value):
    printed = papermill_cli(tmp_path, "-p", "cuda", value)
    assert "training on cpu" in printed
    assert "no CUDA GPU" not in printed


def test_papermill_cuda_true_uses_gpu_or_says_why_not(tmp_path):
    import torch

    printed = papermill_cli(tmp_path, "-p", "cuda", "True")
    if torch.cuda.is_available():
        assert "training on cuda" in printed
    else:
        assert "no CUDA GPU" in printed and "training on cpu" in printed


def test_runner_names_the_failing_notebook_and_cell(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIFAR_QUICK", "0")  # the quick profile would switch to synthetic data
    empty = tmp_path / "no-data"
    empty.mkdir()
    code = run.main(["--source", "local", "--data-dir", str(empty), "--out", str(tmp_path / "run"), "--only", "01"])
    err = capsys.readouterr().err
    assert code == 1
    assert "01_loading.ipynb failed in cell" in err and "DataNotFoundError" in err


def test_min_accuracy_never_reads_an_earlier_runs_metrics(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIFAR_QUICK", "0")
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text('{"test_accuracy": 0.99}')  # left by an earlier run
    code = run.main(["--source", "synthetic", "--out", str(out), "--only", "03", "--min-accuracy", "0.5"])
    assert code == 1
    assert "--min-accuracy needs the test accuracy that notebook 05 writes" in capsys.readouterr().err
    # A run that trains again removes the old figures before it starts (here it then fails: no data).
    code = run.main(["--source", "local", "--data-dir", str(tmp_path), "--out", str(out), "--only", "04"])
    assert code == 1 and not (out / "metrics.json").exists()


def test_evaluation_without_a_model_says_which_notebook_to_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIFAR_QUICK", "0")  # the quick profile would look in runs/quick
    code = run.main(["--source", "synthetic", "--out", str(tmp_path / "empty-run"), "--only", "05"])
    err = capsys.readouterr().err
    assert code == 1
    assert "run notebooks/04_training.ipynb first" in err


def test_quick_profile_is_announced(tmp_path):
    assert os.environ.get("CIFAR_QUICK") == "1", "the root conftest.py turns the quick profile on"
    printed = papermill_cli(tmp_path)
    assert "QUICK PROFILE" in printed and "SYNTHETIC" in printed
