"""`Model`: an nn.Module that knows how to learn, evaluate, predict, save and load itself.

A subclass writes two methods, ``forward(batch)`` and ``loss(output, batch)``. `learn` is the
plain PyTorch training loop (zero_grad, forward, loss, backward, step) plus events that plugins
listen to (see events.py for how to write and register one):

    on_start
      on_start_epoch
        on_start_batch, before_backward, before_step, on_end_batch    (once per batch)
      on_end_epoch                           (after validation; the epoch's record is in history)
    on_stop_training                         (only when a plugin raised StopTraining)
    on_end                                   (always, even after an error)

Evaluation and prediction are evaluation.py's (`Evaluation`, which `Model` inherits); the file
format of `save` and `load` is checkpoint.py's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_checkpoint, plain_data, save_checkpoint
from ..core.validation import flag, whole_number
from ..core.batch import Batch
from .evaluation import Evaluation
from .metrics import Metric
from .events import EVENTS, PluginInterface, StopTraining, TrainingState, plugin_handlers
from .inputs import batch_size, check_batch, check_optimizer


class Model(Evaluation, nn.Module):
    """Base class: implement ``forward(batch)`` and ``loss(output, batch)``.

    history: one dict per finished epoch (epoch, train_loss, val_loss, val_<metric>, seconds,
        images_per_second), kept across calls of `learn` and saved with the weights.
    weights_epoch: the epoch the weights in memory come from (0 before training); `learn` sets
        it after each epoch, `EarlyStopping` when it restores the best epoch, `load` from the file.
        None when training stopped partway through an epoch: the weights then come from no
        finished epoch (`save` writes that too).
    state: the `TrainingState` of the last call of `learn` (``state.stop_reason`` says why it
        stopped early).
    """

    def __init__(self) -> None:
        super().__init__()
        self._plugins = {event: [] for event in EVENTS}
        self.history = []
        self.weights_epoch = 0
        self.state = None

    def forward(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError("a Model subclass must define forward(self, batch).")

    def loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        raise NotImplementedError("a Model subclass must define loss(self, output, batch).")

    # --- plugins ----------------------------------------------------------------------------

    def register_plugin(self, plugin: PluginInterface | Callable[..., object], event: str | None = None,
                        frequency: int = 1) -> None:
        """Call ``plugin`` on ``event``, every ``frequency``-th time it fires (see events.py).

        ``register_plugin(function, "on_end_epoch")`` for a function; ``register_plugin(plugin)``
        for a `PluginInterface` object, which says itself which events it listens to.
        """
        frequency = whole_number(frequency, "frequency", 1)
        for name, (handler, every) in plugin_handlers(plugin, event, frequency).items():
            self._plugins[name].append([handler, every, 0])

    def register_default_plugins(self) -> None:
        """Progress bars per epoch and per batch, an epoch logger and a live plot of the curves."""
        from .plugins import LivePlot, Logger, ProgressBar

        for plugin in (ProgressBar("epoch"), ProgressBar("batch"), Logger(), LivePlot()):
            self.register_plugin(plugin)

    def _fire(self, event: str) -> None:
        """Call the event's plugins in order. A `StopTraining` from one ends training after the event:
        the plugins after it still run (a logger or plot still sees the last epoch), then it is raised."""
        stop = None
        for entry in self._plugins[event]:
            handler, frequency, count = entry
            entry[2] = count + 1
            if entry[2] % frequency == 0:
                try:
                    handler(**self.state.as_kwargs())
                except StopTraining as error:
                    stop = stop or error  # the first reason is the one reported
                except StopIteration as error:  # would end a surrounding loop without a word
                    raise RuntimeError(f"the {event} plugin {handler!r} raised StopIteration; raise StopTraining "
                                       "to stop training.") from error
        if stop is not None:
            raise stop

    # --- training ---------------------------------------------------------------------------

    def learn(self, dataset: Iterable[Batch], optimizer: torch.optim.Optimizer,
              validation_dataset: Iterable[Batch] | None = None, max_epochs: int = 50,
              metrics: dict[str, Metric] | None = None) -> bool:
        """Train on ``dataset`` for at most ``max_epochs`` epochs; True if it ran them all.

        validation_dataset: evaluated after every epoch (loss plus ``metrics``, a dict of
            name -> fn(output, batch)); the figures land in the epoch's record as val_<name>.
        Returns False when a plugin stopped training with `StopTraining`, or when the training
        loss stopped being a number (the learning rate is then too high).
        """
        max_epochs = whole_number(max_epochs, "max_epochs", 10)
        check_optimizer(self, optimizer)
        if metrics and validation_dataset is None:
            raise ValueError("metrics are computed on the validation set, and there is none: pass "
                             "validation_dataset=... to learn, or leave metrics out.")
        metrics = {"loss": self.metric_loss, **(metrics or {})}
        state = self.state = TrainingState(self, optimizer, dataset, validation_dataset, max_epochs,
                                           self.history, num_batches=len(dataset), epoch=len(self.history),
                                           last_epoch=len(self.history) + max_epochs)
        try:
            self._fire("on_start")
            for state.epoch in range(len(self.history) + 1, len(self.history) + max_epochs + 1):
                record = self._train_one_epoch(dataset, optimizer)
                if validation_dataset is not None:
                    values = self.evaluate_with_metrics(validation_dataset, metrics)
                    record.update({f"val_{name}": value for name, value in values.items()})
                self.history.append(record)  # only finished epochs: an interrupted one leaves no trace
                self.weights_epoch = state.epoch
                self._fire("on_end_epoch")
                if not math.isfinite(record["train_loss"]):
                    raise StopTraining(f"the training loss became {record['train_loss']} in epoch {state.epoch}: "
                                       "training diverged; lower the learning rate.")
        except StopTraining as stop:
            state.stop_reason = str(stop)
            self._fire("on_stop_training")
            return False
        finally:
            self._fire("on_end")
        return True

    def _train_one_epoch(self, dataset: Iterable[Batch], optimizer: torch.optim.Optimizer) -> dict:
        state = self.state
        state.record = record = {"epoch": state.epoch}
        state.batch_index = 0
        self.train()
        self._fire("on_start_epoch")
        started, loss_sum, seen = time.perf_counter(), 0.0, 0
        batches = iter(dataset)
        try:
            for state.batch_index, batch in enumerate(batches, start=1):
                if seen == 0:
                    check_batch(self, batch, "learn(dataset)")
                state.batch = batch
                self._fire("on_start_batch")
                optimizer.zero_grad(set_to_none=True)
                state.output = output = self._forward(batch, "learn(dataset)")
                state.loss = loss = self.loss(output, batch)
                self._fire("before_backward")
                loss.backward()
                self._fire("before_step")
                optimizer.step()
                if seen == 0:
                    self.weights_epoch = None  # partway through this epoch, until it finishes
                n = batch_size(batch)
                loss_sum = loss.detach() * n + loss_sum  # stays on the device: no wait for the GPU per batch
                seen += n
                self._fire("on_end_batch")
        finally:
            getattr(batches, "close", lambda: None)()  # stop a background loader the loop left early
        if seen == 0:
            raise ValueError("the training dataset gave no batches: it is empty, or drop_last=True "
                             "with fewer samples than batch_size.")
        seconds = time.perf_counter() - started
        state.batch = state.output = state.loss = None
        record.update(train_loss=float(loss_sum) / seen, seconds=seconds, images_per_second=seen / seconds)
        return record

    # --- checkpoints ------------------------------------------------------------------------

    def save(self, path: str | Path, weights: dict[str, torch.Tensor] | None = None,
             epoch: int | None = None) -> Path:
        """Write weights, history and weights_epoch to ``path`` atomically; return the path.

        weights, epoch: save these instead of the weights in memory and `weights_epoch` (as
        `EarlyStopping` does with the best epoch's weights).
        """
        return save_checkpoint({"architecture": type(self).__name__,
                                "state_dict": self.state_dict() if weights is None else weights,
                                "history": plain_data(self.history, "history"),
                                "epoch": self.weights_epoch if epoch is None else epoch}, path)

    def load(self, path: str | Path, with_history: bool = True) -> Model:
        """Load weights (and, unless with_history=False, history) saved by `save`; returns the model.

        The weights land on whatever device this model is on; a file of another architecture or
        of other shapes is refused before anything is loaded.
        """
        with_history = flag(with_history, "with_history")
        checkpoint = load_checkpoint(path, into=self)
        self.load_state_dict(checkpoint["state_dict"])
        epoch = checkpoint.get("epoch", len(checkpoint.get("history", [])))
        self.weights_epoch = None if epoch is None else int(epoch)  # None: saved partway through an epoch
        if with_history:
            self.history = list(checkpoint.get("history", []))
        return self

