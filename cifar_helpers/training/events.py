"""The events of `Model.learn`, what plugins receive, and how a plugin is registered.

A plugin is either

* a function, registered on one event: ``model.register_plugin(report, "on_end_epoch")``; or
* a `PluginInterface` object whose methods are named after the events it listens to
  (``on_start``, ``on_end_epoch``, ...), registered with ``model.register_plugin(plugin)``. The
  seed tutorial's ``model.register_plugin(early_stopping, "on_end_epoch")`` works too: an event
  named for an object must be one of its methods, and all of its methods are registered.

Either way it is called with the training state as keyword arguments: take the ones you need
and ``**_`` for the rest, as in ``def report(epoch, record, **_): ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from ..core.batch import Batch
    from .model import Model

EVENTS = (
    "on_start", "on_start_epoch", "on_start_batch", "before_backward", "before_step",
    "on_end_batch", "on_end_epoch", "on_stop_training", "on_end",
)


class StopTraining(Exception):
    """Raise it from a plugin to end `Model.learn` after the current event; learn returns False."""


class PluginInterface:
    """Base class of plugin objects: define a method for each event to listen to (see the module docstring)."""

    def events(self) -> list[str]:
        """The names of the events this plugin has methods for, in the order they fire."""
        return [event for event in EVENTS if callable(getattr(self, event, None))]


@dataclass
class TrainingState:
    """What every plugin receives, as keyword arguments, while `Model.learn` runs.

    ``epoch`` counts from 1 (it goes on from the model's history when learn is called again);
    ``max_epochs`` is this call's number of epochs, and ``last_epoch`` the epoch it runs to at
    most (a second ``learn(..., max_epochs=2)`` after two epochs runs epochs 3 and 4 of 4);
    ``batch_index`` counts from 1 within the epoch and is 0 in on_start_epoch. ``batch``,
    ``output`` and ``loss`` are the current batch's. ``record`` is the current epoch's figures:
    train_loss, seconds and images_per_second, plus val_<metric> with a validation set; it is
    added to ``history`` when the epoch is finished, before on_end_epoch. ``stop_reason`` is the
    message of the `StopTraining` that ended training, if one did.
    """

    model: Model
    optimizer: torch.optim.Optimizer
    dataset: Iterable[Batch]
    validation_dataset: Iterable[Batch] | None
    max_epochs: int
    history: list[dict[str, float]]
    num_batches: int
    last_epoch: int = 0
    epoch: int = 0
    batch_index: int = 0
    batch: Batch | None = None
    output: torch.Tensor | None = None
    loss: torch.Tensor | None = None
    record: dict[str, float] | None = None
    stop_reason: str | None = None

    def as_kwargs(self) -> dict:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def plugin_handlers(plugin: PluginInterface | Callable[..., object], event: str | None = None,
                    frequency: int = 1) -> dict[str, tuple[Callable[..., object], int]]:
    """{event: (handler, frequency)} for `Model.register_plugin`, or one clear error at registration."""
    if event is not None and event not in EVENTS:
        raise ValueError(f"event={event!r} is not an event of Model.learn: use one of {', '.join(EVENTS)}.")
    if isinstance(plugin, PluginInterface):
        names = plugin.events()
        if not names:
            raise TypeError(f"{type(plugin).__name__} defines no event methods: give it methods named after "
                            f"events ({', '.join(EVENTS)}).")
        if event is None:
            if frequency != 1 and len(names) > 1:
                raise ValueError(f"frequency={frequency} for {type(plugin).__name__}, which listens to several "
                                 f"events ({', '.join(names)}): name the one it applies to.")
            return {name: (getattr(plugin, name), frequency) for name in names}
        if event not in names:
            raise ValueError(f"{type(plugin).__name__} listens to {', '.join(names)}, not {event}: register it with "
                             "model.register_plugin(plugin), or name one of those events.")
        return {name: (getattr(plugin, name), frequency if name == event else 1) for name in names}
    if not callable(plugin):
        raise TypeError(f"plugin {plugin!r} is not callable: pass a function or a PluginInterface object.")
    if event is None:
        raise ValueError(f"say when to call {plugin!r}: model.register_plugin(function, event) with event one "
                         f"of {', '.join(EVENTS)}.")
    return {event: (plugin, frequency)}
