"""Model: learning, events and their state, plugin registration, determinism, eval mode, weighted
metrics, stopping, argument errors, and checkpoints (round trip, wrong model, crash or full disk
while saving, GPU files)."""

import enum
import math
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cifar_helpers.core.files
from cifar_helpers import (CNN, EVENTS, AsyncDataLoader, DataSet, Model, PluginInterface, ProgressBar,
                           StopTraining, set_seed)
from cifar_helpers.training.checkpoint import load_checkpoint, save_checkpoint
from cifar_helpers.training.metrics import classification_accuracy


def sgd(model, lr=0.01):
    return torch.optim.SGD(model.parameters(), lr=lr)


def record_events(model):
    """Register a plugin on every event; return the list of (event, epoch, batch_index) it fills."""
    calls = []
    for event in EVENTS:
        model.register_plugin(
            lambda event=event, epoch=None, batch_index=None, **_: calls.append((event, epoch, batch_index)),
            event)
    return calls


def test_learn_lowers_the_loss(make_dataset):
    torch.manual_seed(0)
    model = CNN()
    train = make_dataset(256, 32, shuffle=True, seed=0)
    before = model.evaluate(train)
    assert model.learn(train, torch.optim.Adam(model.parameters(), lr=3e-3), max_epochs=3) is True
    assert model.evaluate(train) < 0.8 * before
    assert [r["epoch"] for r in model.history] == [1, 2, 3]
    assert model.history[-1]["train_loss"] < model.history[0]["train_loss"]


def test_train_loss_is_the_mean_over_every_image_of_the_epoch(make_dataset):
    """With a learning rate of 0 nothing changes, so the epoch's loss is the data's loss (batches of 16, 16, 8)."""
    torch.manual_seed(0)
    model = CNN(dropout=0.0)
    data = make_dataset(40, 16)
    model.learn(data, torch.optim.SGD(model.parameters(), lr=0.0), max_epochs=1)
    assert model.history[0]["train_loss"] == pytest.approx(model.evaluate(data), rel=1e-5)


def test_every_step_starts_from_fresh_gradients_in_training_mode(make_dataset):
    """learn clears the gradients before each batch, and trains in training mode even after eval() and validation."""
    model = CNN(dropout=0.5).eval()
    seen = []

    def before_backward(**_):
        seen.append((model.training, all(p.grad is None for p in model.parameters())))
    model.register_plugin(before_backward, "before_backward")
    data = make_dataset(48, 16)
    model.learn(data, sgd(model), max_epochs=2, validation_dataset=data)
    assert seen == [(True, True)] * 6


def test_events_fire_in_the_documented_order(tiny_model, make_dataset):
    calls = record_events(tiny_model)
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=2)
    per_batch = ["on_start_batch", "before_backward", "before_step", "on_end_batch"]
    expected = ["on_start"] + (["on_start_epoch"] + per_batch * 3 + ["on_end_epoch"]) * 2 + ["on_end"]
    assert [event for event, _, _ in calls] == expected
    assert [(e, b) for event, e, b in calls if event == "on_end_batch"] == [
        (1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
    assert [e for event, e, _ in calls if event == "on_end_epoch"] == [1, 2]


def test_state_given_to_plugins(tiny_model, make_dataset):
    seen = {}

    def before_backward(loss, output, batch, optimizer, dataset, max_epochs, num_batches, **_):
        assert isinstance(loss, torch.Tensor) and loss.ndim == 0 and loss.requires_grad
        assert output.shape == (len(batch[0]), 10)
        assert isinstance(optimizer, torch.optim.SGD) and max_epochs == 2 and num_batches == 3
        seen["before_backward"] = seen.get("before_backward", 0) + 1

    def on_end_epoch(record, history, model, **_):
        assert record is history[-1] and model is tiny_model
        seen.setdefault("records", []).append(dict(record))

    tiny_model.register_plugin(before_backward, "before_backward")
    tiny_model.register_plugin(on_end_epoch, "on_end_epoch")
    validation = make_dataset(32, 16)
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), validation_dataset=validation, max_epochs=2,
                     metrics={"accuracy": classification_accuracy})
    assert seen["before_backward"] == 6
    for record in seen["records"]:
        assert {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds", "images_per_second"} <= set(record)
        assert isinstance(record["train_loss"], float) and 0 <= record["val_accuracy"] <= 1
    assert seen["records"][-1]["val_loss"] == pytest.approx(tiny_model.evaluate(validation))


def test_no_val_loss_without_validation_set(tiny_model, make_dataset):
    tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=1)
    assert "train_loss" in tiny_model.history[0] and "val_loss" not in tiny_model.history[0]


