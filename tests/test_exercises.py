"""Every exercise check: right answers pass, wrong answers get a hint (not the answer), no answer says so,
and grading (nbgrader sets NBGRADER_EXECUTION) turns anything but right into an AssertionError.

That every committed solution passes its check is tested where the notebooks run
(test_notebooks.py: the whole lesson in the quick profile prints one ✓ per exercise).
"""

import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from cifar_helpers import CLASSES, CNN, AsyncDataLoader, DataSet, batch_to_tensors, show_images
from cifar_helpers.lesson.exercises import CHECKS, check


STOPPED = "val_loss has not improved for 1 epochs"  # EarlyStopping's reason


class Looks:
    """A model whose mirror look puts right, of each class c, the ``fixed[c]`` images its one look got wrong."""

    def __init__(self, labels, fixed):
        self.labels, self.fixed = np.asarray(labels), fixed

    def predict_dataset(self, loader, mirror=False):
        predicted = self.labels.copy()
        if not mirror:
            for c, n in self.fixed.items():
                predicted[np.flatnonzero(self.labels == c)[:n]] = (c + 1) % 10
        return torch.nn.functional.one_hot(torch.from_numpy(predicted), 10).float()


def history(*values, key="val_loss", **more):
    return [{"epoch": i + 1, key: v, **{k: vs[i] for k, vs in more.items()}} for i, v in enumerate(values)]


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The data each check reads, made up small: what a notebook passes as context."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(200, 32, 32, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 20)
    average = np.stack([images[labels == c].mean(axis=0) for c in range(10)])
    figure = show_images(images[:32], labels[:32], CLASSES)
    figure_of_16 = show_images(images[:16], labels[:16], CLASSES)  # wrong answers to 2.1
    figure_mislabelled = show_images(images[:32], labels[1:33], CLASSES)
    probabilities = rng.dirichlet(np.ones(10), size=200)
    run_dir = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    for p in (0.0, 0.5):
        for seed in (0, 1):
            torch.save(CNN().state_dict(), run_dir / f"exercise_dropout_{p}_seed{seed}.pt")
    loader = AsyncDataLoader(DataSet([images, labels], batch_size=50, shuffle=False), on_batch_loaded=batch_to_tensors)
    batch = batch_to_tensors((images[:4], labels[:4]))
    model_12 = CNN()
    model_12.conv1, model_12.conv2 = torch.nn.Conv2d(3, 12, 5), torch.nn.Conv2d(12, 16, 5)
    model_12_broken = CNN()
    model_12_broken.conv1 = torch.nn.Conv2d(3, 12, 5)

    def results_of(p, seed):
        from cifar_helpers import classification_accuracy

        model = CNN()
        model.load_state_dict(torch.load(run_dir / f"exercise_dropout_{p}_seed{seed}.pt"))
        return model.evaluate_with_metrics(loader, {"loss": model.metric_loss, "accuracy": classification_accuracy})

    results = {(p, seed): results_of(p, seed) for p in (0.0, 0.5) for seed in (0, 1)}  # once each
    stopped = SimpleNamespace(history=history(1.0, 0.8, 0.9), weights_epoch=2,
                              state=SimpleNamespace(stop_reason=STOPPED))
    ran_all = SimpleNamespace(history=history(*[1.0 - i / 20 for i in range(15)]), weights_epoch=15,
                              state=SimpleNamespace(stop_reason=None))
    per_class = np.linspace(0.3, 0.9, 10)
    table = [{"step": "0. a", "test_accuracy": 0.5}, {"step": "1. b", "test_accuracy": 0.8},
             {"step": "2. c", "test_accuracy": 0.85}, {"step": "all, 10 epochs", "test_accuracy": 0.9}]
    return SimpleNamespace(**locals())


def seeds_verdict(values):
    """The rule of exercises 4.2 and 5.4, written out: the setting whose two values both lie below both of the
    other's by more than two seeds of one setting differ, else "neither"."""
    a, b = sorted([values[0.0, 0], values[0.0, 1]]), sorted([values[0.5, 0], values[0.5, 1]])
    spread = max(a[1] - a[0], b[1] - b[0])
    return 0.0 if b[0] - a[1] > spread else 0.5 if a[0] - b[1] > spread else "neither"


