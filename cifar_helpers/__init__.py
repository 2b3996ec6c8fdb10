"""cifar_helpers: the small library under the CIFAR-10 lesson.

Its folders are layers, each importing only those below it (docs/architecture.md):
core/ (checks, device, seeds, files), data/ (load_cifar10, DataSet, AsyncDataLoader, augmentation,
normalisation), training/ (Model, events, plugins, metrics, plotting), networks/ (CNN, PlainCNN,
FastNet, FastDropout, Muon), lesson/ (parameters, session, exercises, widgets). This module gives
every public name, so notebooks write ``from cifar_helpers import CNN``.
"""

from .core.startup import quiet_ctrl_c_while_starting

quiet_ctrl_c_while_starting()  # first: importing torch below takes seconds

from .data.async_loader import AsyncDataLoader
from .data.augment import AlternatingFlip, RandomCrop, RandomFlip, mirror_batch, shift_batch
from .core.validation import parse_bool
from .data.cifar10 import (CLASSES, SOURCES, DataFormatError, DataNotFoundError, Split, as_torchvision_dataset,
                           load_cifar10)
from .networks.cnn import CNN, PlainCNN
from .data.dataset import DataSet
from .core.device import DEVICES, fast_bfloat16, holds_in_memory, select_device
from .networks.dropout import FastDropout
from .networks.fast_net import FastNet, default_widths
from .training.events import EVENTS, PluginInterface, StopTraining, TrainingState
from .training.metrics import accuracy, classification_accuracy, confusion_matrix, most_confused, per_class_accuracy
from .training.model import Model
from .networks.muon import Muon
from .lesson.parameters import check_parameters
from .training.plotting import (plot_class_counts, plot_confusion_matrix, plot_history, prediction_gallery,
                       show_images)
from .training.plugins import EarlyStopping, Evaluator, LivePlot, Logger, ProgressBar
from .core.seeding import set_seed
from .core.environment import is_headless
from .lesson.session import lesson_path, notebook_setup, quick_profile
from .data.normalize import CIFAR10_MEAN, CIFAR10_STD, batch_to_tensors, to_images

__version__ = "0.2.0"

__all__ = [
    "AsyncDataLoader", "AlternatingFlip", "RandomCrop", "RandomFlip", "mirror_batch", "shift_batch", "parse_bool",
    "CLASSES", "SOURCES", "DataFormatError", "DataNotFoundError", "Split", "as_torchvision_dataset", "load_cifar10",
    "CNN", "PlainCNN", "FastNet", "default_widths", "fast_bfloat16", "DataSet", "select_device", "DEVICES",
    "holds_in_memory", "FastDropout",
    "EVENTS", "PluginInterface", "StopTraining", "TrainingState",
    "accuracy", "classification_accuracy", "confusion_matrix", "most_confused", "per_class_accuracy",
    "Model", "Muon", "check_parameters", "plot_class_counts", "plot_confusion_matrix", "plot_history",
    "prediction_gallery",
    "show_images", "EarlyStopping", "Evaluator", "LivePlot", "Logger", "ProgressBar", "set_seed",
    "is_headless", "lesson_path", "notebook_setup", "quick_profile", "CIFAR10_MEAN", "CIFAR10_STD",
    "batch_to_tensors", "to_images",
]