def test_frequency(tiny_model, make_dataset):
    calls = []
    tiny_model.register_plugin(lambda epoch, batch_index, **_: calls.append((epoch, batch_index)),
                               "on_end_batch", frequency=2)
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=2)
    assert calls == [(1, 2), (2, 1), (2, 3)]


class Counter(PluginInterface):
    def __init__(self):
        self.counts = {}

    def on_start_epoch(self, **_):
        self.counts["epochs"] = self.counts.get("epochs", 0) + 1

    def on_end_batch(self, **_):
        self.counts["batches"] = self.counts.get("batches", 0) + 1


@pytest.mark.parametrize("event", [None, "on_start_epoch", "on_end_batch"])
def test_a_plugin_object_is_registered_on_all_its_methods(tiny_model, make_dataset, event):
    """register_plugin(plugin), and the seed's register_plugin(plugin, one_of_its_events), do the same."""
    counter = Counter()
    tiny_model.register_plugin(counter, event)
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=2)
    assert counter.counts == {"epochs": 2, "batches": 6}


def test_frequency_for_a_plugin_object_applies_to_the_event_named(tiny_model, make_dataset):
    counter = Counter()
    tiny_model.register_plugin(counter, "on_end_batch", frequency=3)
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=2)
    assert counter.counts == {"epochs": 2, "batches": 2}


def test_progress_bar_registered_the_seed_way_works(tiny_model, make_dataset, capsys):
    """register_plugin(ProgressBar("batch"), "on_end_batch") used to pass and then fail in training."""
    tiny_model.register_plugin(ProgressBar("batch"), "on_end_batch")
    tiny_model.register_plugin(ProgressBar("epoch"), "on_end_epoch")
    assert tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=2) is True
    assert "2/2" in capsys.readouterr().out


def test_a_callable_object_that_is_not_a_plugin_interface_is_a_function(tiny_model, make_dataset):
    class Call:
        calls = 0

        def __call__(self, **_):
            self.calls += 1

    call = Call()
    tiny_model.register_plugin(call, "on_end_epoch")
    tiny_model.learn(make_dataset(16, 16), sgd(tiny_model), max_epochs=3)
    assert call.calls == 3


def test_same_seed_same_losses(make_dataset, losses_of):
    def run(seed):
        set_seed(seed)
        model = CNN(dropout=0.3)  # dropout draws from torch's generator, the shuffle from numpy's
        dataset = make_dataset(96, 16, shuffle=True)  # no seed: follows np.random.seed
        return losses_of(model, dataset, sgd(model))

    first = run(0)
    assert len(first) == 12
    assert run(0) == first
    assert run(1) != first


def test_dropout_is_off_in_predict_and_evaluate(make_dataset):
    torch.manual_seed(0)
    model = CNN(dropout=0.5)
    dataset = make_dataset(32, 16)
    batch = next(iter(dataset))
    model.train()
    assert not torch.equal(model(batch), model(batch))  # dropout does act in training mode
    assert torch.equal(model.predict(batch), model.predict(batch))
    assert model.evaluate(dataset) == model.evaluate(dataset)
    assert torch.equal(model.predict_dataset(dataset), model.predict_dataset(dataset))
    assert model.training  # the mode is restored
    model.eval()
    model.predict(batch)
    assert not model.training


