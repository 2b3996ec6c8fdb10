"""The events of `Model.learn`, the base class of plugins, and the exception that stops training."""

EVENTS = (
    "on_start", "on_start_epoch", "on_start_batch", "before_backward", "before_step",
    "on_end_batch", "on_end_epoch", "on_stop_training", "on_end",
)


class StopTraining(Exception):
    """Raise it from a plugin to end `Model.learn` after the current event."""


class PluginInterface:
    """A plugin object. Either

    * define methods named after events (``on_start_epoch``, ``on_end_batch``, ...), each taking
      the training state as keyword arguments; ``model.register_plugin(plugin)`` registers them
      all; or
    * define ``function(self, **state)`` and register it on one event, as a function would be:
      ``model.register_plugin(plugin, "on_end_epoch")``. A class attribute ``event`` names the
      event used when none is given.
    """

    event = None

    def function(self, **state):
        raise NotImplementedError(f"{type(self).__name__} defines no function(self, **state).")

    def __call__(self, **state):
        return self.function(**state)
