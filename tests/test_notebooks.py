"""The lesson's notebooks: their shape, their parameters, and headless runs with papermill and the runner.

nbval re-executes the committed notebooks as well (pytest collects notebooks/ with --nbval-lax);
these tests check what nbval does not: structure, hygiene, the runner, papermill parameters,
and what the runs write.
"""

import ast
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import papermill
import pytest

import cifar_helpers
from cifar_helpers.lesson import exercises
from cifar_helpers import run, run_options
from cifar_helpers.lesson.run_folder import STALE_AFTER

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
NAMES = [p.name for p in NOTEBOOKS]


def read(path):
    return nbformat.read(path, as_version=4)


def cells_tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def printed(nb):
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_the_lesson_has_six_numbered_notebooks():
    assert [n[:2] for n in NAMES] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_one_parameters_cell_of_literals_then_one_line_of_setup(path):
    nb = read(path)
    cells = cells_tagged(nb, "parameters")
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    for statement in ast.parse(cells[0].source).body:
        assert isinstance(statement, ast.Assign), f"only assignments: {ast.unparse(statement)}"
        ast.literal_eval(statement.value)  # raises on anything but a literal
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert code.count("notebook_setup(globals())") == 1, "every parameter goes through one parser"
    assert "quick_profile" not in code and "CIFAR_QUICK" not in code, "test plumbing stays out of the lesson"


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
    assert "✗ Exercise" not in text and "… Exercise" not in text, "every committed solution passes its check"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_opens_with_goal_time_and_data_note_and_ends_with_exercises_and_questions(path):
    markdown = [c.source for c in read(path).cells if c.cell_type == "markdown"]
    assert "**Goal:**" in markdown[0] and "**Time:**" in markdown[0]
    assert "JPEG copy of CIFAR-10" in markdown[0], "say where the committed numbers come from"
    assert any("## Exercises" in text for text in markdown)
    questions = markdown[-1]
    assert questions.startswith("## Questions to think about")
    assert 5 <= sum(line[:2].rstrip(".").isdigit() for line in questions.splitlines()) <= 8


def test_notebook_03_networks_compute_what_the_library_networks_compute():
    """The networks a student reads in notebook 3 are the ones the lesson trains: same weights, same
    scores, same loss, same refusal of a bad dropout."""
    import numbers

    import torch
    import torch.nn.functional as F
    from torch import nn

    from cifar_helpers.networks.dropout import FastDropout

    notebook = read(NOTEBOOK_DIR / "03_model.ipynb")
    networks = {"cnn-definition": cifar_helpers.CNN, "plain-cnn-definition": cifar_helpers.PlainCNN}
    batch = (torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]))
    for tag, library_network in networks.items():
        cells = cells_tagged(notebook, tag)
        assert len(cells) == 1
        shown = {"Model": cifar_helpers.Model, "FastDropout": FastDropout, "nn": nn, "F": F, "torch": torch,
                 "numbers": numbers}
        exec(cells[0].source, shown)
        network = shown[library_network.__name__]
        ours, theirs = network().eval(), library_network().eval()
        assert {k: v.shape for k, v in ours.state_dict().items()} == {
            k: v.shape for k, v in theirs.state_dict().items()}
        ours.load_state_dict(theirs.state_dict())
        with torch.no_grad():
            if isinstance(theirs, cifar_helpers.Model):
                assert torch.equal(ours(batch), theirs(batch))
                assert torch.equal(ours.loss(ours(batch), batch), theirs.loss(theirs(batch), batch))
                with pytest.raises(ValueError, match=r"dropout='0.3' must be a number"):
                    network(dropout="0.3")
            else:
                assert torch.equal(ours(batch[0]), theirs(batch[0]))


def test_plain_cnn_takes_cnn_weights_and_gives_the_same_answers():
    """Notebook 5 loads notebook 4's state_dict into PlainCNN: the same predictions, as scores (logits)."""
    import torch

    torch.manual_seed(0)
    cnn, plain = cifar_helpers.CNN(dropout=0.3), cifar_helpers.PlainCNN(dropout=0.3)
    plain.load_state_dict(cnn.state_dict())
    images = torch.randn(8, 3, 32, 32)
    cnn.eval(), plain.eval()
    with torch.no_grad():
        scores = plain(images)
        assert torch.allclose(torch.log_softmax(scores, dim=1), cnn((images, None)), atol=1e-6)
        assert not torch.allclose(scores.exp().sum(dim=1), torch.ones(8))  # raw scores, for F.cross_entropy
    plain.train()
    assert not torch.equal(plain(images), plain(images))  # dropout is on while training


def test_later_notebooks_import_the_library_cnn():
    for name in ("04_training.ipynb", "05_evaluation.ipynb"):
        code = "\n".join(c.source for c in read(NOTEBOOK_DIR / name).cells if c.cell_type == "code")
        assert "class CNN(" not in code and "CNN" in code