@pytest.mark.parametrize("wrap", [False, True], ids=["DataSet", "AsyncDataLoader"])
def test_predict_dataset_refuses_a_shuffled_dataset(make_dataset, wrap):
    dataset = make_dataset(40, 16, shuffle=True)
    with pytest.raises(ValueError, match=r"shuffles its samples.*shuffle=False"):
        CNN().predict_dataset(AsyncDataLoader(dataset) if wrap else dataset)


def test_predict_dataset_refuses_a_shuffling_torch_dataloader():
    samples = torch.utils.data.TensorDataset(torch.randn(40, 3, 32, 32), torch.zeros(40, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"shuffles its samples.*DataLoader with shuffle=False"):
        CNN().predict_dataset(torch.utils.data.DataLoader(samples, batch_size=16, shuffle=True))
    with pytest.raises(ValueError, match=r"shuffles its samples"):  # also behind a prefetching loader
        CNN().predict_dataset(AsyncDataLoader(torch.utils.data.DataLoader(samples, batch_size=16, shuffle=True)))
    in_order = CNN().predict_dataset(torch.utils.data.DataLoader(samples, batch_size=16))
    assert in_order.shape == (40, 10)


def test_mirror_adds_the_mirror_image_look(make_dataset):
    torch.manual_seed(0)
    model = CNN()
    data = make_dataset(16, 16)
    batch = next(iter(data))
    assert model.evaluate(data, mirror=False) == model.evaluate(data) != model.evaluate(data, mirror=True)
    assert not torch.equal(model.predict(batch, mirror=True), model.predict(batch, mirror=False))
    assert not torch.equal(model.predict_dataset(data, mirror=True), model.predict_dataset(data))


def test_predict_dataset_joins_the_batches_in_order(make_dataset):
    torch.manual_seed(0)
    model = CNN()
    dataset = make_dataset(40, 16)
    outputs = model.predict_dataset(dataset)
    assert outputs.shape == (40, 10) and outputs.device.type == "cpu"
    torch.testing.assert_close(outputs[32:], model.predict(list(dataset)[-1]))


class Echo(Model):
    """A 'model' whose output is its input: the batch brings its own scores."""

    def forward(self, batch):
        return batch[0]

    def loss(self, output, batch):
        return F.nll_loss(output, batch[1])


def test_evaluate_with_metrics_weights_batches_by_size():
    labels = torch.zeros(10, dtype=torch.int64)
    scores = torch.zeros(10, 2)
    scores[:8, 0] = 1.0  # the first 8 samples (two full batches) are right,
    scores[8:, 1] = 1.0  # the last 2 (a batch of 2) are wrong: 0.8, not the batch mean 2/3
    values = Echo().evaluate_with_metrics(DataSet([scores, labels], batch_size=4),
                                          {"accuracy": classification_accuracy})
    assert values["accuracy"] == pytest.approx(0.8)


def test_stop_training_from_a_plugin(tiny_model, make_dataset):
    def stop(epoch, batch_index, **_):
        if (epoch, batch_index) == (2, 1):
            raise StopTraining("enough")

    tiny_model.register_plugin(stop, "on_end_batch")
    calls = record_events(tiny_model)
    assert tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=5) is False
    events = [event for event, _, _ in calls]
    assert events[-2:] == ["on_stop_training", "on_end"]
    assert events.count("on_end_epoch") == 1
    assert tiny_model.state.stop_reason == "enough"
    # The interrupted epoch leaves no half-filled record: history holds the finished epoch only.
    assert [r["epoch"] for r in tiny_model.history] == [1]
    assert set(tiny_model.history[0]) == {"epoch", "train_loss", "seconds", "images_per_second"}


