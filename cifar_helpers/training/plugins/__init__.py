"""Plugins that `Model.learn` calls on its events."""

from ..events import PluginInterface
from .early_stopping import EarlyStopping
from .evaluator import Evaluator
from .live_plot import LivePlot
from .logger import Logger
from .progress import ProgressBar

__all__ = ["PluginInterface", "EarlyStopping", "Evaluator", "LivePlot", "Logger", "ProgressBar"]