def test_the_plain_loop_of_notebook_04_and_learn_give_the_same_losses(make_dataset):
    """Notebook 4's plain loop (PlainCNN, cross_entropy) is what Model.learn runs on CNN: same weights, same losses."""
    import torch

    namespace = {"itertools": __import__("itertools"), "F": __import__("torch.nn.functional").nn.functional}
    exec(cells_tagged(read(NOTEBOOK_DIR / "04_training.ipynb"), "plain-training-loop")[0].source, namespace)
    dataset = make_dataset(96, 16)

    torch.manual_seed(0)
    # No dropout: nn.Dropout and FastDropout draw their masks differently; everything else must agree.
    cnn, plain_cnn = cifar_helpers.CNN(dropout=0.0), cifar_helpers.PlainCNN(dropout=0.0)
    plain_cnn.load_state_dict(cnn.state_dict())
    plain = namespace["train_plainly"](plain_cnn, torch.optim.Adam(plain_cnn.parameters(), lr=1e-3), iter(dataset),
                                       steps=6)
    library = []
    cnn.register_plugin(lambda loss, **_: library.append(loss.item()), "before_backward")
    cnn.learn(dataset, torch.optim.Adam(cnn.parameters(), lr=1e-3), max_epochs=1)
    assert len(plain) == 6 and plain == pytest.approx(library, rel=1e-5)



@pytest.mark.parametrize("mistakes", [True, False])
def test_exercise_5_2s_solution_finds_the_surest_mistake_or_says_there_is_none(capsys, mistakes):
    """On the synthetic images a trained model can get every test image right: then there is no mistake to show."""
    import types

    import matplotlib.pyplot as plt
    import numpy as np

    [cell] = [c for c in read(NOTEBOOK_DIR / "05_evaluation.ipynb").cells
              if c.cell_type == "code" and "wrong_ones" in c.source]
    labels = np.arange(10)
    predicted, confidence = labels.copy(), np.linspace(0.5, 0.95, 10)
    if mistakes:
        predicted[[2, 7, 9]] = [3, 8, 9]  # image 9 is right, and the surest of all
    namespace = {"np": np, "plt": plt, "CLASSES": cifar_helpers.CLASSES, "predicted": predicted,
                 "confidence": confidence, "test": types.SimpleNamespace(labels=labels, images=np.zeros(
                     (10, 32, 32, 3), dtype=np.uint8))}
    exec(cell.source, namespace)
    printed_lines = capsys.readouterr().out
    if mistakes:
        assert namespace["index"] == 7 and printed_lines.startswith("test image 7: a picture of class horse, taken "
                                                                    "for ship with 85.0% confidence")
    else:
        assert namespace["index"] is None
        assert printed_lines == "no wrong predictions: the model got every test image right\n"


