"""`Model`: an nn.Module that knows how to learn, evaluate, predict, save and load itself.

A subclass writes two methods, ``forward(batch)`` and ``loss(output, batch)``; `learn` runs the
loop (forward -> loss -> backward -> step) and fires events that plugins listen to:

    on_start
      on_start_epoch
        on_start_batch, before_backward, before_step, on_end_batch    (once per batch)
      on_end_epoch                                                    (after validation)
    on_stop_training                                                  (only when a plugin stopped it)
    on_end                                                            (always, even after an error)

A plugin is a function called with the training state as keyword arguments (take the ones you
need and ``**_`` for the rest), or a `PluginInterface` object. The state holds: model, optimizer,
dataset, validation_dataset, max_epochs, epoch, num_batches, batch_index, batch, output, loss,
history and record (this epoch's figures: train_loss, val_loss, val_<metric>, seconds,
images_per_second).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .augment import mirror_batch
from .checkpoint import load_checkpoint, save_checkpoint
from .events import EVENTS, PluginInterface, StopTraining

class Model(nn.Module):
    """Base class: implement ``forward(batch)`` and ``loss(output, batch)``."""

    def __init__(self):
        super().__init__()
        self._plugins = {event: [] for event in EVENTS}
        self.history = []  # one dict per finished epoch: train_loss, val_loss, ...
        self.state = {}

    # --- what a subclass writes -------------------------------------------------------------

    def forward(self, batch):
        raise NotImplementedError("a Model subclass must define forward(self, batch).")

    def loss(self, output, batch):
        raise NotImplementedError("a Model subclass must define loss(self, output, batch).")

    # --- plugins ----------------------------------------------------------------------------

    def register_plugin(self, plugin, event=None, frequency=1):
        """Call ``plugin`` on ``event`` (every ``frequency``-th time the event fires).

        Without ``event``, a `PluginInterface` is registered on each event method it defines
        (``on_end_epoch`` and so on), or on its ``event`` attribute.
        """
        if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
            raise ValueError(f"frequency={frequency!r} must be a positive whole number, such as 1.")
        if event is None:
            handlers = _event_methods(plugin)
            if not handlers:
                raise ValueError(f"say when to call {plugin!r}: register_plugin(plugin, event) with event "
                                 f"one of {', '.join(EVENTS)}.")
        else:
            if event not in EVENTS:
                raise ValueError(f"event={event!r} is not an event of Model.learn: use one of {', '.join(EVENTS)}.")
            if not callable(plugin):
                raise TypeError(f"plugin {plugin!r} is not callable: pass a function or a PluginInterface.")
            handlers = {event: plugin}
        for name, handler in handlers.items():
            self._plugins[name].append([handler, frequency, 0])

    def register_default_plugins(self):
        """Progress bars per epoch and per batch, an epoch logger and a live loss plot."""
        from .plugins import LivePlot, Logger, ProgressBar

        self.register_plugin(ProgressBar("epoch"))
        self.register_plugin(ProgressBar("batch"))
        self.register_plugin(Logger())
        self.register_plugin(LivePlot())

    def _fire(self, event):
        for entry in self._plugins[event]:
            handler, frequency, count = entry
            entry[2] = count + 1
            if entry[2] % frequency == 0:
                handler(**self.state)

    # --- training ---------------------------------------------------------------------------

    def learn(self, dataset, optimizer, validation_dataset=None, max_epochs=10, metrics=None):
        """Train on ``dataset`` for at most ``max_epochs`` epochs; True if it ran them all.

        validation_dataset: evaluated after every epoch (loss plus ``metrics``, a dict of
            name -> fn(output, batch)); the figures land in ``history`` as val_<name>.
        Returns False when a plugin stopped training (by raising `StopTraining`).
        """
        if isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < 1:
            raise ValueError(f"max_epochs={max_epochs!r} must be a whole number >= 1, such as 10.")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer={optimizer!r} is not a torch.optim optimizer: "
                            "pass one such as torch.optim.Adam(model.parameters(), lr=1e-3).")
        metrics = {"loss": self.metric_loss, **(metrics or {})}
        self.state = {
            "model": self, "optimizer": optimizer, "dataset": dataset,
            "validation_dataset": validation_dataset, "max_epochs": max_epochs,
            "history": self.history, "epoch": len(self.history), "num_batches": len(dataset),
            "batch_index": 0, "batch": None, "output": None, "loss": None, "record": None,
        }
        completed = True
        try:
            self._fire("on_start")
            for _ in range(max_epochs):
                try:
                    self._learn_epoch(dataset, optimizer)
                    if validation_dataset is not None:
                        values = self.evaluate_with_metrics(validation_dataset, metrics)
                        self.state["record"].update({f"val_{name}": value for name, value in values.items()})
                except BaseException:  # StopTraining, KeyboardInterrupt, an error: the epoch is unfinished
                    self._drop_unfinished_epoch()
                    raise
                self._fire("on_end_epoch")
        except StopTraining as stop:
            completed = False
            self.state["stop_reason"] = str(stop)
            self._fire("on_stop_training")
        finally:
            self._fire("on_end")
        return completed

    def _learn_epoch(self, dataset, optimizer):
        state = self.state
        state["epoch"] += 1
        record = {"epoch": state["epoch"]}
        state["record"] = record
        self.history.append(record)
        state["batch_index"] = 0
        self.train()
        self._fire("on_start_epoch")
        started = time.perf_counter()
        loss_sum, seen = 0.0, 0
        batches = iter(dataset)
        try:
            for state["batch_index"], batch in enumerate(batches, start=1):
                if seen == 0:
                    self._check_device(batch)
                state["batch"] = batch
                self._fire("on_start_batch")
                optimizer.zero_grad(set_to_none=True)
                state["output"] = output = self(batch)
                state["loss"] = loss = self.loss(output, batch)
                self._fire("before_backward")
                loss.backward()
                self._fire("before_step")
                optimizer.step()
                n = _batch_size(batch)
                loss_sum = loss.detach() * n + loss_sum  # stays on the device: no sync per batch
                seen += n
                self._fire("on_end_batch")
        finally:
            getattr(batches, "close", lambda: None)()  # stop a background loader we left early
        if seen == 0:
            raise ValueError("the training dataset gave no batches: it is empty, or drop_last=True "
                             "with fewer samples than batch_size.")
        seconds = time.perf_counter() - started
        record.update(train_loss=float(loss_sum) / seen, seconds=seconds, images_per_second=seen / seconds)
        state["batch"] = state["output"] = state["loss"] = None

    def _drop_unfinished_epoch(self):
        """``history`` holds finished epochs only (as Keras's does): an interrupted one leaves no
        half-filled record for the plots and notebooks to trip over."""
        if self.history and self.history[-1] is self.state.get("record"):
            self.history.pop()
            self.state["epoch"] -= 1
            self.state["record"] = self.history[-1] if self.history else None

    def _check_device(self, batch):
        first = _first(batch)
        param = next(self.parameters(), None)
        if isinstance(first, torch.Tensor) and param is not None and first.device != param.device:
            raise RuntimeError(f"the batches are on {first.device} but the model is on {param.device}: "
                               f"move the model with model.to({str(first.device)!r}), or load the batches "
                               f"onto {param.device}.")

    # --- evaluation -------------------------------------------------------------------------

    def metric_loss(self, output, batch):
        """The loss as a metric: `loss` without gradient."""
        return self.loss(output, batch).detach()

    @torch.no_grad()
    def evaluate_with_metrics(self, dataset, metrics, mirror=False):
        """Each metric (name -> fn(output, batch)) averaged over every sample of ``dataset``.

        Batches are weighted by their size, so a smaller last batch counts exactly as much as
        its samples do. Dropout is off while evaluating; the model's mode is restored after.
        mirror=True: the output for each image is the mean of the outputs for it and for its
        mirror image (left-right), as in `predict`; with log-probabilities the loss is then the
        mean of the two views' losses.
        """
        if not metrics:
            raise ValueError("metrics is empty: pass a dict such as {'loss': model.metric_loss}.")
        totals, seen = dict.fromkeys(metrics, 0.0), 0
        with _eval_mode(self):
            for batch in dataset:
                output = self._output(batch, mirror)
                n = _batch_size(batch)
                for name, fn in metrics.items():
                    totals[name] = torch.as_tensor(fn(output, batch)).detach() * n + totals[name]
                seen += n
        if seen == 0:
            raise ValueError("the dataset to evaluate gave no batches: it is empty.")
        return {name: float(total) / seen for name, total in totals.items()}

    def evaluate(self, dataset, mirror=False):
        """The mean loss over every sample of ``dataset``."""
        return self.evaluate_with_metrics(dataset, {"loss": self.metric_loss}, mirror=mirror)["loss"]

    @torch.no_grad()
    def predict(self, batch, mirror=False):
        """The model's output for one batch, in eval mode (no dropout) and without gradient.

        mirror=True averages the outputs for the images and for their mirror images (test-time
        augmentation: for photos, where left and right do not matter, it is usually more accurate).
        For log-probabilities, as `CNN` gives, the average is the log of a geometric mean: its
        argmax is the combined prediction, but its exp() does not sum to 1 (apply log_softmax
        again when you need probabilities).
        """
        with _eval_mode(self):
            return self._output(batch, mirror)

    @torch.no_grad()
    def predict_dataset(self, dataset, mirror=False):
        """The outputs for every batch of ``dataset``, joined in order, on the CPU."""
        with _eval_mode(self):
            return torch.cat([self._output(batch, mirror).cpu() for batch in dataset])

    def _output(self, batch, mirror):
        output = self(batch)
        if mirror:
            output = (output + self(mirror_batch(batch))) / 2
        return output

    # --- checkpoints ------------------------------------------------------------------------

    def save(self, path):
        """Write weights and history to ``path`` atomically (temporary file, then rename)."""
        return save_checkpoint({"architecture": type(self).__name__, "state_dict": self.state_dict(),
                                "history": self.history}, path)

    def load(self, path, with_history=True):
        """Load weights (and, unless with_history=False, history) saved by `save`.

        The weights land on whatever device this model is on.
        """
        checkpoint = load_checkpoint(path)
        if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
            raise ValueError(f"{path} was not written by Model.save: it has no state_dict.")
        architecture = checkpoint.get("architecture")
        mine = type(self).__name__
        if architecture != mine:
            raise ValueError(f"{path} holds a {architecture} checkpoint, not a {mine}: load it into a "
                             f"{architecture}, or train this {mine} and save it.")
        ours, theirs = self.state_dict(), checkpoint["state_dict"]
        misfits = [name for name in ours.keys() | theirs.keys()
                   if name not in ours or name not in theirs or ours[name].shape != theirs[name].shape]
        if misfits:  # checked before loading: load_state_dict would copy what fits, then fail
            name = sorted(misfits)[0]
            shapes = [tuple(sd[name].shape) if name in sd else "missing" for sd in (theirs, ours)]
            raise ValueError(f"{path} holds {mine} weights of other shapes ({name}: {shapes[0]} in the file, "
                             f"{shapes[1]} here): build the model with the settings it was trained with.")
        self.load_state_dict(theirs)
        if with_history:
            self.history = list(checkpoint.get("history", []))
        return self


def _event_methods(plugin):
    if not isinstance(plugin, PluginInterface):
        return {}
    handlers = {event: getattr(plugin, event) for event in EVENTS if callable(getattr(plugin, event, None))}
    if not handlers and getattr(plugin, "event", None) in EVENTS:
        handlers = {plugin.event: plugin}
    return handlers


def _first(batch):
    """The inputs of a batch: its first item when it is (inputs, labels, ...), else itself."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _batch_size(batch):
    return len(_first(batch))


class _eval_mode:
    """Switch a module to eval mode for a block, then back to the mode it was in."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        self.was_training = self.module.training
        self.module.eval()

    def __exit__(self, *exc_info):
        self.module.train(self.was_training)