def dropout_runs(gaps):
    """Histories of the four runs of exercise 4.2 whose last epochs have these gaps (val_loss - train_loss)."""
    return {key: history(1.0 + gap, key="val_loss", train_loss=[1.0]) for key, gap in gaps.items()}


def cases(c):
    """exercise -> (right answers, [wrong answers...], unanswered), each a dict of keywords (context included)."""
    n = 50_000
    lr = {0.01: history(1.0, 0.5, key="train_loss", val_loss=[1, 1]),
          0.001: history(1.0, 0.7, key="train_loss", val_loss=[1, 1]),
          0.0001: history(2.0, 1.9, key="train_loss", val_loss=[2, 2])}
    dropout = dropout_runs({(0.0, 0): 0.6, (0.0, 1): 0.55, (0.5, 0): 0.2, (0.5, 1): 0.25})
    results = c.results
    verdict = seeds_verdict({key: result["loss"] for key, result in results.items()})
    flips = {True: history(1.0, key="val_loss", val_accuracy=[0.6]),
             False: history(1.0, key="val_loss", val_accuracy=[0.5])}
    small, base = history(0.4, key="val_accuracy"), history(0.5, key="val_accuracy")
    test_mean = c.images.reshape(-1, 3).mean(axis=0) / 255
    wrong_index = int(np.flatnonzero(c.probabilities.argmax(axis=1) != c.labels)[0])
    right_index = int(np.flatnonzero(c.probabilities.argmax(axis=1) == c.labels)[0])
    looks = {"model": Looks(c.labels, {3: 10, 0: 2}), "test_loader": c.loader, "labels": c.labels, "classes": CLASSES}
    differences = {(i, j): np.abs(c.average[i] - c.average[j]).mean() for i in range(10) for j in range(i + 1, 10)}
    i, j = min(differences, key=differences.get)
    means = {name: c.images[c.labels == CLASSES.index(name)].mean() for name in ("airplane", "frog")}
    brighter = max(means, key=means.get)
    return {
        "1.1": ({"batches_256": n // 256, "n_train": n},
                [{"batches_256": n // 256 + 1, "n_train": n}, {"batches_256": n / 256, "n_train": n}],
                {"batches_256": None, "n_train": n}),
        "1.2": ({"test_mean": test_mean, "test_images": c.images, "train_mean": test_mean},
                [{"test_mean": test_mean * 255, "test_images": c.images, "train_mean": test_mean},
                 {"test_mean": test_mean[:2], "test_images": c.images, "train_mean": test_mean},
                 {"test_mean": test_mean + 0.05, "test_images": c.images, "train_mean": test_mean}],
                {"test_mean": None, "test_images": c.images, "train_mean": test_mean}),
        "1.3": ({"same_without_shuffle": True, "same_with_shuffle": False},
                [{"same_without_shuffle": False, "same_with_shuffle": False},
                 {"same_without_shuffle": True, "same_with_shuffle": True}],
                {"same_without_shuffle": None, "same_with_shuffle": None}),
        "1.4": ({"seconds": {1: 0.5, 16: 0.4}}, [{"seconds": {1: 0.5}}, {"seconds": {1: -1, 16: 0.4}}],
                {"seconds": {}}),
        "2.1": ({"figure": c.figure, "test_labels": c.labels, "classes": CLASSES},
                [{"figure": c.figure_of_16, "test_labels": c.labels, "classes": CLASSES},
                 {"figure": c.figure_mislabelled, "test_labels": c.labels, "classes": CLASSES}],
                {"figure": None, "test_labels": c.labels, "classes": CLASSES}),
        "2.2": ({"most_similar": (CLASSES[j], CLASSES[i]), "average_images": c.average, "classes": CLASSES},
                [{"most_similar": ("cat", "cat"), "average_images": c.average, "classes": CLASSES},
                 {"most_similar": next((CLASSES[a], CLASSES[b]) for a, b in differences if (a, b) != (i, j)),
                  "average_images": c.average, "classes": CLASSES}],
                {"most_similar": None, "average_images": c.average, "classes": CLASSES}),
        "2.3": ({"brighter": brighter, "figure": c.figure, "images": c.images, "labels": c.labels, "classes": CLASSES},
                [{"brighter": ({"airplane", "frog"} - {brighter}).pop(), "figure": c.figure, "images": c.images,
                  "labels": c.labels, "classes": CLASSES},
                 {"brighter": "ship", "figure": c.figure, "images": c.images, "labels": c.labels, "classes": CLASSES}],
                {"brighter": None, "figure": None, "images": c.images, "labels": c.labels, "classes": CLASSES}),
        "3.1": ({"model": c.model_12, "parameters": sum(p.numel() for p in c.model_12.parameters()), "batch": c.batch},
                [{"model": c.model_12_broken, "parameters": 1, "batch": c.batch},
                 {"model": CNN(), "parameters": 62006, "batch": c.batch},
                 {"model": c.model_12, "parameters": 62006, "batch": c.batch}],
                {"model": None, "parameters": None, "batch": c.batch}),
        "3.2": ({"fc1_inputs": 400}, [{"fc1_inputs": 576}, {"fc1_inputs": 300}], {"fc1_inputs": None}),
        "3.3": ({"zeroed_loss": math.log(10)}, [{"zeroed_loss": 2.2}], {"zeroed_loss": None}),
        "4.1": ({"histories": lr, "worst_rate": 0.0001},
                [{"histories": lr, "worst_rate": 0.01}, {"histories": {0.001: lr[0.001]}, "worst_rate": 0.001}],
                {"histories": {}, "worst_rate": None}),
        "4.2": ({"histories": dropout, "bigger_gap": 0.0},
                [{"histories": dropout, "bigger_gap": 0.5}, {"histories": dropout, "bigger_gap": "neither"},
                 {"histories": {key: h for key, h in dropout.items() if key[1] == 0}, "bigger_gap": 0.0}],
                {"histories": dropout, "bigger_gap": None}),
        "4.3": ({"histories": flips, "better": True}, [{"histories": flips, "better": False}],
                {"histories": flips, "better": None}),
        "4.4": ({"history": small, "baseline": base, "lower": True},
                [{"history": small, "baseline": base, "lower": False}],
                {"history": None, "baseline": base, "lower": None}),
        "4.5": ({"reported": [0.4, 0.5], "history": history(1, 1, key="val_loss", val_accuracy=[0.4, 0.5])},
                [{"reported": [0.4], "history": history(1, 1, key="val_loss", val_accuracy=[0.4, 0.5])},
                 {"reported": [0.5, 0.4], "history": history(1, 1, key="val_loss", val_accuracy=[0.4, 0.5])}],
                {"reported": [], "history": None}),
        "4.6": ({"model": c.stopped, "epochs": 15},
                [{"model": c.ran_all, "epochs": 15},
                 {"model": SimpleNamespace(**{**vars(c.stopped), "weights_epoch": 3}), "epochs": 15}],
                {"model": None, "epochs": 15}),
        "5.1": ({"best_class": CLASSES[9], "worst_class": CLASSES[0], "per_class": c.per_class, "classes": CLASSES},
                [{"best_class": CLASSES[0], "worst_class": CLASSES[9], "per_class": c.per_class, "classes": CLASSES}],
                {"best_class": None, "worst_class": None, "per_class": c.per_class, "classes": CLASSES}),
        "5.2": ({"index": int(np.flatnonzero(c.probabilities.argmax(1) != c.labels)[
                    np.argmax(c.probabilities[c.probabilities.argmax(1) != c.labels].max(1))]),
                 "probabilities": c.probabilities, "labels": c.labels},
                [{"index": right_index, "probabilities": c.probabilities, "labels": c.labels},
                 {"index": wrong_index, "probabilities": c.probabilities, "labels": c.labels}],
                {"index": None, "probabilities": c.probabilities, "labels": c.labels}),
        "5.3": ({"most_gained": CLASSES[3], **looks}, [{"most_gained": CLASSES[0], **looks}],
                {"most_gained": None, **looks}),
        "5.4": ({"test_results": results, "lower_loss": verdict, "run_dir": c.run_dir, "test_loader": c.loader},
                [{"test_results": {key: {**r, "loss": r["loss"] + 0.05} for key, r in results.items()},
                  "lower_loss": verdict, "run_dir": c.run_dir, "test_loader": c.loader}]
                + [{"test_results": results, "lower_loss": other, "run_dir": c.run_dir, "test_loader": c.loader}
                   for other in (0.0, 0.5, "neither") if other != verdict],
                {"test_results": {}, "lower_loss": None, "run_dir": c.run_dir, "test_loader": c.loader}),
        "6.1": ({"largest_gain": "1. b", "table": c.table},
                [{"largest_gain": "2. c", "table": c.table}, {"largest_gain": "0. a", "table": c.table}],
                {"largest_gain": None, "table": c.table}),
        "6.2": ({"images_per_second": {1: 600.0, 6: 100.0}}, [{"images_per_second": {1: 600.0, 6: -1}},
                                                              {"images_per_second": {1: 100.0, 6: 600.0}}],
                {"images_per_second": {}}),
    }


def test_every_exercise_of_the_notebooks_has_exactly_one_check_and_a_case_here(context):
    import nbformat

    names = []
    for path in sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert cell.source.startswith('check("') and cell.source.count("\n") == 0, "a check cell is one line"
                names.append(cell.source.split('"')[1])
    assert sorted(names) == sorted(CHECKS) == sorted(cases(context)), "one check per exercise, each tested here"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_right_wrong_and_missing_answers(name, context, capsys):
    right, wrongs, unanswered = cases(context)[name]
    check(name, **right)
    assert capsys.readouterr().out.startswith(f"✓ Exercise {name}: right.")
    for answer in wrongs:
        check(name, **answer)
        out = capsys.readouterr().out
        assert out.startswith(f"✗ Exercise {name}: not yet. Hint: ") and len(out.splitlines()) == 1, out
    check(name, **unanswered)
    assert capsys.readouterr().out.startswith(f"… Exercise {name}: no answer yet:")


@pytest.mark.parametrize("variable, value", [("NBGRADER_EXECUTION", "autograde"), ("CIFAR_GRADING", "1"),
                                             ("CIFAR_GRADING", "true")])
def test_grading_turns_a_wrong_or_missing_answer_into_an_assertion(context, monkeypatch, capsys, variable, value):
    monkeypatch.setenv(variable, value)
    right, wrongs, unanswered = cases(context)["3.2"]
    check("3.2", **right)
    assert capsys.readouterr().out.startswith("✓")
    with pytest.raises(AssertionError, match="not yet. Hint"):
        check("3.2", **wrongs[0])
    with pytest.raises(AssertionError, match="no answer yet"):
        check("3.2", **unanswered)


@pytest.mark.parametrize("yes, no", [(np.bool_(True), np.bool_(False)), (torch.tensor(True), torch.tensor(False))])
def test_yes_no_answers_may_be_numpy_or_torch_booleans(context, capsys, yes, no):
    """(a == b).all() gives numpy's or torch's bool, not Python's: a right answer all the same."""
    right, _, _ = cases(context)["4.4"]
    check("1.3", same_without_shuffle=yes, same_with_shuffle=no)
    check("4.4", **{**right, "lower": yes})
    assert capsys.readouterr().out.count("right.") == 2
    check("1.3", same_without_shuffle="yes", same_with_shuffle=np.array([False, False]))
    check("4.4", **{**right, "lower": "True"})
    assert capsys.readouterr().out.count("True or False") == 2


def test_5_2_looks_only_among_the_wrong_predictions(capsys):
    """The most confident prediction overall (image 0) is right; the answer is the surest wrong one (image 1)."""
    probabilities, labels = np.array([[0.99, 0.01], [0.2, 0.8], [0.6, 0.4]]), np.array([0, 0, 1])
    check("5.2", index=0, probabilities=probabilities, labels=labels)
    assert "the model got that image right" in capsys.readouterr().out
    check("5.2", index=1, probabilities=probabilities, labels=labels)
    assert capsys.readouterr().out.startswith("✓ Exercise 5.2: right. test image 1: 80.0% sure")


def test_4_6_wants_early_stopping_to_have_fired(capsys):
    history = [{"epoch": e, "val_loss": 1.0 / e} for e in (1, 2, 3)]
    ran_out = SimpleNamespace(history=history, state=SimpleNamespace(stop_reason=None), weights_epoch=3)
    check("4.6", model=ran_out, epochs=15)  # 3 of 15 epochs, but nothing stopped it (say, max_epochs=3)
    assert capsys.readouterr().out.startswith("✗ Exercise 4.6: not yet. Hint: it ran every epoch")


def test_4_6_never_takes_a_diverged_epoch_for_the_best(capsys):
    """EarlyStopping skips a NaN validation loss; the check agrees (min() would pick the NaN first epoch)."""
    history = [{"epoch": 1, "val_loss": float("nan")}, {"epoch": 2, "val_loss": 0.8}, {"epoch": 3, "val_loss": 0.9}]
    stopped = SimpleNamespace(history=history, state=SimpleNamespace(stop_reason=STOPPED), weights_epoch=2)
    check("4.6", model=stopped, epochs=15)
    assert capsys.readouterr().out.startswith("✓ Exercise 4.6: right. it stopped after epoch 3 and kept epoch 2's")


@pytest.mark.parametrize("value", ["0", "false", "off", ""])
def test_grading_off_when_cifar_grading_is_off(context, monkeypatch, capsys, value):
    monkeypatch.setenv("CIFAR_GRADING", value)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    _, wrongs, _ = cases(context)["3.2"]
    check("3.2", **wrongs[0])  # prints, does not raise
    assert capsys.readouterr().out.startswith("✗ Exercise 3.2: not yet.")


def test_an_unknown_exercise_is_named():
    with pytest.raises(KeyError, match="there is no exercise '9.9'"):
        check("9.9")


def teardown_module():
    plt.close("all")


def test_a_tie_accepts_either_of_the_tied_answers(context, capsys):
    """Per-class accuracies move in steps of 0.1 points: two classes can share the largest gain or value."""
    tied = {"model": Looks(context.labels, {3: 10, 0: 10}), "test_loader": context.loader, "labels": context.labels,
            "classes": CLASSES}
    for answer in (CLASSES[0], CLASSES[3]):
        check("5.3", most_gained=answer, **tied)
    per_class = np.array([0.5] * 8 + [0.9, 0.9])
    for best in (CLASSES[8], CLASSES[9]):
        check("5.1", best_class=best, worst_class=CLASSES[0], per_class=per_class, classes=CLASSES)
    even = {flips: history(1, 1, key="val_loss", val_accuracy=[0.4, 0.5]) for flips in (True, False)}
    for better in (True, False):
        check("4.3", histories=even, better=better)
    assert capsys.readouterr().out.count("right.") == 6


def test_a_stop_in_the_last_epoch_is_still_early_stopping(capsys):
    """EarlyStopping can fire after the last epoch too; only its own reason counts as firing."""
    history_ = history(1.0, 0.8, 0.9)
    for reason, verdict in (("val_loss has not improved for 1 epochs; the best, 0.8000, is from epoch 2", "✓"),
                            ("the training loss became nan in epoch 3: training diverged", "✗"), (None, "✗")):
        model = SimpleNamespace(history=history_, weights_epoch=2, state=SimpleNamespace(stop_reason=reason))
        check("4.6", model=model, epochs=3)
        assert capsys.readouterr().out.startswith(f"{verdict} Exercise 4.6")


@pytest.mark.parametrize("name, answers, hint", [
    ("4.1", {"histories": {lr: SimpleNamespace(history=[]) for lr in (0.01, 0.001, 0.0001)}, "worst_rate": 0.01},
     "not the model itself"),
    ("4.5", {"reported": [0.4], "history": None}, "keep that run's history (model.history) in history_report"),
    ("4.5", {"reported": [0.4], "history": SimpleNamespace(history=[])}, "not the model itself"),
    ("1.4", {"seconds": 1.5}, "not of the kind the question asks for"),
    ("3.3", {"zeroed_loss": "2.3026"}, "not of the kind the question asks for"),
    ("5.4", {"test_results": {(p, seed): {"loss": 1.6, "accuracy": 42.9} for p in (0.0, 0.5) for seed in (0, 1)},
             "lower_loss": 0.5}, "as a fraction, such as 0.46, not as a percentage"),
])
def test_an_answer_of_another_kind_gets_a_hint_not_a_traceback(context, capsys, name, answers, hint):
    if name == "5.4":
        answers = {**answers, "run_dir": context.run_dir, "test_loader": context.loader}
    check(name, **answers)
    out = capsys.readouterr().out
    assert out.startswith(f"✗ Exercise {name}: not yet. Hint: ") or out.startswith(f"… Exercise {name}: no answer"), out
    assert hint in out and len(out.splitlines()) == 1


def test_4_2_calls_a_setting_larger_only_beyond_the_spread_between_seeds(capsys):
    """Two seeds per setting: a difference between settings no larger than between seeds is "neither"."""
    clear = dropout_runs({(0.0, 0): 0.91, (0.0, 1): 0.909, (0.5, 0): 0.169, (0.5, 1): 0.185})
    noisy = dropout_runs({(0.0, 0): 0.91, (0.0, 1): 0.909, (0.5, 0): 1.113, (0.5, 1): 0.975})  # 0.065 apart, 0.138
    for histories, answer, verdict in ((clear, 0.0, "✓"), (clear, 0.5, "✗"), (clear, "neither", "✗"),
                                       (noisy, "neither", "✓"), (noisy, 0.5, "✗"), (noisy, 0.0, "✗")):
        check("4.2", histories=histories, bigger_gap=answer)
        out = capsys.readouterr().out
        assert out.startswith(f"{verdict} Exercise 4.2"), (answer, out)
    check("4.2", histories=clear, bigger_gap=0.0)
    assert "narrows the gap" in capsys.readouterr().out
    check("4.2", histories=noisy, bigger_gap="neither")
    assert "cannot tell them apart" in capsys.readouterr().out


def test_5_4_judges_the_loss_and_reports_the_accuracy_each_against_the_seeds(context, capsys, monkeypatch):
    """Clear in the loss, within noise in the accuracy: right is the loss's verdict, and the accuracy's is said."""
    losses = {(0.0, 0): 1.772, (0.0, 1): 1.798, (0.5, 0): 1.549, (0.5, 1): 1.596}
    accuracies = {(0.0, 0): 0.428, (0.0, 1): 0.429, (0.5, 0): 0.436, (0.5, 1): 0.416}
    results = {key: {"loss": losses[key], "accuracy": accuracies[key]} for key in losses}
    by_path = {str(context.run_dir / f"exercise_dropout_{p}_seed{seed}.pt"): (p, seed) for p, seed in losses}

    class StandIn:  # CNN() that, given a file's weights, scores as the table says
        metric_loss = None

        def to(self, device):
            return self

        def load_state_dict(self, state):
            self.key = state

        def evaluate_with_metrics(self, loader, metrics):
            return dict(results[self.key])

    monkeypatch.setattr("cifar_helpers.networks.cnn.CNN", StandIn)
    monkeypatch.setattr(torch, "load", lambda path, **_: by_path[str(path)])
    for answer, verdict in ((0.5, "✓"), (0.0, "✗"), ("neither", "✗")):
        check("5.4", test_results=results, lower_loss=answer, run_dir=context.run_dir, test_loader=context.loader)
        out = capsys.readouterr().out
        assert out.startswith(f"{verdict} Exercise 5.4"), (answer, out)
    check("5.4", test_results=results, lower_loss=0.5, run_dir=context.run_dir, test_loader=context.loader)
    assert "In accuracy the settings lie within the seeds' spread" in capsys.readouterr().out


def test_4_1_says_when_the_largest_rate_never_left_chance(capsys):
    stalled = {0.01: history(2.304, 2.300, key="train_loss", val_loss=[2.3, 2.3]),
               0.001: history(1.9, 1.6, key="train_loss", val_loss=[1.8, 1.6]),
               0.0001: history(2.25, 1.92, key="train_loss", val_loss=[2.2, 1.9])}
    check("4.1", histories=stalled, worst_rate=0.01)
    assert "still near ln 10" in capsys.readouterr().out
    falling = {**stalled, 0.01: history(2.0, 1.95, key="train_loss", val_loss=[2.0, 1.9])}
    check("4.1", histories=falling, worst_rate=0.01)
    out = capsys.readouterr().out
    assert out.startswith("✓") and "ln 10" not in out and "overshoot" in out


@pytest.mark.parametrize("seconds", [np.float32(0.81), np.float64(0.81), torch.tensor(0.81), np.array(0.81)],
                         ids=["np.float32", "np.float64", "0-d tensor", "0-d array"])
def test_1_4_takes_a_time_as_any_real_number(capsys, seconds):
    """np.mean of timings is a np.float64, a sum of np.float32 timings a np.float32: seconds all the same."""
    check("1.4", seconds={1: seconds, 16: np.float32(0.88)})
    assert capsys.readouterr().out.startswith("✓ Exercise 1.4: right. 0.81 s and 0.88 s.")
    for not_a_time in (True, "0.81", torch.tensor([0.81, 0.9])):
        check("1.4", seconds={1: not_a_time, 16: 0.88})
        out = capsys.readouterr().out
        assert out.startswith("✗ Exercise 1.4: not yet. Hint: ") and len(out.splitlines()) == 1, out


class _FailsWith:
    """A stand-in network whose forward pass raises ``error``: the check sees a message of several lines."""

    def __init__(self, error):
        self.conv1, self.error = SimpleNamespace(out_channels=12), error

    def eval(self):
        return self

    def __call__(self, batch):
        raise self.error


@pytest.mark.parametrize("name, answers", [
    ("5.1", {"best_class": torch.tensor([1, 2]), "worst_class": "cat", "per_class": np.linspace(0.3, 0.9, 10),
             "classes": CLASSES}),
    ("3.3", {"zeroed_loss": torch.tensor([2.3026, 2.3026])}),
    ("3.2", {"fc1_inputs": torch.tensor([400, 400])}),
    ("1.1", {"batches_256": torch.tensor([195, 195]), "n_train": 50_000}),
    ("1.4", {"seconds": torch.tensor([0.5, 0.4])}),
    ("5.2", {"index": torch.tensor([0, 1]), "probabilities": np.array([[0.9, 0.1], [0.2, 0.8]]),
             "labels": np.array([1, 0])}),
    ("3.1", {"model": _FailsWith(TypeError("conv2d() received an invalid combination of arguments\n * (Tensor)")),
             "parameters": 1, "batch": None}),
])
def test_several_values_where_one_is_asked_for_get_a_one_line_hint(capsys, name, answers):
    """bool() of a tensor of several values is a RuntimeError; PyTorch's messages can run over several lines."""
    check(name, **answers)
    out = capsys.readouterr().out
    assert out.startswith(f"✗ Exercise {name}: not yet. Hint: ") and len(out.splitlines()) == 1, out


def test_3_3_wants_the_loss_with_both_weights_and_bias_of_fc3_zeroed(context, capsys):
    """Zeroing only one of them leaves scores that differ between classes: a loss near ln 10, but not on it."""
    def zeroed_loss(*parts):
        torch.manual_seed(0)
        model = CNN()
        with torch.no_grad():
            for part in parts:
                getattr(model.fc3, part).zero_()
        return model.evaluate(context.loader)

    for answer in (zeroed_loss("weight", "bias"), 2.3026):  # computed in float32, or as the notebook prints it
        check("3.3", zeroed_loss=answer)
        assert capsys.readouterr().out.startswith("✓ Exercise 3.3: right. 2.3026 = ln 10 exactly")
    # A small fc3.bias can leave a weights-only answer this near ln 10 (CNN() with some seeds does).
    for answer in (zeroed_loss("weight"), zeroed_loss("bias"), math.log(10) + 5e-5, math.log(10) - 3e-5, 2.303):
        check("3.3", zeroed_loss=answer)
        assert capsys.readouterr().out.startswith("✗ Exercise 3.3: not yet. Hint: zero both"), answer


def test_5_1_wants_both_classes(capsys):
    """One of the two right is not yet right, with or without a tie."""
    per_class = np.array([0.5, 0.3, 0.6, 0.7, 0.8, 0.9, 0.4, 0.6, 0.9, 0.3])  # best 5 or 8, worst 1 or 9
    for best, worst, verdict in ((5, 1, "✓"), (8, 9, "✓"), (5, 0, "✗"), (4, 1, "✗"), (5, 5, "✗"), (1, 1, "✗"),
                                 (1, 5, "✗")):
        check("5.1", best_class=CLASSES[best], worst_class=CLASSES[worst], per_class=per_class, classes=CLASSES)
        assert capsys.readouterr().out.startswith(f"{verdict} Exercise 5.1"), (CLASSES[best], CLASSES[worst])


def test_5_2_when_the_model_makes_no_mistake(capsys):
    probabilities = np.eye(3)[[0, 1, 2, 1]]
    labels = np.array([0, 1, 2, 1])
    check("5.2", index=None, probabilities=probabilities, labels=labels)
    assert capsys.readouterr().out.startswith("✓ Exercise 5.2: right. the model got every test image right")
    check("5.2", index=2, probabilities=probabilities, labels=labels)
    assert capsys.readouterr().out.startswith("✗ Exercise 5.2: not yet. Hint: the model got every test image right")
    check("5.2", index=None, probabilities=probabilities, labels=np.array([0, 1, 2, 0]))
    assert capsys.readouterr().out.startswith("… Exercise 5.2: no answer yet")