def test_notebook_06_on_a_gpu_keeps_the_training_images_there_and_augments_them_as_a_cpu_run_does():
    """The data cell's accelerator branch, run on the CPU: a stand-in accelerator with room for the images,
    whose tensors stay here."""
    import types

    import torch

    namespace = {name: getattr(cifar_helpers, name) for name in ("AsyncDataLoader", "DataSet", "batch_to_tensors",
                                                                  "load_cifar10")}
    namespace.update(torch=types.SimpleNamespace(as_tensor=lambda data, device: torch.as_tensor(data)),
                     holds_in_memory=lambda device, nbytes: nbytes > 0, device=torch.device("cpu"),
                     data_dir="data", source="synthetic", batch_size=50, seed=3)
    exec(cells_tagged(read(NOTEBOOK_DIR / "06_fast_track.ipynb"), "training-data")[0].source, namespace)
    namespace["test_loader"].close()
    on_gpu, train = namespace["train_data"], namespace["train"]
    assert all(isinstance(array, torch.Tensor) for array in on_gpu.data)
    on_cpu = cifar_helpers.DataSet([train.images, train.labels], batch_size=50, shuffle=True, drop_last=True, seed=3)
    flips = [cifar_helpers.AlternatingFlip(data, seed=3) for data in (on_gpu, on_cpu)]
    crops = [cifar_helpers.RandomCrop(pad=2, seed=3) for _ in range(2)]
    batches = 0
    for _ in range(3):  # three epochs: the shuffles, the mirrored halves and the shifts stay in step
        for gpu_batch, cpu_batch in zip(*flips, strict=True):
            x, y = cifar_helpers.batch_to_tensors(crops[0](gpu_batch))
            expected_x, expected_y = cifar_helpers.batch_to_tensors(crops[1](cpu_batch))
            assert torch.equal(x, expected_x) and torch.equal(y, expected_y)
            batches += 1
    assert batches == 3 * (len(train.labels) // 50)


@pytest.mark.parametrize("batches_per_epoch, bias_epochs", [(25, 3), (50, 2), (100, 1)])
def test_notebook_06s_whitening_bias_learns_for_75_steps_rounded_up_to_whole_epochs(batches_per_epoch, bias_epochs):
    """airbench94's 3 epochs of 25 batches at batch 2000; one epoch of 100 at notebook 6's batch 500."""
    import math

    import torch

    namespace = {"math": math, "torch": torch, "Muon": cifar_helpers.Muon, "learning_rate": 0.12, "batch_size": 4,
                 "train_data": range(batches_per_epoch)}  # the function asks the training set for len() only
    exec(cells_tagged(read(NOTEBOOK_DIR / "06_fast_track.ipynb"), "training-functions")[0].source, namespace)
    torch.manual_seed(0)
    split = cifar_helpers.load_cifar10("train", source="synthetic", verbose=False)
    images, labels = cifar_helpers.batch_to_tensors((split.images[:4 * batches_per_epoch],
                                                     split.labels[:4 * batches_per_epoch]))
    model = cifar_helpers.FastNet(widths=(8, 8, 8), bfloat16=False).whiten(images)
    epochs = bias_epochs + 1
    optimizer, schedule = namespace["muon_with_sgd"](model, epochs * batches_per_epoch)
    model.register_plugin(lambda **_: schedule.step(), "on_end_batch")
    biases = [model.patches.bias.detach().clone()]
    model.register_plugin(lambda **_: biases.append(model.patches.bias.detach().clone()), "on_end_epoch")
    model.learn(cifar_helpers.DataSet([images, labels], batch_size=4), optimizer, max_epochs=epochs)
    moved = [not torch.equal(before, after) for before, after in itertools.pairwise(biases)]
    assert moved == [True] * bias_epochs + [False]
    assert not model.patches.bias.requires_grad and optimizer.param_groups[3]["lr"] == 0


def test_notebook_06s_full_run_is_the_same_with_or_without_the_short_runs_before_it(whole_lesson, gpu_check_on_cpu):
    """Every run of notebook 6 draws its starting weights and its batches from the seed alone: its full
    run alone (the GPU check's, in the same setting) gives what the whole lesson's run (with one epoch of
    every short run first) gave."""
    results = [json.loads((folder / "fast_track.json").read_text())
               for folder in (gpu_check_on_cpu.out / "fast-track", whole_lesson.out)]
    assert [len(r["table"]) for r in results] == [1, 7]
    assert [(r["epochs"], r["batch_size"], r["widths"]) for r in results] == [(1, 500, [8, 16, 16])] * 2
    for key in ("train_loss", "test_accuracy", "one_view_test_accuracy"):
        assert results[0][key] == results[1][key], key

# --- the runner ---------------------------------------------------------------------------------


def test_runner_knows_every_parameter_the_notebooks_declare():
    args = run_options.parse_args(["--cuda", "--epochs", "3", "--data-dir", "d", "--source", "synthetic",
                                   "--train-subset", "10", "--batch-size", "8", "--learning-rate", "0.1",
                                   "--dropout", "0.1", "--patience", "2", "--seed", "1", "--out", "o",
                                   "--no-flips", "--no-mirror", "--fast-epochs", "2", "--widths", "8,16,16",
                                   "--ablation-epochs", "0", "--fast-batch-size", "32", "--fast-learning-rate", "0.05",
                                   "--exercise-epochs", "1", "--overfit-epochs", "4", "--bfloat16", "false",
                                   "--device", "mps"])
    assert args.random_flips is False and args.mirror is False and args.widths == (8, 16, 16)
    assert run_options.parse_args([]).random_flips is None  # not given: the notebook's own default
    for path in NOTEBOOKS:
        known = set(run_options.lesson_parameters(args, Path("o"), path.name[:2])) | {
            "validation_fraction", "label_smoothing", "augment"}
        assert run.declared_parameters(path) <= known, path.name
    fourth, sixth = (run_options.lesson_parameters(args, Path("o"), n) for n in ("04", "06"))
    assert (fourth["batch_size"], fourth["learning_rate"], fourth["overfit_epochs"]) == (8, 0.1, 4)
    assert (sixth["batch_size"], sixth["learning_rate"], sixth["epochs"]) == (32, 0.05, 2)
    assert sixth["bfloat16"] is False and "bfloat16" not in fourth  # "false" read as False, for notebook 6 only
    assert fourth["device"] == sixth["device"] == "mps" and fourth["cuda"] is True  # the notebook decides
    no_cuda = run_options.lesson_parameters(run_options.parse_args([]), Path("o"))
    assert "cuda" not in no_cuda  # None: the notebook's own default


def test_runner_passes_each_notebook_only_what_it_declares(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda nb, out, parameters, **kw: seen.update(parameters))
    parameters = {"max_epochs": 3, "data_dir": "d", "run_dir": "r", "cuda": True}
    run.run_notebook(NOTEBOOK_DIR / "01_loading.ipynb", tmp_path, parameters)
    assert seen == {"data_dir": "d"}


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "max_epochs=0 must be a positive whole number"),
    (["--device", "gpu"], "device='gpu' must be one of 'auto', 'cpu', 'cuda', 'mps', 'xpu'"),
    (["--batch-size", "-1"], "batch_size=-1 must be a positive whole number"),
    (["--learning-rate", "inf"], "learning_rate=inf must be a number > 0"),
    (["--train-subset", "-5"], "train_subset=-5 must be a positive whole number"),
    (["--dropout", "1"], r"dropout=1 must be a number between 0 and 1 \(1 excluded\)"),
    (["--min-accuracy", "60"], r"--min-accuracy 60 must be a fraction of the test images, such as 0.58 for 58%"),
    (["--source", "web"], "source='web' must be one of"),
])
def test_runner_refuses_bad_arguments_in_one_line(capsys, argv, message):
    with pytest.raises(SystemExit):
        run_options.parse_args(argv)
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("python -m cifar_helpers.run: error: argument ")
    assert __import__("re").search(message, error), error


