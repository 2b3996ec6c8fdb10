"""The runner's run folder over several runs: run.json says which run wrote what, a killed or interrupted
run's half-done files are cleared by the next run, and notebook 5 never scores an earlier run's models
without saying so. Most notebooks here are stand-ins (run.run_notebook replaced), for the bookkeeping;
the kernels' own cases (Ctrl-C between cells, a kernel that dies, shutdown) run tiny notebooks.
tests/test_notebooks.py interrupts the lesson's notebook 4 itself.
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cifar_helpers import run
from cifar_helpers.lesson.run_folder import RUN_ENV, STALE_AFTER, start_run

MODEL_FILES = ("model.pt", "weights.pt", "history.json", *(f"exercise_dropout_{p}_seed{s}.pt" for p in (0.0, 0.5)
                                                              for s in (0, 1)))


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the runner catches it, so run.json stays as the run left it."""


def stand_in_notebooks(monkeypatch, behaviour=None):
    """run.run_notebook replaced. Notebooks 02 and 04 write files as the real ones do (04: start_run first);
    ``behaviour[number]`` runs instead of the rest, with the run folder; 05 records what it finds."""
    seen = {}

    def run_notebook(notebook, out_dir, parameters, ctrl_c=None):
        number, run_dir = notebook.name[:2], Path(parameters["run_dir"])
        (out_dir / notebook.name).write_text("{}")  # the executed copy
        if number == "02":
            (run_dir / "figures").mkdir(exist_ok=True)
            (run_dir / "figures" / "first_images.png").write_text("a figure")
        if number == "04":
            start_run(run_dir, "04")
            for name in MODEL_FILES:
                (run_dir / name).write_text("a model")
        if number == "05":
            seen["05"] = sorted(p.name for p in run_dir.iterdir() if p.suffix == ".pt")
        if behaviour and number in behaviour:
            return behaviour[number](run_dir)
        return 0.0, None

    monkeypatch.setattr(run, "run_notebook", run_notebook)
    return seen


def record(out):
    return json.loads((out / "run.json").read_text())


def killed_while_writing(run_dir):
    (run_dir / ".model.pt.4242.tmp").write_text("half a model")  # atomic_write's temporary file
    raise Killed


def interrupted(run_dir):
    raise KeyboardInterrupt


