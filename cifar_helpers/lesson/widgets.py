"""Widgets for exploring a trained model: a browser of its mistakes, and "predict your own picture".

In JupyterLab each shows a widget to play with. Headless (papermill, nbval, a script) nobody can
pick or upload anything, so each shows one fixed example instead, and says so.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..core.batch import Array
from ..core.environment import is_headless
from ..data.normalize import batch_to_tensors

if TYPE_CHECKING:
    from ipywidgets import FileUpload
    from PIL import Image

    from ..training.model import Model

    Picture = Image.Image | bytes | bytearray | memoryview  # a PIL image, or an image file's bytes


def plot_mistakes(images: Array, probabilities: Array, labels: Array, true_class: str, predicted_class: str,
                  classes: Sequence[str], limit: int = 5) -> Figure:
    """The images of ``true_class`` taken for ``predicted_class``, most confident first, each beside
    a bar chart of its class probabilities (true class green, predicted class red)."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    t, p = classes.index(true_class), classes.index(predicted_class)
    found = np.flatnonzero((labels == t) & (probabilities.argmax(axis=1) == p))
    found = found[np.argsort(-probabilities[found, p], kind="stable")]
    rows = max(1, min(limit, len(found)))
    fig, axes = plt.subplots(rows, 2, figsize=(7, 1.6 * rows), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 3]})
    title = (f"{len(found)} test images of {true_class} taken for {predicted_class}"
             + (f" (the {rows} most confident)" if len(found) > rows else ""))
    fig.suptitle(title if t != p else f"{len(found)} test images of {true_class} recognised", fontsize=10)
    if not len(found):
        axes[0, 0].axis("off")
        axes[0, 1].axis("off")
        axes[0, 1].text(0, 0.5, "none: the model never made this mistake", va="center")
    colours = ["tab:gray"] * len(classes)
    colours[p], colours[t] = "tab:red", "tab:green"
    for (picture, bars), index in zip(axes, found[:rows]):
        picture.imshow(images[index], interpolation="nearest")
        picture.set_title(f"test image {index}", fontsize=8)
        picture.axis("off")
        bars.barh(classes, probabilities[index], color=colours)
        bars.set_xlim(0, 1)
        bars.invert_yaxis()
        bars.tick_params(labelsize=7)
    axes[-1, 1].set_xlabel("probability")
    fig.tight_layout()
    return fig


def mistake_browser(images: Array, probabilities: Array, labels: Array,
                    classes: Sequence[str]) -> Callable[[str, str], None] | None:
    """Pick a true and a predicted class; see the model's mistakes of that kind (headless: the commonest)."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    confusion = np.zeros((len(classes), len(classes)), dtype=int)
    np.add.at(confusion, (labels, probabilities.argmax(axis=1)), 1)
    np.fill_diagonal(confusion, 0)
    t, p = np.unravel_index(confusion.argmax(), confusion.shape)

    def show(true_class: str, predicted_class: str) -> None:
        plot_mistakes(images, probabilities, labels, true_class, predicted_class, classes)
        plt.show()

    if is_headless():
        print(f"(headless: showing the commonest mistake, {classes[t]} taken for {classes[p]})")
        show(classes[t], classes[p])
        return None
    import ipywidgets as widgets

    return widgets.interact(show, true_class=widgets.Dropdown(options=list(classes), value=classes[t]),
                            predicted_class=widgets.Dropdown(options=list(classes), value=classes[p]))


def to_network_input(picture: Picture) -> np.ndarray:
    """Any picture (a PIL image, or encoded bytes) -> uint8 (32, 32, 3): its middle square, shrunk.

    A phone stores a photo taken upright as the sensor saw it, plus an EXIF tag saying how to
    turn it; the picture is turned that way first, so the network sees what a viewer shows.
    """
    from PIL import Image, ImageOps

    if isinstance(picture, (bytes, bytearray, memoryview)):
        picture = Image.open(io.BytesIO(bytes(picture)))
    picture = ImageOps.exif_transpose(picture).convert("RGB")
    side = min(picture.size)
    left, top = (picture.width - side) // 2, (picture.height - side) // 2
    square = picture.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.uint8)


@torch.no_grad()
def predict_picture(model: Model, picture: Picture, device: torch.device | str = "cpu",
                    mirror: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(the 32 x 32 pixels the network sees, its probability for each class) for one picture."""
    pixels = to_network_input(picture)
    batch = batch_to_tensors((pixels[None], [0]), device)
    output = model.predict(batch, mirror=mirror)
    return pixels, torch.softmax(output, dim=1)[0].cpu().numpy()


def plot_picture_prediction(pixels: np.ndarray, probabilities: np.ndarray, classes: Sequence[str], top: int = 3,
                            title: str = "What the network sees") -> Figure:
    """The picture at 32 x 32 pixels, and its ``top`` most likely classes with their probabilities."""
    order = np.argsort(-probabilities)[:top]
    fig, (picture, bars) = plt.subplots(1, 2, figsize=(7, 2.4), gridspec_kw={"width_ratios": [1, 2]})
    picture.imshow(pixels, interpolation="nearest")
    picture.set_title(title, fontsize=9)
    picture.axis("off")
    bars.barh([classes[i] for i in order], probabilities[order], color="tab:blue")
    for y, i in enumerate(order):
        bars.text(probabilities[i] + 0.01, y, f"{probabilities[i]:.1%}", va="center", fontsize=9)
    bars.set_xlim(0, 1.15)
    bars.invert_yaxis()
    bars.set_xlabel("probability")
    bars.set_title(f"top {top}", fontsize=9)
    fig.tight_layout()
    return fig


def picture_predictor(model: Model, classes: Sequence[str], example: Picture,
                      device: torch.device | str = "cpu") -> FileUpload | None:
    """An upload button: the picture is shown as the network sees it, with its top 3 classes.

    example: a picture (PIL image) shown headless, where nobody can upload one.
    """
    def show(picture: Picture, title: str) -> None:
        pixels, probabilities = predict_picture(model, picture, device)
        best = int(np.argmax(probabilities))
        print(f"{title}: most likely a {classes[best]} ({probabilities[best]:.0%})")
        plot_picture_prediction(pixels, probabilities, classes, title=title)
        plt.show()

    if is_headless():
        print("(headless: nobody can upload a picture, so here is the fixed example)")
        show(example, "the example, at 32 x 32")
        return None
    import ipywidgets as widgets
    from IPython.display import display

    upload = widgets.FileUpload(accept="image/*", multiple=False, description="Your picture")
    output = widgets.Output()

    def on_upload(change: dict) -> None:
        output.clear_output(wait=True)
        with output:
            for item in change["new"]:
                try:
                    show(item["content"], f"{item['name']}, at 32 x 32")
                except Exception as error:  # not an image: say so, in the widget
                    print(f"{item['name']} could not be read as a picture ({error}).")

    upload.observe(on_upload, names="value")
    with output:
        show(example, "an example, at 32 x 32: upload your own")
    display(widgets.VBox([upload, output]))
    return upload
