"""Plugins: EarlyStopping, ProgressBar (headless), Logger, Evaluator, LivePlot."""

import math
import re

import pytest
import torch

from cifar_helpers import EarlyStopping, Evaluator, LivePlot, Logger, ProgressBar
from cifar_helpers.training.metrics import classification_accuracy


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.1)


def feed_scores(model, scores, snapshots=None):
    """Put scores[epoch - 1] in each epoch's record as 'score' (registered before EarlyStopping),
    and keep a copy of the weights of each epoch in ``snapshots``."""
    def plugin(record, epoch, **_):
        record["score"] = scores[epoch - 1]
        if snapshots is not None:
            snapshots[epoch] = {k: v.clone() for k, v in model.state_dict().items()}
    model.register_plugin(plugin, "on_end_epoch")


def same_weights(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path, tiny_model, make_dataset):
    snapshots = {}
    feed_scores(tiny_model, [3.0, 2.0, 1.0, 1.5, 1.2, 1.1, 0.5, 0.1], snapshots)
    path = tmp_path / "runs" / "best.pt"
    stopper = EarlyStopping(max_tries=3, path=path, metric="score")
    tiny_model.register_plugin(stopper)

    assert tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=8) is False
    assert len(tiny_model.history) == 6  # epochs 4, 5, 6 did not beat epoch 3
    assert (stopper.best, stopper.best_epoch) == (1.0, 3)
    assert not same_weights(snapshots[3], snapshots[6])
    assert same_weights(tiny_model.state_dict(), snapshots[3])
    assert [r["epoch"] for r in tiny_model.history] == [1, 2, 3, 4, 5, 6]  # history not rolled back
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["best.pt"]  # no .tmp left
    assert "epoch 3" in tiny_model.state.stop_reason
    assert tiny_model.weights_epoch == 3


def test_early_stopping_without_restore_keeps_the_last_weights(tmp_path, tiny_model, make_dataset):
    snapshots = {}
    feed_scores(tiny_model, [1.0, 2.0, 3.0], snapshots)
    tiny_model.register_plugin(EarlyStopping(max_tries=2, path=tmp_path / "m.pt", metric="score",
                                             restore_best=False))
    assert tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=3) is False
    assert same_weights(tiny_model.state_dict(), snapshots[3])


def test_early_stopping_lets_an_improving_run_finish(tmp_path, tiny_model, make_dataset):
    feed_scores(tiny_model, [3.0, 2.0, 1.0])
    tiny_model.register_plugin(EarlyStopping(max_tries=1, path=tmp_path / "m.pt", metric="score"))
    assert tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=3) is True


def test_after_a_run_that_was_not_stopped_early_the_model_is_the_best_one(tmp_path, tiny_model, make_dataset):
    """As Keras's restore_best_weights: the model in memory is the one in the file, not the last epoch's."""
    snapshots = {}
    feed_scores(tiny_model, [3.0, 1.0, 2.0, 2.5], snapshots)
    path = tmp_path / "m.pt"
    tiny_model.register_plugin(EarlyStopping(max_tries=5, path=path, metric="score"))
    assert tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=4) is True
    assert not same_weights(snapshots[2], snapshots[4])
    assert same_weights(tiny_model.state_dict(), snapshots[2]) and tiny_model.weights_epoch == 2
    on_disk = type(tiny_model)().load(path)
    assert same_weights(on_disk.state_dict(), snapshots[2]) and on_disk.weights_epoch == 2
    assert [r["epoch"] for r in on_disk.history] == [1, 2, 3, 4]  # the whole run, beside its best weights


def test_an_interrupted_run_leaves_weights_and_history_that_belong_together(tmp_path, tiny_model, make_dataset):
    snapshots = {}
    feed_scores(tiny_model, [3.0, 1.0, 2.0, 2.5, 0.5], snapshots)
    path = tmp_path / "m.pt"
    tiny_model.register_plugin(EarlyStopping(max_tries=5, path=path, metric="score"))

    def ctrl_c(epoch, batch_index, **_):
        if (epoch, batch_index) == (4, 1):
            raise KeyboardInterrupt

    tiny_model.register_plugin(ctrl_c, "on_end_batch")
    with pytest.raises(KeyboardInterrupt):
        tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=5)
    saved = type(tiny_model)().load(path)
    assert [r["epoch"] for r in saved.history] == [1, 2, 3] and saved.weights_epoch == 2
    assert same_weights(saved.state_dict(), snapshots[2])
    assert same_weights(tiny_model.state_dict(), snapshots[2])  # restored in memory too


