"""`LivePlot`: one figure of the training curves, redrawn in place after every epoch.

In JupyterLab the figure updates where it first appeared. A headless run (papermill, nbval)
records the updates into that same output, so the saved notebook holds exactly one final PNG.
"""

from __future__ import annotations

import io
import os

from matplotlib.figure import Figure

from ..plotting import plot_history
from ...core.environment import in_notebook
from ..events import PluginInterface


class LivePlot(PluginInterface):
    """Plot train and validation loss (and accuracy, when measured) per epoch.

    path: also save the final figure there (PNG) when training ends.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = path
        self.figure = None
        self._handle = None

    def on_end_epoch(self, history: list[dict[str, float]], **_) -> None:
        if not in_notebook():  # nobody to show it to: draw once, at the end, if it is saved
            return
        from IPython.display import Image, display

        # A PNG made here, not the Figure object: it shows the same whatever matplotlib
        # backend the kernel has set up (or not yet).
        buffer = io.BytesIO()
        self._draw(history).savefig(buffer, format="png", dpi=80)
        picture = Image(data=buffer.getvalue(), format="png")
        if self._handle is None:
            self._handle = display(picture, display_id=True)
        else:
            self._handle.update(picture)

    def on_end(self, history: list[dict[str, float]], **_) -> None:
        if self.path is not None and history:
            self._draw(history).savefig(self.path, dpi=100)
        self._handle = None

    def _draw(self, history: list[dict[str, float]]) -> Figure:
        if self.figure is None:
            self.figure = Figure(figsize=(10, 3.6), layout="constrained")
        return plot_history(history, figure=self.figure)