def test_runner_only_names_a_notebook_that_is_not_there(tmp_path):
    with pytest.raises(SystemExit, match=r"--only 5: no such notebook in .*; give two-digit numbers such as 01 02"):
        run.main(["--source", "synthetic", "--out", str(tmp_path / "run"), "--only", "04", "5"])
    assert not (tmp_path / "run").exists(), "nothing ran"


def test_runner_refuses_an_out_that_is_a_file_or_read_only(tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    assert run.main(["--source", "synthetic", "--out", str(tmp_path / "a-file"), "--only", "01"]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err
    unwritable = Path("/sys/cifar-helpers-run") if os.geteuid() == 0 else tmp_path / "locked" / "run"
    if os.geteuid() != 0:
        (tmp_path / "locked").mkdir()
        (tmp_path / "locked").chmod(0o555)
    elif not Path("/sys").is_dir():
        pytest.skip("root can write anywhere but /sys, which this system lacks")
    assert run.main(["--source", "synthetic", "--out", str(unwritable), "--only", "01"]) == 1
    err = capsys.readouterr().err
    assert f"--out {unwritable} cannot be written" in err and "choose a folder you can write to" in err


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    with run.run_folder_lock(out):
        assert run.main(["--source", "synthetic", "--out", str(out), "--only", "01"]) == 1
    err = capsys.readouterr().err
    assert f"is writing into {out}" in err and "another --out" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["notebooks", "elsewhere"])
def test_the_runner_finds_data_and_run_folders_as_the_notebooks_do(tmp_path, monkeypatch, where):
    """Relative folders count from the lesson's top folder, wherever the runner starts (not /tmp/data)."""
    monkeypatch.chdir(NOTEBOOK_DIR if where == "notebooks" else tmp_path)
    args = run_options.parse_args(["--out", "runs/from-notebooks"])
    parameters = run_options.lesson_parameters(args, run_options.in_lesson(args.out, args), "04")
    assert parameters["run_dir"] == str(ROOT / "runs" / "from-notebooks")
    assert parameters["data_dir"] == str((ROOT / "data").resolve())  # a link to a shared copy is followed
    copy = tmp_path / "copy"  # a lesson elsewhere: its own folders
    args = run_options.parse_args(["--notebooks", str(copy / "notebooks"), "--data-dir", "cifar",
                                   "--out", str(tmp_path / "o")])
    parameters = run_options.lesson_parameters(args, run_options.in_lesson(args.out, args), "04")
    assert parameters["data_dir"] == str(copy / "cifar") and parameters["run_dir"] == str(tmp_path / "o")


@pytest.fixture(scope="module")
def whole_lesson(tmp_path_factory):
    """One run of all six notebooks by the runner, with its own small settings: several tests read it."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("whole-lesson")
    printed_lines = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed_lines):
        patch.setenv("CIFAR_QUICK", "0")  # the runner's own settings, not the quick profile's
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))  # as every test: nothing in ~/.cache
        code = run.main(["--source", "synthetic", "--epochs", "1", "--overfit-epochs", "2", "--fast-epochs", "1",
                         "--ablation-epochs", "1", "--widths", "8,16,16", "--out", str(folder / "run"),
                         "--data-dir", str(folder)])
    return SimpleNamespace(code=code, out=folder / "run", printed=printed_lines.getvalue())


def test_whole_lesson_runs_headless(whole_lesson):
    out, printed_lines = whole_lesson.out, whole_lesson.printed
    assert whole_lesson.code == 0
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == NAMES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_images"] == 500 and metrics["source"] == "synthetic"
    assert metrics["epochs_trained"] == 1 and metrics["best_epoch"] == 1
    assert metrics["mirror"] is True and 0 <= metrics["one_look_test_accuracy"] <= 1  # notebook 05's default
    fast_track = json.loads((out / "fast_track.json").read_text())
    assert [row["step"][:2] for row in fast_track["table"]] == ["0.", "1.", "2.", "3.", "4.", "5.", "al"]
    assert fast_track["table"][-1]["step"] == "all, 1 epoch" and fast_track["epochs"] == 1
    assert (out / "model.pt").is_file() and (out / "history.json").is_file()
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"confusion_matrix.png", "confidence.png", "predictions.png"} <= figures
    assert "test accuracy" in printed_lines and "one look" in printed_lines and str(out) in printed_lines
    trained = read(out / "notebooks" / "04_training.ipynb")
    outputs = [o for c in trained.cells if c.cell_type == "code" for o in c.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1, "the live plot leaves exactly one figure"
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    every_check = "".join(printed(read(p)) for p in (out / "notebooks").iterdir())
    assert every_check.count("✓ Exercise") == len(exercises.CHECKS), "every solution passes its check"
    assert "✗ Exercise" not in every_check and "… Exercise" not in every_check


def test_evaluation_reads_the_history_saved_with_the_model_not_history_json(tmp_path, monkeypatch, make_dataset):
    """An interrupted notebook 4 can leave an earlier run's history.json; notebook 5 never mixes it in.
    (The test below runs notebook 5 in a folder with no history.json at all.)"""
    import torch

    from cifar_helpers import CNN, EarlyStopping

    monkeypatch.setenv("CIFAR_QUICK", "0")
    out = tmp_path / "run"
    model = CNN()  # a run folder as notebook 4 leaves it: the checkpoint holds the weights and their history
    model.register_plugin(EarlyStopping(path=out / "model.pt"))
    model.learn(make_dataset(64, 16), torch.optim.Adam(model.parameters()), validation_dataset=make_dataset(32, 16),
                max_epochs=2)
    torch.save(model.state_dict(), out / "weights.pt")
    earlier = [{**model.history[0], "epoch": epoch} for epoch in range(1, 8)]  # an earlier, 7-epoch run's
    (out / "history.json").write_text(json.dumps(earlier))
    assert run.main(["--source", "synthetic", "--out", str(out), "--only", "05"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_trained"] == 2 and metrics["best_epoch"] == model.weights_epoch


def test_evaluation_runs_through_when_the_model_gets_every_test_image_right(tmp_path, monkeypatch):
    """The synthetic demo's model learns the made-up images perfectly: notebook 5 must still run to its end
    (exercise 5.2 has no mistake to show). A model trained here, as notebook 4 trains its own."""
    import torch

    from cifar_helpers import CNN, DataSet, EarlyStopping, batch_to_tensors, load_cifar10

    monkeypatch.setenv("CIFAR_QUICK", "0")
    out = tmp_path / "run"
    train = load_cifar10("train", source="synthetic", verbose=False)
    train_data, validation_data = DataSet(list(batch_to_tensors((train.images, train.labels))), batch_size=64,
                                          shuffle=True, drop_last=True, seed=0).split(0.9, seed=0)
    torch.manual_seed(0)
    model = CNN(dropout=0.3)
    model.register_plugin(EarlyStopping(path=out / "model.pt"))
    model.learn(train_data, torch.optim.Adam(model.parameters(), lr=1e-3), validation_dataset=validation_data,
                max_epochs=5)
    torch.save(model.state_dict(), out / "weights.pt")
    # One look: this model never saw mirrored images (notebook 4 trains with them, and two looks by default)
    assert run.main(["--source", "synthetic", "--out", str(out), "--only", "05", "--no-mirror"]) == 0
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] == 1.0, "every test image right"
    assert "no wrong predictions: the model got every test image right" in printed(
        read(out / "notebooks" / "05_evaluation.ipynb"))


def papermill_cli(tmp_path, notebook, *parameters):
    out = tmp_path / "out.ipynb"
    command = [sys.executable, "-m", "papermill", f"notebooks/{notebook}", str(out),
               "-p", "run_dir", str(tmp_path / "run"), *parameters]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)  # as the README says, from the top
    return result, (printed(read(out)) if out.exists() else "")


def test_papermill_text_for_booleans_and_devices_means_what_it_says(tmp_path, make_dataset):
    """-p cuda false and -p mirror false arrive as the text "false", which Python's truth test takes for true.
    Notebook 5 under papermill's own command line, on a small model saved as notebook 4 saves one. ("true" and
    the other spellings: test_checks.py's table of the parameter rules.)"""
    import torch

    from cifar_helpers import CNN, EarlyStopping

    model = CNN()
    model.register_plugin(EarlyStopping(path=tmp_path / "run" / "model.pt"))
    model.learn(make_dataset(32, 16), torch.optim.Adam(model.parameters()), validation_dataset=make_dataset(16, 16),
                max_epochs=1)
    torch.save(model.state_dict(), tmp_path / "run" / "weights.pt")
    result, text = papermill_cli(tmp_path, "05_evaluation.ipynb", "-p", "mirror", "false", "-p", "cuda", "false",
                                 "-p", "device", "cuda")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["mirror"] is False
    assert "final test accuracy (one look)" in text and "QUICK PROFILE" in text
    assert "cuda=False overrides device='cuda'" in text and "no CUDA device" not in text, "false read as False"


def test_papermill_errors_name_the_notebooks_parameter(tmp_path):
    """The library says `subset`; a papermill user gave `train_subset`, and reads that name."""
    result, _ = papermill_cli(tmp_path, "04_training.ipynb", "-p", "train_subset", "-5")
    assert result.returncode != 0
    assert "train_subset=-5 must be a positive whole number" in result.stderr


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
    assert "--min-accuracy needs a test accuracy, which notebooks 05 and 06 write: run one of them too" in (
        capsys.readouterr().err)
    # A run that trains again removes the old figures before it starts (here it then fails: no data).
    code = run.main(["--source", "local", "--data-dir", str(tmp_path), "--out", str(out), "--only", "04"])
    assert code == 1 and not (out / "metrics.json").exists()


def fake_notebooks(monkeypatch, accuracies, fail=()):
    """run.run_notebook replaced: notebook 05 or 06 writes its result file with the accuracy given; those in
    ``fail`` fail before writing anything."""
    def run_notebook(notebook, out_dir, parameters, ctrl_c=None):
        number = notebook.name[:2]
        if number in fail:
            return 0.0, f"{notebook.name} failed in cell 3"
        if number in accuracies:
            result = {"test_accuracy": accuracies[number], "train_seconds": 1.0, "test_loss": 1.0,
                      "test_images": 10, "source": "synthetic", "epochs_trained": 1, "best_epoch": 1,
                      "seconds_per_epoch": 1.0, "images_per_second": 10.0}
            (Path(parameters["run_dir"]) / run.RESULTS[number]).write_text(json.dumps(result))
        return 0.0, None
    monkeypatch.setattr(run, "run_notebook", run_notebook)


def test_min_accuracy_checks_notebook_06s_accuracy_too_and_names_the_notebook(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    fake_notebooks(monkeypatch, {"05": 0.60, "06": 0.83})
    assert run.main(["--out", str(out), "--only", "06", "--min-accuracy", "0.84"]) == 1
    captured = capsys.readouterr()
    assert "notebook 06: test accuracy 83.00%" in captured.out
    assert captured.err.strip() == "FAILED  notebook 06's test accuracy 83.00% is below --min-accuracy 84.00%"
    assert run.main(["--out", str(out), "--only", "06", "--min-accuracy", "0.83"]) == 0
    # Both notebooks: each accuracy is checked, and only the low one is named.
    assert run.main(["--out", str(out), "--only", "05", "06", "--min-accuracy", "0.7"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "FAILED  notebook 05's test accuracy 60.00% is below --min-accuracy 70.00%")


def test_a_run_reports_and_checks_only_what_its_own_notebooks_wrote(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("metrics.json", "fast_track.json"):  # left by an earlier run
        (out / name).write_text(json.dumps({"test_accuracy": 0.99, "train_seconds": 1.0}))
    fake_notebooks(monkeypatch, {})
    assert run.main(["--out", str(out), "--only", "01"]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" not in printed and "99" not in printed
    # Notebook 06 failing leaves no earlier fast_track.json for --min-accuracy or a reader to take as its own.
    fake_notebooks(monkeypatch, {}, fail={"06"})
    assert run.main(["--out", str(out), "--only", "06", "--min-accuracy", "0.5"]) == 1
    assert not (out / "fast_track.json").exists() and (out / "metrics.json").exists()


def test_every_figure_a_notebook_saves_is_removed_before_the_notebooks_that_make_it_stale(tmp_path, monkeypatch):
    saved = set()
    for path in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            saved |= {f"figures/{name}" for name in re.findall(r'savefig\(figures / "([^"]+)"\)', cell.source)}
    assert saved and saved <= set(STALE_AFTER), saved - set(STALE_AFTER)
    out = tmp_path / "run"
    (out / "figures").mkdir(parents=True)
    for name in saved:
        (out / name).write_text("an earlier run's")
    fake_notebooks(monkeypatch, {}, fail={"04"})  # a new model that failed: no old evaluation beside it
    assert run.main(["--out", str(out), "--only", "04"]) == 1
    left = {f"figures/{p.name}" for p in (out / "figures").iterdir()}
    assert left == saved - {name for name, makers in STALE_AFTER.items() if "04" in makers}
    assert "figures/confusion_matrix.png" not in left and "figures/first_images.png" in left


def test_evaluation_without_a_model_says_which_notebook_to_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIFAR_QUICK", "0")  # the quick profile would look in runs/quick
    code = run.main(["--source", "synthetic", "--out", str(tmp_path / "empty-run"), "--only", "05"])
    err = capsys.readouterr().err
    assert code == 1
    assert "run notebooks/04_training.ipynb first" in err


def kernels_of(pid):
    """The ipykernel processes started by process ``pid`` (its descendants)."""
    import psutil

    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    except psutil.NoSuchProcess:
        return []


@pytest.fixture
def short_temp_folder():
    """A temp folder with a short path (IPC socket paths may have at most 107 bytes)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="cc-", dir="/tmp" if Path("/tmp").is_dir() else None))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def training_notebook_4(command, out, env):
    """``command`` started as a terminal would start it, once notebook 4 has saved its first epoch to ``out``:
    (the process, its kernels). 50 epochs with early stopping off keep it training however fast the machine."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True,
                               # a shell's background job ignores Ctrl-C, and its children inherit that
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not (out / "model.pt").is_file() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (out / "model.pt").is_file(), "the first epoch finished (EarlyStopping saved it)"
    kernels = kernels_of(process.pid)
    assert kernels, "the notebook's kernel runs"
    time.sleep(0.5)  # well into the next epoch
    return process, kernels


def test_ctrl_c_during_an_epoch_stops_the_kernel_at_once_keeps_the_checkpoint_and_exits_130(tmp_path,
                                                                                             short_temp_folder):
    """One Ctrl-C while notebook 4 trains interrupts the kernel's cell: exit 130 in seconds, one line, and a
    whole model.pt that nothing writes any more."""
    import psutil

    from cifar_helpers import CNN

    env = {**os.environ, "CIFAR_QUICK": "0", "TMPDIR": str(short_temp_folder),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    out = tmp_path / "run"
    runner, kernels = training_notebook_4([sys.executable, "-m", "cifar_helpers.run", "--source", "synthetic",
                                           "--epochs", "50", "--patience", "50", "--out", str(out), "--only", "04"],
                                          out, env)
    pressed = time.monotonic()
    os.killpg(runner.pid, signal.SIGINT)  # Ctrl-C in a terminal goes to the whole process group, once
    try:
        printed_out, err = runner.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(runner.pid, signal.SIGKILL)
        for kernel in kernels:
            kernel.kill()
        raise AssertionError("one Ctrl-C did not stop the runner within a minute") from None
    seconds = time.monotonic() - pressed
    assert runner.returncode == 130, err
    assert seconds < 15, f"the runner took {seconds:.0f} s to stop"  # a few on a loaded 2-core machine
    assert err.strip().splitlines() == [f"interrupted while 04_training.ipynb was running: {out} keeps what it had "
                                        "saved (model.pt: the best epoch so far) until the next run clears it."], err
    assert "Traceback" not in printed_out + err
    psutil.wait_procs(kernels, timeout=5)
    assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kernels), "no kernel left running"
    model = CNN().load(out / "model.pt")  # whole: written atomically, and nothing writes it any more
    assert model.weights_epoch >= 1 and len(model.history) >= model.weights_epoch
    record = json.loads((out / "run.json").read_text())
    assert record["runner"]["state"] == "interrupted" and record["runner"]["notebook"] == "04_training.ipynb"
    # notebook 4 itself noted the run (start_run) that wrote model.pt, with the runner's id
    assert record["notebooks"]["04"]["run"] == record["runner"]["run"] and "started" in record["notebooks"]["04"]
    left = [p.name for p in short_temp_folder.iterdir() if not p.name.startswith("torchinductor")]  # torch's cache
    assert not left, "no kernel connection files or sockets left in the temp folder"
    assert not list(NOTEBOOK_DIR.glob("kernel-ipc*")), "no kernel sockets left beside the notebooks"
    assert not (tmp_path / "rt").exists() or not list((tmp_path / "rt").iterdir())


def test_ctrl_c_under_papermill_itself_stops_the_epoch_and_keeps_the_checkpoint(tmp_path, short_temp_folder):
    """Without the runner: papermill's own Ctrl-C (its "Aborted!", exit 1) still stops training in seconds
    and leaves the best epoch's whole model.pt (docs/running.md)."""
    import psutil

    from cifar_helpers import CNN

    out = tmp_path / "run"
    env = {**os.environ, "CIFAR_QUICK": "0", "TMPDIR": str(short_temp_folder)}
    command = [sys.executable, "-m", "papermill", str(NOTEBOOK_DIR / "04_training.ipynb"), str(tmp_path / "out.ipynb"),
               "-p", "source", "synthetic", "-p", "max_epochs", "50", "-p", "patience", "50", "-p", "run_dir", str(out)]
    papermill, kernels = training_notebook_4(command, out, env)
    pressed = time.monotonic()
    os.killpg(papermill.pid, signal.SIGINT)
    try:
        papermill.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(papermill.pid, signal.SIGKILL)
        raise AssertionError("one Ctrl-C did not stop papermill within a minute") from None
    seconds = time.monotonic() - pressed
    assert papermill.returncode != 0 and seconds < 15, f"papermill took {seconds:.0f} s to stop"
    psutil.wait_procs(kernels, timeout=5)
    assert not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kernels), "no kernel left running"
    model = CNN().load(out / "model.pt")
    assert model.weights_epoch >= 1 and len(model.history) >= model.weights_epoch


@pytest.mark.parametrize("depth", ["short", "deep"])
def test_kernels_start_in_a_short_or_a_deep_runtime_folder(tmp_path, short_temp_folder, monkeypatch, depth):
    """IPC socket paths may have at most 107 bytes: a deep runtime folder (long TMPDIR) uses TCP instead."""
    from nbclient import NotebookClient

    from cifar_helpers.lesson.kernels import local_kernel_manager

    folder = short_temp_folder if depth == "short" else tmp_path / ("d" * 60) / "runtime"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder))
    manager = local_kernel_manager()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    NotebookClient(nb, kernel_name="python3", kernel_manager_class=manager, timeout=60).execute()
    assert nb.cells[0].outputs[0]["text"] == "42\n"
    assert manager().transport == ("ipc" if depth == "short" else "tcp")


@pytest.fixture(scope="module")
def gpu_check_on_cpu(tmp_path_factory):
    """tools/gpu_check.sh's three parts on the CPU, small and synthetic; notebook 6 in the whole lesson's setting."""
    out = tmp_path_factory.mktemp("gpu-check")
    env = {**os.environ, "PY": sys.executable, "OUT_DIR": str(out), "EPOCHS": "1", "FAST_EPOCHS": "1",
           "WIDTHS": "8,16,16", "FAST_BATCH_SIZE": "500", "FAST_LEARNING_RATE": "0.12",
           "EXTRA": "--source synthetic --ablation-epochs 0", "BENCH_SECONDS": "0.05", "BENCH_ROUNDS": "1",
           "BENCH_COMPARE": "8,8,8", "LESSON": "03", "LESSON_EXTRA": "--source synthetic",
           "XDG_CACHE_HOME": str(out / "cache")}
    result = subprocess.run(["bash", "tools/gpu_check.sh"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return SimpleNamespace(out=out, stdout=result.stdout)


def test_the_gpu_check_script_runs_on_the_cpu_path_and_prints_its_figures(gpu_check_on_cpu):
    """tools/gpu_check.sh is for a GPU machine; where CUDA is missing it runs on the CPU and says so."""
    out, stdout = gpu_check_on_cpu.out, gpu_check_on_cpu.stdout
    lines = stdout.splitlines()
    assert lines[0].startswith("GPU: none (CPU) | torch ")
    # the parts in order, most telling first: notebook 6, the benchmark, then the lesson
    assert [line for line in lines if line.startswith("== ")] == ["== fast", "== bench", "== lesson"]
    assert any(line.startswith("notebook 06: test accuracy") and "on cpu" in line and "1 epoch (" in line
               and line.endswith(" s each)") for line in lines)
    assert "FastNet(8, 16, 16) on cpu" in stdout  # then the training-step benchmark
    assert "whitening bias frozen" in stdout and "ratio to reference 1.00" in stdout
    assert "FastNet(8, 8, 8),   2.3 M multiply-adds" in stdout  # and the widths compared
    loader_line = "The training loader alone (mirror every other epoch, shift, to tensors on cpu), batch 500"
    assert loader_line in stdout  # at notebook 6's batch
    assert "ok  03_model.ipynb" in stdout
    assert (out / "lesson" / "notebooks" / "03_model.ipynb").is_file()
    assert "images kept on cpu (tensors), as notebook 6 on a GPU" in stdout


def test_the_gpu_check_script_runs_the_parts_asked_for_in_that_order_with_its_documented_defaults(tmp_path,
                                                                                                   whole_lesson):
    """Which commands each part starts, with nothing set: a stand-in PY records the runner's and the benchmark's
    command lines (the test above runs them for real) and hands everything else to Python. For the runner it
    leaves the whole lesson's metrics.json, so that the lesson part's summary of it is read too."""
    calls = tmp_path / "calls.txt"
    stand_in = tmp_path / "python"
    stand_in.write_text(f"""#!/usr/bin/env bash
case $1 in
    -m) echo "$*" >> {calls}; mkdir -p "$OUT_DIR/lesson"; cp {whole_lesson.out / "metrics.json"} "$OUT_DIR/lesson"
        exit 0 ;;
    benchmarks/*) echo "$*" >> {calls}; exit 0 ;;
esac
exec {sys.executable} "$@"
""")
    stand_in.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in {
        "EPOCHS", "FAST_EPOCHS", "WIDTHS", "FAST_BATCH_SIZE", "FAST_LEARNING_RATE", "EXTRA", "BENCH_SECONDS",
        "BENCH_ROUNDS", "BENCH_COMPARE", "LESSON", "LESSON_EXTRA", "BATCH_SIZE", "DATA"}}
    env.update(PY=str(stand_in), OUT_DIR=str(tmp_path / "gpu"))
    result = subprocess.run(["bash", "tools/gpu_check.sh", "lesson", "bench"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [line for line in result.stdout.splitlines() if line.startswith("== ")] == ["== lesson", "== bench"]
    lesson = f"-m cifar_helpers.run --device auto --only 01 02 03 04 05 --data-dir data --out {tmp_path}/gpu/lesson"
    assert calls.read_text().splitlines() == [  # no fast part; on the CPU, no --cuda --compile for the benchmark
        f"{lesson} --epochs 10 --batch-size 256",
        "benchmarks/bench_fast_net.py --widths 64,256,256 --compare 32,96,192 128,384,384 --seconds 3 --rounds 2 "
        "--loader-batch 2000"]
    m = json.loads((whole_lesson.out / "metrics.json").read_text())
    assert (f"notebooks 04-05: test accuracy {m['test_accuracy']:.2%}, 1 epochs, {m['seconds_per_epoch']:.1f} s per "
            f"epoch, {m['images_per_second']:,.0f} images/s") in result.stdout.splitlines()
    env["OUT_DIR"] = str(tmp_path / "refused")
    result = subprocess.run(["bash", "tools/gpu_check.sh", "fast", "speed"], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 2 and not (tmp_path / "refused").exists()
    assert result.stderr.strip() == "gpu_check.sh: unknown part 'speed': give fast, bench or lesson."
    assert len(calls.read_text().splitlines()) == 2  # refused before it started anything