@pytest.mark.parametrize("scores, kwargs, epochs, best_epoch", [
    ([0.1, 0.5, 0.4, 0.3, 0.9], {"mode": "max", "max_tries": 2}, 4, 2),
    ([3, 3.5, 2, 2.5, 0.1], {"max_tries": 2}, 5, 5),  # each improvement starts the count again
    ([1, 1, 1], {"max_tries": 2}, 3, 1),  # a tie is not an improvement
    ([1.0, 0.95, 0.92, 0.91, 0.5], {"min_delta": 0.1, "max_tries": 3}, 4, 1),
    ([1.0, 0.95, 0.92, 0.91, 0.5], {"max_tries": 3}, 5, 5),
])
def test_early_stopping_mode_and_min_delta(tmp_path, tiny_model, make_dataset, scores, kwargs, epochs, best_epoch):
    feed_scores(tiny_model, scores)
    stopper = EarlyStopping(path=tmp_path / "m.pt", metric="score", **kwargs)
    tiny_model.register_plugin(stopper)
    tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=5)
    assert (len(tiny_model.history), stopper.best_epoch) == (epochs, best_epoch)


def test_early_stopping_starts_afresh_in_each_learn(tmp_path, tiny_model, make_dataset):
    """A second learn call (train some more) is judged on its own epochs, not on the first call's patience."""
    feed_scores(tiny_model, [1, 2, 3, 5])
    stopper = EarlyStopping(max_tries=2, path=tmp_path / "m.pt", metric="score")
    tiny_model.register_plugin(stopper)
    assert tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=5) is False  # stopped after 3
    assert tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=1) is True
    assert (stopper.best, stopper.best_epoch, stopper.tries) == (5, 4, 0)


def test_early_stopping_when_the_metric_is_never_a_number(tmp_path, tiny_model, make_dataset):
    feed_scores(tiny_model, [math.nan] * 5)
    tiny_model.register_plugin(EarlyStopping(max_tries=2, path=tmp_path / "m.pt", metric="score"))
    assert tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=5) is False
    assert len(tiny_model.history) == 2 and not (tmp_path / "m.pt").exists()
    assert tiny_model.state.stop_reason == "score has not been a number for 2 epochs; no model was kept."
    (tmp_path / "m.pt").write_bytes(b"an earlier run's")  # say so: loading it would give other weights
    tiny_model.register_plugin(EarlyStopping(max_tries=2, path=tmp_path / "m.pt", metric="score"))
    tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=5)
    assert tiny_model.state.stop_reason.endswith(f"no model was kept ({tmp_path / 'm.pt'} is an earlier run's).")


def test_early_stopping_mode_follows_the_metric_unless_given():
    """As Keras's mode="auto": an accuracy must grow, a loss fall."""
    assert EarlyStopping().mode == "min" and EarlyStopping(metric="val_accuracy").mode == "max"
    assert EarlyStopping(metric="val_accuracy", mode="min").mode == "min"
    assert EarlyStopping(restore_best=False).restore_best is False


def test_early_stopping_on_an_accuracy_keeps_the_best_epoch(tmp_path, tiny_model, make_dataset):
    def accuracy(record, epoch, **_):
        record["val_accuracy"] = [0.50, 0.62, 0.55, 0.58, 0.60][epoch - 1]
    tiny_model.register_plugin(accuracy, "on_end_epoch")
    stopper = EarlyStopping(max_tries=3, path=tmp_path / "m.pt", metric="val_accuracy")
    tiny_model.register_plugin(stopper)
    tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=5)
    assert (stopper.best_epoch, stopper.best, len(tiny_model.history)) == (2, 0.62, 5)


@pytest.mark.parametrize("kwargs, name", [
    ({"max_tries": 0}, "max_tries"), ({"max_tries": True}, "max_tries"), ({"max_tries": 2.5}, "max_tries"),
    ({"mode": "median"}, "mode"), ({"min_delta": -0.1}, "min_delta"),
])
def test_early_stopping_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        EarlyStopping(**kwargs)


def test_early_stopping_missing_metric(tmp_path, tiny_model, make_dataset):
    tiny_model.register_plugin(EarlyStopping(path=tmp_path / "m.pt"))  # watches val_loss
    with pytest.raises(KeyError, match="validation_dataset"):
        tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=2)


def test_early_stopping_on_val_loss(tmp_path, tiny_model, make_dataset):
    stopper = EarlyStopping(max_tries=2, path=tmp_path / "m.pt")
    tiny_model.register_plugin(stopper)
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), validation_dataset=make_dataset(16, 16), max_epochs=2)
    assert stopper.best == min(r["val_loss"] for r in tiny_model.history)
    assert (tmp_path / "m.pt").is_file()