@pytest.mark.parametrize("when", ["on_start_batch", "on_end_batch", "validation"])
@pytest.mark.parametrize("error", [StopTraining, KeyboardInterrupt])
def test_an_interrupted_epoch_leaves_only_finished_records(tiny_model, make_dataset, when, error):
    armed = [True]  # interrupt once, in epoch 2

    def interrupt(epoch, **_):
        if epoch == 2 and armed and armed.pop():
            raise error("stop")

    validation = make_dataset(32, 16)
    if when == "validation":  # interrupted while the validation set is evaluated
        def validation_batches():
            if tiny_model.state.epoch == 2 and armed and armed.pop():
                raise error("stop")
            yield from make_dataset(32, 16)
        validation = type("Validation", (), {"__iter__": lambda self: validation_batches()})()
    else:
        tiny_model.register_plugin(interrupt, when)
    if error is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), validation_dataset=validation, max_epochs=3)
    else:
        assert tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), validation_dataset=validation,
                                max_epochs=3) is False
    assert [r["epoch"] for r in tiny_model.history] == [1]
    assert {"train_loss", "val_loss", "seconds"} <= set(tiny_model.history[0])
    # Training again goes on from the finished epochs.
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), validation_dataset=validation, max_epochs=1)
    assert [r["epoch"] for r in tiny_model.history] == [1, 2]


def test_stop_training_ends_learn_after_the_event_whose_other_plugins_still_run(tiny_model, make_dataset):
    """A stopping plugin registered first does not rob the logger or evaluator after it of the last epoch."""
    def stop(epoch, **_):
        if epoch == 2:
            raise StopTraining("first reason")

    def stop_too(epoch, **_):
        if epoch == 2:
            raise StopTraining("second reason")

    later = []
    tiny_model.register_plugin(stop, "on_end_epoch")
    tiny_model.register_plugin(lambda epoch, **_: later.append(epoch), "on_end_epoch")
    tiny_model.register_plugin(stop_too, "on_end_epoch")
    tiny_model.register_plugin(lambda epoch, **_: later.append(-epoch), "on_end_epoch")
    assert tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=5) is False
    assert later == [1, -1, 2, -2] and len(tiny_model.history) == 2
    assert tiny_model.state.stop_reason == "first reason"
    assert tiny_model.weights_epoch == 2  # stopped between epochs: the weights are epoch 2's


def test_weights_stopped_partway_through_an_epoch_belong_to_no_epoch(tmp_path, tiny_model, make_dataset):
    """After a stop in epoch 2's second batch the weights are not epoch 1's: weights_epoch (and the file) say None."""
    armed = [True]  # once: the second learn runs epoch 2 again

    def stop(epoch, batch_index, **_):
        if (epoch, batch_index) == (2, 2) and armed and armed.pop():
            raise StopTraining("partway")

    tiny_model.register_plugin(stop, "on_end_batch")
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=3)
    assert len(tiny_model.history) == 1 and tiny_model.weights_epoch is None
    loaded = type(tiny_model)().load(tiny_model.save(tmp_path / "m.pt"))
    assert loaded.weights_epoch is None and len(loaded.history) == 1
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=1)  # a finished epoch names them again
    assert tiny_model.weights_epoch == 2


def test_metrics_without_a_validation_set_are_refused(tiny_model, make_dataset):
    with pytest.raises(ValueError, match="metrics are computed on the validation set, and there is none"):
        tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), metrics={"accuracy": classification_accuracy})
    assert tiny_model.history == []


def test_batch_index_starts_at_zero_in_on_start_epoch(tiny_model, make_dataset):
    seen = []
    tiny_model.register_plugin(lambda batch_index, **_: seen.append(batch_index), "on_start_epoch")
    tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=2)
    assert seen == [0, 0]


def test_other_errors_propagate_and_on_end_still_fires(tiny_model, make_dataset):
    calls = record_events(tiny_model)
    tiny_model.register_plugin(lambda **_: 1 / 0, "on_end_epoch")
    with pytest.raises(ZeroDivisionError):
        tiny_model.learn(make_dataset(32, 16), sgd(tiny_model), max_epochs=2)
    events = [event for event, _, _ in calls]
    assert events[-1] == "on_end" and "on_stop_training" not in events


@pytest.mark.parametrize("max_epochs", [0, -1, 1.5, True])
def test_bad_max_epochs(tiny_model, make_dataset, max_epochs):
    with pytest.raises(ValueError, match="max_epochs"):
        tiny_model.learn(make_dataset(), sgd(tiny_model), max_epochs=max_epochs)