def test_a_run_killed_while_training_is_cleared_by_the_next_run_which_says_so(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    stand_in_notebooks(monkeypatch, {"04": killed_while_writing})
    with pytest.raises(Killed):
        run.main(["--out", str(out), "--only", "02", "04", "05"])
    killed = record(out)["runner"]
    assert killed["state"] == "running" and killed["notebook"] == "04_training.ipynb"
    capsys.readouterr()

    seen = stand_in_notebooks(monkeypatch)
    assert run.main(["--out", str(out), "--only", "05", "06"]) == 0
    printed = capsys.readouterr().out.splitlines()
    cleared = [line for line in printed if line.startswith("cleared ")]
    assert cleared == [f"cleared {', '.join(MODEL_FILES)}, .model.pt.4242.tmp, notebooks/04_training.ipynb from "
                       f"{out}: run {killed['run']} was killed while 04_training.ipynb ran, so they were half done."]
    assert seen["05"] == [], "notebook 05 found none of the killed run's models to score"
    assert (out / "figures" / "first_images.png").is_file(), "what the killed run had finished stays"
    assert "04" not in record(out)["notebooks"], "run.json no longer names a run for files that are gone"
    # Cleared once: the run after that one says nothing of it.
    assert run.main(["--out", str(out), "--only", "06"]) == 0
    assert "cleared" not in capsys.readouterr().out


def test_a_run_killed_while_evaluating_keeps_the_model_it_had_finished(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"

    def killed_while_scoring(run_dir):
        (run_dir / "metrics.json").write_text("{}")
        raise Killed

    stand_in_notebooks(monkeypatch, {"05": killed_while_scoring})
    with pytest.raises(Killed):
        run.main(["--out", str(out), "--only", "04", "05"])
    capsys.readouterr()
    stand_in_notebooks(monkeypatch)
    assert run.main(["--out", str(out), "--only", "06"]) == 0
    assert "cleared metrics.json, notebooks/05_evaluation.ipynb from " in capsys.readouterr().out
    assert all((out / name).is_file() for name in MODEL_FILES), "notebook 04 had finished: its files stay"
    assert record(out)["notebooks"]["04"]["state"] == "finished"


def test_a_run_killed_between_notebooks_clears_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    stand_in_notebooks(monkeypatch)
    noted = run.update_record

    def killed_once_04_is_noted_finished(run_dir, runner=None, **entries):
        noted(run_dir, runner=runner, **entries)
        if entries.get("04", {}).get("state") == "finished":
            raise Killed

    with pytest.MonkeyPatch.context() as patch, pytest.raises(Killed):
        patch.setattr(run, "update_record", killed_once_04_is_noted_finished)
        run.main(["--out", str(out), "--only", "04", "05"])
    capsys.readouterr()
    assert run.main(["--out", str(out), "--only", "06"]) == 0
    assert "cleared" not in capsys.readouterr().out
    assert all((out / name).is_file() for name in MODEL_FILES)


def test_an_interrupted_run_keeps_its_files_until_the_next_run_clears_them(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    stand_in_notebooks(monkeypatch, {"04": interrupted})
    assert run.main(["--out", str(out), "--only", "04"]) == 130
    assert capsys.readouterr().err.strip() == (f"interrupted while 04_training.ipynb was running: {out} keeps what "
                                               "it had saved (model.pt: the best epoch so far) until the next run "
                                               "clears it.")
    assert (out / "model.pt").is_file(), "Ctrl-C keeps the last checkpoint"
    entry = record(out)
    assert entry["runner"]["state"] == "interrupted" and entry["notebooks"]["04"]["state"] == "interrupted"
    stand_in_notebooks(monkeypatch)
    assert run.main(["--out", str(out), "--only", "06"]) == 0
    assert f"run {entry['runner']['run']} was interrupted while 04_training.ipynb ran" in capsys.readouterr().out
    assert not any((out / name).exists() for name in MODEL_FILES)


def test_ctrl_c_as_a_notebook_finishes_stops_the_run_and_keeps_that_notebooks_files(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    seen = stand_in_notebooks(monkeypatch)
    finishing = run.run_notebook

    def ctrl_c_at_the_end(notebook, out_dir, parameters, ctrl_c=None):
        result = finishing(notebook, out_dir, parameters)
        ctrl_c.pressed += 1  # too late to interrupt a cell: the notebook finished
        return result

    monkeypatch.setattr(run, "run_notebook", ctrl_c_at_the_end)
    assert run.main(["--out", str(out), "--only", "04", "05"]) == 130
    assert capsys.readouterr().err.strip() == f"interrupted: {out} holds only what finished before."
    assert "05" not in seen, "no notebook starts after Ctrl-C"
    entry = record(out)
    assert entry["runner"] == {"run": entry["runner"]["run"], "state": "interrupted"}
    assert entry["notebooks"]["04"]["state"] == "finished"
    stand_in_notebooks(monkeypatch)
    assert run.main(["--out", str(out), "--only", "06"]) == 0
    assert "cleared" not in capsys.readouterr().out and (out / "model.pt").is_file()


def test_notebook_04_rerun_outside_the_runner_after_an_interrupted_run_keeps_its_files(tmp_path, monkeypatch,
                                                                                        capsys):
    out = tmp_path / "run"
    stand_in_notebooks(monkeypatch, {"04": interrupted})
    assert run.main(["--out", str(out), "--only", "04"]) == 130
    monkeypatch.delenv(RUN_ENV, raising=False)
    start_run(out, "04")  # then notebook 4 in JupyterLab trains a new model
    (out / "model.pt").write_text("the new model")
    stand_in_notebooks(monkeypatch)
    assert run.main(["--out", str(out), "--only", "06"]) == 0
    assert (out / "model.pt").read_text() == "the new model"
    assert "model.pt" not in capsys.readouterr().out.split("run folder:")[0]


def test_a_failed_run_keeps_its_files_and_the_executed_notebook_to_read(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    stand_in_notebooks(monkeypatch, {"04": lambda run_dir: (0.0, "04_training.ipynb failed in cell 30")})
    assert run.main(["--out", str(out), "--only", "04"]) == 1
    assert record(out)["runner"]["state"] == "failed"
    assert run.main(["--out", str(out), "--only", "06"]) == 0
    assert "cleared" not in capsys.readouterr().out
    assert (out / "model.pt").is_file() and (out / "notebooks" / "04_training.ipynb").is_file()


def test_notebook_05_alone_says_whose_models_it_scores(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    stand_in_notebooks(monkeypatch)
    assert run.main(["--out", str(out), "--only", "04", "05"]) == 0
    trained = record(out)["notebooks"]["04"]
    assert trained["runner"] is True and trained["state"] == "finished" and "started" in trained
    assert " reads " not in capsys.readouterr().out, "05 scored this run's models: nothing to say"
    assert run.main(["--out", str(out), "--only", "05"]) == 0
    assert (f"  05_evaluation.ipynb reads model.pt, weights.pt, exercise_dropout_*.pt from run {trained['run']} "
            "(notebook 04 finished there): this run does not run 04.") in capsys.readouterr().out.splitlines()
    # Notebook 4 run in JupyterLab or with papermill: start_run notes that, and the runner names it.
    monkeypatch.delenv(RUN_ENV, raising=False)
    start_run(out, "04")
    (out / "model.pt").write_text("a model")
    assert run.main(["--out", str(out), "--only", "05"]) == 0
    started = record(out)["notebooks"]["04"]["started"]
    assert (f"  05_evaluation.ipynb reads model.pt from a run of notebook 04 outside the runner (JupyterLab or "
            f"papermill), started {started}: this run does not run 04.") in capsys.readouterr().out.splitlines()


def test_notebook_04_failing_at_once_leaves_no_earlier_models_for_notebook_05(tmp_path, monkeypatch):
    """The runner removes notebook 4's files before it runs: one that fails before its own setup cell
    (a kernel that does not start, say) leaves no older models for exercise 5.4 to score."""
    out = tmp_path / "run"
    out.mkdir()
    for name in MODEL_FILES:
        (out / name).write_text("an earlier run's")

    def fails_at_once(notebook, out_dir, parameters, ctrl_c=None):
        return 0.0, f"{notebook.name} failed in cell 1"

    monkeypatch.setattr(run, "run_notebook", fails_at_once)
    assert run.main(["--out", str(out), "--only", "04", "05"]) == 1
    assert not any((out / name).exists() for name in MODEL_FILES)


def test_start_run_removes_what_an_earlier_run_of_the_notebook_made_and_notes_this_run(tmp_path, monkeypatch):
    out = tmp_path / "run"
    (out / "figures").mkdir(parents=True)
    stale = [name for name, makers in STALE_AFTER.items() if "04" in makers and "*" not in name]
    for name in [*stale, *MODEL_FILES[3:], "figures/first_images.png"]:
        (out / name).write_text("an earlier run's")
    monkeypatch.delenv(RUN_ENV, raising=False)
    start_run(out, "04")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "figures/first_images.png", "run.json"], "notebook 02's figure stays; the model and what scored it go"
    entry = record(out)["notebooks"]["04"]
    assert entry["runner"] is False and "state" not in entry
    monkeypatch.setenv(RUN_ENV, "20250101-000000-abc123")
    start_run(out, "04")
    assert record(out)["notebooks"]["04"] | {"started": None} == {"run": "20250101-000000-abc123", "runner": True,
                                                                   "started": None, "state": "running"}


def tiny_notebook(folder, *cells):
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells],
                                            metadata={"kernelspec": {"name": "python3", "language": "python",
                                                                     "display_name": "Python 3"}}),
                   folder / "01_tiny.ipynb")
    return folder


def test_a_kernel_that_dies_fails_its_notebook_in_one_line_instead_of_hanging(tmp_path, capsys):
    folder = tiny_notebook(tmp_path / "notebooks", "import os\nos._exit(1)", "print('never')")
    assert run.main(["--notebooks", str(folder), "--out", str(tmp_path / "run")]) == 1
    assert "FAILED  01_tiny.ipynb: the kernel running it died (out of memory, or killed)" in (
        capsys.readouterr().err.splitlines())
    assert record(tmp_path / "run")["runner"]["state"] == "failed"


def test_ctrl_c_between_cells_sends_no_further_cell(tmp_path):
    """Ctrl-C that finds the kernel between cells (SIGINT to an idle kernel does nothing): the next cell is
    never sent, and the runner still stops at once with its one line. Here the first cell presses Ctrl-C
    (SIGINT to the runner) while it ignores SIGINT itself, so the interrupt cannot end it early."""
    marker = tmp_path / "second-cell-ran"
    press = ("import os, signal, time\n"
             "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
             "os.kill(os.getppid(), signal.SIGINT)\n"
             "time.sleep(1)")
    folder = tiny_notebook(tmp_path / "notebooks", press, f"open({str(marker)!r}, 'w').close()")
    out = tmp_path / "run"
    runner = subprocess.Popen([sys.executable, "-m", "cifar_helpers.run", "--notebooks", str(folder), "--out",
                               str(out)], cwd=Path(__file__).resolve().parent.parent, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, start_new_session=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    printed_out, err = runner.communicate(timeout=180)
    assert runner.returncode == 130, err
    assert err.strip().splitlines() == [f"interrupted while 01_tiny.ipynb was running: {out} keeps what it had "
                                        "saved until the next run clears it."]
    assert not marker.exists(), "no cell was sent after Ctrl-C"
    executed = nbformat.read(out / "notebooks" / "01_tiny.ipynb", as_version=4)
    assert executed.cells[1].execution_count is None
    assert record(out)["runner"]["state"] == "interrupted"


def test_a_finished_notebooks_kernel_is_shut_down_without_a_sigint(tmp_path):
    """jupyter_client sends SIGINT before every shutdown; to an idle kernel it is at best useless, and at
    worst lands in ipykernel's own code, which prints "KeyboardInterrupt caught in kernel" to the runner's
    stderr. The cell below makes SIGINT, once the cell is over, leave a mark."""
    from nbclient import NotebookClient

    from cifar_helpers.lesson.kernels import kernel_runtime_folder, local_kernel_manager

    marker = tmp_path / "sigint"
    cell = f"get_ipython().kernel.saved_sigint_handler = lambda *_: open({str(marker)!r}, 'w').close()"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    with kernel_runtime_folder():
        NotebookClient(nb, kernel_name="python3", kernel_manager_class=local_kernel_manager(), timeout=60).execute()
    assert nb.cells[0].outputs == []
    assert not marker.exists()