def test_progress_bars_headless_print_a_few_lines(capsys, tiny_model, make_dataset):
    tiny_model.register_plugin(ProgressBar("epoch"))
    tiny_model.register_plugin(ProgressBar("batch"))
    tiny_model.learn(make_dataset(256, 2), sgd(tiny_model), max_epochs=3)  # 3 x 128 batches
    out = capsys.readouterr().out
    lines = [line for line in re.split(r"[\r\n]", out) if line.strip()]
    assert 1 <= len(lines) <= 15
    assert "3/3" in lines[-1]
    assert "epoch 1:" not in out  # no per-batch bar


def test_progress_bar_unit():
    with pytest.raises(ValueError, match="unit"):
        ProgressBar("step")


def test_logger_prints_one_line_per_epoch(capsys, tiny_model, make_dataset):
    tiny_model.register_plugin(Logger())
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), validation_dataset=make_dataset(16, 16), max_epochs=3)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for epoch, (line, record) in enumerate(zip(lines, tiny_model.history), start=1):
        assert line.startswith(f"epoch {epoch}/3")
        assert f"train_loss {record['train_loss']:.4f}" in line and "val_loss" in line and "img/s" in line


def test_logger_counts_on_from_an_earlier_learn(capsys, tiny_model, make_dataset):
    tiny_model.register_plugin(Logger())
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=2)
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=2)
    assert [line.split("  ")[0] for line in capsys.readouterr().out.splitlines()] == [
        "epoch 1/2", "epoch 2/2", "epoch 3/4", "epoch 4/4"]


def test_evaluator_adds_prefixed_metrics(tiny_model, make_dataset):
    test_set = make_dataset(48, 16)
    tiny_model.register_plugin(Evaluator(test_set, {"accuracy": classification_accuracy}))
    tiny_model.register_plugin(Evaluator(test_set, {"loss": tiny_model.metric_loss}, prefix="holdout"))
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=2)
    for record in tiny_model.history:
        assert 0 <= record["test_accuracy"] <= 1 and "holdout_loss" in record
    assert tiny_model.history[-1]["holdout_loss"] == pytest.approx(tiny_model.evaluate(test_set))
    with pytest.raises(ValueError, match="metrics"):
        Evaluator(test_set, {})


def test_live_plot_outside_a_notebook_saves_a_png(tmp_path, tiny_model, make_dataset):
    path = tmp_path / "curves.png"
    plot = LivePlot(path=path)
    tiny_model.register_plugin(plot)
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), validation_dataset=make_dataset(16, 16),
                     max_epochs=2, metrics={"accuracy": classification_accuracy})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(plot.figure.axes) == 2  # loss, and accuracy since it was measured
    assert [line.get_label()[:10] for line in plot.figure.axes[0].lines] == [
        "train loss", "validation", "lowest val"]  # train and validation loss, and the best epoch


def test_default_plugins_run_headless(capsys, tiny_model, make_dataset):
    tiny_model.register_default_plugins()
    assert tiny_model.learn(make_dataset(64, 4), sgd(tiny_model), max_epochs=2) is True
    out = capsys.readouterr().out
    assert out.count("train_loss") >= 2 and len(re.split(r"[\r\n]", out)) < 20


def test_live_plot_in_a_notebook_updates_one_output(monkeypatch, tiny_model, make_dataset):
    import IPython.display

    import cifar_helpers.training.plugins.live_plot as live_plot

    shown = []

    class Handle:
        def update(self, picture):
            shown.append(("update", picture))

    def display(picture, display_id=False):
        shown.append(("display", picture))
        return Handle()

    monkeypatch.setattr(live_plot, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", display)
    tiny_model.register_plugin(LivePlot())
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=3)
    assert [kind for kind, _ in shown] == ["display", "update", "update"]
    assert all(picture.data[:8] == b"\x89PNG\r\n\x1a\n" for _, picture in shown)


def test_early_stopping_refuses_a_path_it_could_never_write_before_training(tmp_path, tiny_model, make_dataset):
    """A path under a file (or a folder) fails with one line naming path, not after the first epoch's work."""
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    under_a_file = r"path='.*notes.txt/model.pt' lies under '.*notes.txt', which is a file, not a folder: choose"
    for path, message in ((tmp_path / "notes.txt" / "model.pt", under_a_file),
                          (tmp_path, r"path='.*' is a folder: name a file in it, such as '.*model.pt'"),
                          (3, r"path=3 must be a file name, such as 'runs/model.pt', or None")):
        with pytest.raises((ValueError, TypeError), match=message) as error:
            EarlyStopping(path=path)
        assert "\n" not in str(error.value)
    stopper = EarlyStopping(path=tmp_path / "later" / "model.pt")  # fine now: the folder can be made
    (tmp_path / "later").write_text("a file made after the stopper")
    tiny_model.register_plugin(stopper)
    with pytest.raises(ValueError, match=r"path='.*later/model.pt' lies under"):
        tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), validation_dataset=make_dataset(16, 16), max_epochs=2)
    assert tiny_model.history == []  # refused as training started, before any epoch ran