def test_not_an_optimizer(tiny_model, make_dataset):
    with pytest.raises(TypeError, match="optimizer"):
        tiny_model.learn(make_dataset(), "adam")


def test_an_optimizer_of_another_model_is_refused(tiny_model, make_dataset):
    from tests.conftest import TinyNet

    other = TinyNet()
    with pytest.raises(ValueError, match="updates none of this model's parameters"):
        tiny_model.learn(make_dataset(), sgd(other), max_epochs=1)
    partial = torch.optim.SGD([tiny_model.fc.bias], lr=0.1)  # a part of the model: fine-tuning is allowed
    assert tiny_model.learn(make_dataset(16, 16), partial, max_epochs=1) is True


def test_numpy_batches_get_a_line_naming_the_fix(tiny_model, synthetic_train):
    batches = DataSet([synthetic_train.images[:32], synthetic_train.labels[:32]], batch_size=16)
    with pytest.raises(TypeError, match=r"numpy arrays.*on_batch_loaded=batch_to_tensors"):
        tiny_model.learn(batches, sgd(tiny_model), max_epochs=1)
    with pytest.raises(TypeError, match="numpy arrays"):
        tiny_model.evaluate(batches)


@pytest.mark.parametrize("lr", [math.inf, math.nan])
def test_a_loss_that_stops_being_a_number_stops_training_with_a_line(tiny_model, make_dataset, lr, capsys):
    from cifar_helpers import Logger

    tiny_model.register_plugin(Logger())
    completed = tiny_model.learn(make_dataset(64, 16), torch.optim.SGD(tiny_model.parameters(), lr=lr), max_epochs=5)
    assert completed is False
    assert len(tiny_model.history) == 1  # the epoch that diverged is recorded (and logged), then training stops
    assert "training diverged; lower the learning rate" in tiny_model.state.stop_reason
    assert "nan" in capsys.readouterr().out


def test_a_plugin_raising_stop_iteration_is_an_error_not_a_silent_stop(tiny_model, make_dataset):
    def stray(**_):
        next(iter([]))

    tiny_model.register_plugin(stray, "on_end_batch")
    with pytest.raises(RuntimeError, match="raised StopIteration; raise StopTraining"):
        tiny_model.learn(make_dataset(48, 16), sgd(tiny_model), max_epochs=1)


@pytest.mark.parametrize("plugin, event, kwargs, error, message", [
    (print, "on_end_of_time", {}, ValueError, "event='on_end_of_time' is not an event"),
    ("print", "on_end", {}, TypeError, "not callable"),
    (print, None, {}, ValueError, "say when"),
    (PluginInterface(), None, {}, TypeError, "defines no event methods"),
    (PluginInterface(), "on_end", {}, TypeError, "defines no event methods"),
    (Counter(), "on_end", {}, ValueError, r"Counter listens to on_start_epoch, on_end_batch, not on_end"),
    (ProgressBar("batch"), "on_end_epoch_typo", {}, ValueError, "is not an event"),
    (Counter(), None, {"frequency": 2}, ValueError, "name the one it applies to"),
    (print, "on_end", {"frequency": 0}, ValueError, "frequency=0 must be a positive whole number"),
])
def test_bad_plugin_registrations_fail_at_registration(tiny_model, make_dataset, capsys, plugin, event, kwargs,
                                                        error, message):
    with pytest.raises(error, match=message):
        tiny_model.register_plugin(plugin, event, **kwargs)
    tiny_model.learn(make_dataset(8), torch.optim.SGD(tiny_model.parameters(), lr=0.01), max_epochs=1)
    assert capsys.readouterr().out == ""  # nothing half-registered: no event reaches the refused plugin
    assert getattr(plugin, "counts", {}) == {}


def test_batches_on_another_device_than_the_model(tiny_model):
    batches = DataSet([torch.empty(8, 3, 32, 32, device="meta"), torch.empty(8, dtype=torch.int64, device="meta")])
    with pytest.raises(RuntimeError, match=r"model\.to\('meta'\)"):
        tiny_model.learn(batches, sgd(tiny_model), max_epochs=1)


