"""Figures for the lesson: image grids, training curves, confusion matrix, prediction gallery.

Each function returns a matplotlib Figure (``fig = show_images(...)`` in a notebook shows it
once; ``fig.savefig(...)`` writes it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..core.batch import Array
from ..core.validation import flag
from .metrics import lowest_record
from ..data.normalize import to_images


def _as_pictures(images: Array) -> np.ndarray:
    """uint8 (N, 32, 32, 3) arrays are shown as they are; float tensors are un-normalised first."""
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        return images
    if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
        return images.cpu().numpy()
    return to_images(images)


def show_images(images: Array, labels: Array | Sequence[int] | None = None, classes: Sequence[str] | None = None,
                predicted: Array | Sequence[int] | None = None, ncols: int = 8, size: float = 1.3,
                title: str | None = None) -> Figure:
    """A grid of images, each titled with its class; with ``predicted``, the title shows the
    prediction, green when right and red when wrong. A label of -1 leaves its place empty."""
    pictures = _as_pictures(images)
    n = len(pictures)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    title_room = 0.25 if predicted is None else 0.5  # wrong predictions take two lines
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + title_room)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n or (labels is not None and int(labels[i]) < 0):
            continue
        ax.imshow(pictures[i], interpolation="nearest")
        if labels is None:
            continue
        true = classes[int(labels[i])] if classes else str(int(labels[i]))
        if predicted is None:
            ax.set_title(true, fontsize=8)
        else:
            guess = classes[int(predicted[i])] if classes else str(int(predicted[i]))
            right = int(predicted[i]) == int(labels[i])
            ax.set_title(guess if right else f"{guess}\n(is {true})", fontsize=8,
                         color="green" if right else "red")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history: Sequence[dict[str, float]], figure: Figure | None = None) -> Figure:
    """Loss per epoch (train and validation) and, when measured, validation accuracy.

    With a validation loss, a dotted line marks the epoch where it was lowest: the one
    `EarlyStopping` keeps.
    """
    if figure is None:
        figure = plt.figure(figsize=(10, 3.6), layout="constrained")
    figure.clear()
    accuracies = [k for k in ("val_accuracy", "test_accuracy") if any(k in r for r in history)]
    axes = figure.subplots(1, 2 if accuracies else 1, squeeze=False)[0]
    epochs = [r["epoch"] for r in history]
    for key, label in (("train_loss", "train loss"), ("val_loss", "validation loss"), ("test_loss", "test loss")):
        if any(key in r for r in history):
            axes[0].plot(epochs, [r.get(key, np.nan) for r in history], marker="o", label=label)
    axes[0].set(xlabel="epoch", ylabel="loss", title="Loss")
    axes[0].legend()
    for key in accuracies:
        axes[1].plot(epochs, [100 * r.get(key, np.nan) for r in history], marker="o",
                     label=key.replace("_", " ").replace("val", "validation"))
        axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
        axes[1].legend()
    lowest = lowest_record(history)
    if history and all("val_loss" in r for r in history) and lowest is not None:
        best = lowest["epoch"]
        for ax in axes:
            ax.axvline(best, color="gray", linestyle=":", label=f"lowest validation loss (epoch {best})")
            ax.legend()
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    return figure


def plot_confusion_matrix(matrix: Array, classes: Sequence[str], normalize: bool = True) -> Figure:
    """Heat map of a confusion matrix (rows: true class, columns: predicted class)."""
    normalize = flag(normalize, "normalize")
    matrix = torch.as_tensor(matrix).double().numpy()
    shown = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1) if normalize else matrix
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "images")
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right")
    ax.set_yticks(ticks, classes)
    ax.set(xlabel="predicted class", ylabel="true class", title="Confusion matrix")
    for i in range(len(classes)):
        for j in range(len(classes)):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(shown[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > 0.5 * shown.max() else "black")
    fig.tight_layout()
    return fig


def plot_class_counts(labels: Array | Sequence[int], classes: Sequence[str], title: str = "Images per class") -> Figure:
    """Bar chart of how many images each class has."""
    counts = np.bincount(np.asarray(labels), minlength=len(classes))
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.bar(classes, counts, color="tab:blue")
    ax.set(ylabel="images", title=title)
    ax.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def prediction_gallery(images: Array, labels: Array, predicted: Array, classes: Sequence[str], per_kind: int = 8,
                       seed: int | None = 0) -> Figure:
    """Two rows: ``per_kind`` images predicted right, then ``per_kind`` predicted wrong."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    rng = np.random.default_rng(seed)
    rows = []
    for mask in (labels == predicted, labels != predicted):
        index = np.flatnonzero(mask)
        if len(index):
            rows.append(rng.choice(index, min(per_kind, len(index)), replace=False))
    if not rows:
        raise ValueError("there are no predictions to show: pass at least one image.")
    # Each kind starts a row of its own, so right and wrong never share one.
    if len(rows) == 2 and len(rows[0]) < per_kind:
        rows[0] = np.concatenate([rows[0], np.full(per_kind - len(rows[0]), -1)])
    slots = np.concatenate(rows).astype(int)
    filled = np.maximum(slots, 0)
    shown_labels = np.where(slots >= 0, labels[filled], -1)  # -1 leaves the place empty
    return show_images(images[filled], shown_labels, classes, predicted=predicted[filled], ncols=per_kind,
                       title="Right (green) and wrong (red) predictions")
