"""cifar_helpers: the small library under the CIFAR-10 lesson.

Data: load_cifar10, CLASSES, DataSet, AsyncDataLoader, batch_to_tensors, to_images, RandomFlip, RandomCrop,
AlternatingFlip.
Model: Model, StopTraining, CNN, PlainCNN, FastNet (default_widths, fast_bfloat16), FastDropout; the optimizer Muon.
Plugins: PluginInterface, EarlyStopping, ProgressBar, Logger, Evaluator, LivePlot. Metrics and plotting helpers;
select_device, set_seed, notebook_setup.
"""

from .async_loader import AsyncDataLoader
from .augment import AlternatingFlip, RandomCrop, RandomFlip, mirror_batch, shift_batch
from .checks import parse_bool
from .cifar10 import CLASSES, SOURCES, DataFormatError, DataNotFoundError, Split, as_torchvision_dataset, load_cifar10
from .cnn import CNN, PlainCNN
from .dataset import DataSet
from .device import select_device
from .dropout import FastDropout
from .fast_net import FastNet, default_widths, fast_bfloat16
from .events import EVENTS, PluginInterface, StopTraining, TrainingState
from .metrics import accuracy, classification_accuracy, confusion_matrix, most_confused, per_class_accuracy
from .model import Model
from .muon import Muon
from .parameters import check_parameters
from .plotting import (plot_class_counts, plot_confusion_matrix, plot_history, prediction_gallery,
                       show_images)
from .plugins import EarlyStopping, Evaluator, LivePlot, Logger, ProgressBar
from .seeding import set_seed
from .session import is_headless, lesson_path, notebook_setup, quick_profile
from .transforms import CIFAR10_MEAN, CIFAR10_STD, batch_to_tensors, to_images

__version__ = "0.2.0"

__all__ = [
    "AsyncDataLoader", "AlternatingFlip", "RandomCrop", "RandomFlip", "mirror_batch", "shift_batch", "parse_bool",
    "CLASSES", "SOURCES", "DataFormatError", "DataNotFoundError", "Split", "as_torchvision_dataset", "load_cifar10",
    "CNN", "PlainCNN", "FastNet", "default_widths", "fast_bfloat16", "DataSet", "select_device", "FastDropout",
    "EVENTS", "PluginInterface", "StopTraining", "TrainingState",
    "accuracy", "classification_accuracy", "confusion_matrix", "most_confused", "per_class_accuracy",
    "Model", "Muon", "check_parameters", "plot_class_counts", "plot_confusion_matrix", "plot_history",
    "prediction_gallery",
    "show_images", "EarlyStopping", "Evaluator", "LivePlot", "Logger", "ProgressBar", "set_seed",
    "is_headless", "lesson_path", "notebook_setup", "quick_profile", "CIFAR10_MEAN", "CIFAR10_STD",
    "batch_to_tensors", "to_images",
]