def test_empty_training_set(tiny_model, make_dataset):
    with pytest.raises(ValueError, match="no batches"):
        tiny_model.learn(make_dataset(8, 16, drop_last=True), sgd(tiny_model), max_epochs=1)


# --- checkpoints ---------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path, make_dataset):
    torch.manual_seed(0)
    model = CNN()
    model.learn(make_dataset(32, 16), sgd(model), max_epochs=2)
    path = model.save(tmp_path / "runs" / "cnn.pt")
    assert path.is_file() and not list(path.parent.glob("*.tmp"))

    torch.manual_seed(1)
    loaded = CNN().load(path)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert loaded.history == model.history and len(loaded.history) == 2
    assert model.weights_epoch == loaded.weights_epoch == 2
    assert CNN().load(path, with_history=False).history == []
    with pytest.raises(ValueError, match="with_history='false' must be True or False"):
        CNN().load(path, with_history="false")


def test_save_other_weights_with_their_epoch(tmp_path):
    model = CNN()
    model.history = [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}]
    best = {name: torch.zeros_like(t) for name, t in model.state_dict().items()}
    loaded = CNN().load(model.save(tmp_path / "m.pt", weights=best, epoch=2))
    assert loaded.weights_epoch == 2 and len(loaded.history) == 3
    assert all(not t.any() for t in loaded.state_dict().values())


def test_numpy_and_tensor_numbers_in_the_history_are_saved_as_plain_numbers(tmp_path):
    """A plugin may store np.mean(...) or a loss tensor in a record: load must still read the file."""
    model = CNN()
    model.history = [{"epoch": 1, "val_loss": np.float32(0.5), "steps": np.int64(3), "loss": torch.tensor(0.25),
                      "better": np.bool_(True), "mean": np.float64(0.75), "kind": Kind.BEST}]
    loaded = CNN().load(model.save(tmp_path / "m.pt"))
    assert loaded.history == [{"epoch": 1, "val_loss": 0.5, "steps": 3, "loss": 0.25, "better": True, "mean": 0.75,
                               "kind": 2}]
    assert [type(loaded.history[0][key]) for key in ("val_loss", "better", "mean", "kind")] == [float, bool, float, int]


class Kind(enum.IntEnum):  # an int subclass, which weights_only loading refuses
    BEST = 2


def test_a_history_value_that_is_not_plain_data_is_refused_before_writing(tmp_path):
    model = CNN()
    path = model.save(tmp_path / "m.pt")
    before = path.read_bytes()
    model.history = [{"epoch": 1, "outputs": np.zeros(3)}]
    with pytest.raises(TypeError, match=r"history\[0\]\['outputs'\] is a ndarray: .*store float\(value\)"):
        model.save(path)
    assert path.read_bytes() == before and not list(tmp_path.glob("*.tmp"))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_disk_while_saving_gives_one_line_and_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = CNN().save(tmp_path / "run" / "model.pt")
    before = path.read_bytes()
    monkeypatch.setattr(cifar_helpers.core.files, "_open_temporary", lambda tmp: open("/dev/full", "wb"))
    with pytest.raises(OSError, match=r"could not write the checkpoint .*model.pt \(No space left on device\): "
                                      r"free some disk space"):
        CNN().save(path)
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["model.pt"]


def test_load_into_another_architecture(tmp_path, tiny_model):
    path = CNN().save(tmp_path / "cnn.pt")
    with pytest.raises(ValueError, match="CNN") as error:
        tiny_model.load(path)
    assert "TinyNet" in str(error.value)


def test_load_weights_of_other_shapes(tmp_path):
    other = CNN()
    other.fc3 = nn.Linear(84, 5)  # still a CNN, with 5 classes
    path = other.save(tmp_path / "cnn5.pt")
    model = CNN()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(ValueError, match="other shapes") as error:
        model.load(path)
    assert "fc3" in str(error.value)
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())  # untouched


def test_load_something_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        CNN().load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        CNN().load(tmp_path / "junk.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="state_dict"):
        CNN().load(tmp_path / "plain.pt")


def test_a_failed_write_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = save_checkpoint({"weights": torch.full((4,), 1.0)}, tmp_path / "m.pt")
    before = path.read_bytes()

    def write_some_then_fail(payload, f):
        f.write(b"PK" + b"x" * 100)
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64")
    monkeypatch.setattr(torch, "save", write_some_then_fail)
    with pytest.raises(OSError, match=r"could not write the checkpoint .*m\.pt"):
        save_checkpoint({"weights": torch.full((4,), 2.0)}, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir() if "m.pt" in p.name] == ["m.pt"]


def test_a_crash_while_saving_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "runs" / "model.pt"
    save_checkpoint({"weights": torch.full((4,), 1.0)}, path)
    crash = textwrap.dedent(f"""
        import os, sys, torch
        from cifar_helpers.training.checkpoint import save_checkpoint

        def half_then_die(payload, f):
            f.write(b"PK" + b"x" * 1000)  # half a file on disk, then the process is killed
            f.flush()
            os._exit(9)

        torch.save = half_then_die
        save_checkpoint({{"weights": torch.full((4,), 2.0)}}, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", crash], capture_output=True, timeout=120)
    assert result.returncode == 9, result.stderr.decode()
    assert torch.equal(load_checkpoint(path)["weights"], torch.full((4,), 1.0))
    others = [p.name for p in path.parent.iterdir() if p.name != "model.pt"]
    assert all(name.startswith(".model.pt.") and name.endswith(".tmp") for name in others)  # the half file


def test_checkpoint_saved_on_a_gpu_loads_on_the_cpu(tmp_path, monkeypatch):
    import torch.serialization

    with monkeypatch.context() as patch:  # write the file as a CUDA machine would
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save({"state_dict": {"w": torch.arange(3.0)}}, tmp_path / "gpu.pt")
    loaded = load_checkpoint(tmp_path / "gpu.pt")
    assert loaded["state_dict"]["w"].device.type == "cpu"
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(3.0))


class NotAWeight:
    pass


def test_checkpoint_loads_with_weights_only(tmp_path):
    torch.save({"state_dict": {}, "extra": NotAWeight()}, tmp_path / "pickled.pt")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "pickled.pt")


# --- what the networks are given: one line naming the argument and the fix ------------------------------


def test_a_dropout_that_is_not_a_fraction_is_refused_by_name():
    for value in ("0.3", None, [0.3], torch.tensor(0.3), True, 1, 1.5, -0.1, math.nan):
        message = rf"dropout={re.escape(repr(value))} must be a number in \[0, 1\), such as 0.3"
        with pytest.raises(ValueError, match=message):
            CNN(dropout=value)
    for number in (np.float32(0.25), 0.25, 0):  # any real number in range is one
        assert CNN(dropout=number).dropout.p == pytest.approx(float(number))


def images_and_labels(n=4):
    torch.manual_seed(0)
    return torch.randn(n, 3, 32, 32), torch.arange(n)


@pytest.mark.parametrize("batch, error, message", [
    (lambda x, y: (x, F.one_hot(y, 10)), ValueError, r"labels have shape \(4, 10\).*one-hot.*labels.argmax\(1\)"),
    (lambda x, y: (torch.randn(4, 3, 64, 64), y), ValueError,
     r"images have shape \(4, 3, 64, 64\).*\(N, 3, 32, 32\): make each picture 32 x 32"),
    (lambda x, y: (torch.randn(4, 1, 32, 32), y), ValueError, r"images have shape \(4, 1, 32, 32\)"),
    (lambda x, y: (x.permute(0, 2, 3, 1), y), ValueError, r"\(4, 32, 32, 3\).*images.permute\(0, 3, 1, 2\)"),
    (lambda x, y: (x[0], y[0]), ValueError, r"\(3, 32, 32\).*a batch of one, images\[None\]"),
    (lambda x, y: (np.zeros((4, 32, 32, 3), np.uint8), y.numpy()), TypeError,
     r"numpy array \(uint8, shape \(4, 32, 32, 3\)\).*model.predict\(batch_to_tensors\(\(images, labels\)\)\)"),
    (lambda x, y: (torch.zeros(4, 32, 32, 3, dtype=torch.uint8), y), TypeError,
     r"torch.uint8 pixels.*batch_to_tensors\(\(images, labels\)\)"),
    (lambda x, y: x, TypeError, r"a batch is \(images, labels\).*not a Tensor alone"),
], ids=["one-hot labels", "64x64", "grey", "channels last", "one image", "numpy pixels", "uint8 tensor", "no tuple"])
def test_predict_says_in_one_line_what_is_wrong_with_a_batch(batch, error, message):
    model = CNN()
    with pytest.raises(error, match=r"^predict\(batch\): .*" + message) as raised:
        model.predict(batch(*images_and_labels()))
    assert "\n" not in str(raised.value)


def test_predict_dataset_evaluate_and_learn_say_the_same_of_their_batches():
    model = CNN()
    x, y = images_and_labels()
    cases = {"one-hot": [(x, F.one_hot(y, 10))], "64x64": [(torch.randn(4, 3, 64, 64), y)]}
    calls = {"predict_dataset(dataset)": model.predict_dataset, "evaluate_with_metrics(dataset)": model.evaluate,
             "learn(dataset)": lambda data: model.learn(data, sgd(model), max_epochs=1)}
    for where, call in calls.items():
        for batches in cases.values():
            with pytest.raises(ValueError, match=rf"^{re.escape(where)}: its (labels|images) have shape") as raised:
                call(batches)
            assert "\n" not in str(raised.value)
    assert model.history == []
    with pytest.raises(TypeError, match=r"numpy arrays.*on_batch_loaded=batch_to_tensors"):
        model.predict_dataset(DataSet([np.zeros((4, 32, 32, 3), np.uint8), np.arange(4)], shuffle=False))
    with pytest.raises(ValueError, match="predict_dataset: the dataset gave no batches"):
        model.predict_dataset([])


def test_a_network_that_fails_on_right_batches_keeps_pytorchs_own_message():
    """A mistake in the network (conv1 gives 12 channels, conv2 still reads 6) is not the batch's fault."""
    model = CNN()
    model.conv1 = nn.Conv2d(3, 12, 5)
    with pytest.raises(RuntimeError, match="expected input.*to have 6 channels"):
        model.predict(images_and_labels())
    x, y = images_and_labels()
    assert CNN().predict((x, None)).shape == (4, 10)  # labels are not needed to predict


class GradientWatcher(Model):
    """A linear classifier that records, at each forward pass, whether gradients are being computed."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3 * 32 * 32, 10)
        self.grad_enabled = []

    def forward(self, batch):
        self.grad_enabled.append(torch.is_grad_enabled())
        return F.log_softmax(self.fc(batch[0].flatten(1)), dim=1)

    def loss(self, output, batch):
        return F.nll_loss(output, batch[1])


@pytest.mark.parametrize("mirror", [False, True])
def test_evaluation_and_prediction_build_no_graph(make_dataset, mirror):
    """No gradient while evaluating: no graph kept in memory for every batch, the outputs need no detach()."""
    model = GradientWatcher()
    data = make_dataset(32, 16)
    batch = next(iter(data))
    seen = []
    metric = {"loss": model.metric_loss, "seen": lambda output, batch: seen.append(output.requires_grad) or 0.0}
    model.evaluate_with_metrics(data, metric, mirror=mirror)
    model.evaluate(data, mirror=mirror)
    outputs = [model.predict(batch, mirror=mirror), model.predict_dataset(data, mirror=mirror)]
    assert seen == [False, False] and not any(output.requires_grad for output in outputs)
    assert model.grad_enabled and not any(model.grad_enabled)
    assert all(p.grad is None for p in model.parameters())
    model.learn(data, sgd(model), max_epochs=1)  # training does compute them
    assert any(model.grad_enabled)
