"""The one matplotlib style shared by every scenario's figures.

Figures are built with ``matplotlib.figure.Figure`` on an Agg canvas, never through ``pyplot``: no
global backend is switched, no window can open, and nothing is left in pyplot's figure registry.
Sizes are in inches at paper scale (``FULL_WIDTH`` is a two-column paper's text width), so the font
sizes below stay readable when a figure is printed at its own size.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from scenarios.harness.progress_bars import progress

FULL_WIDTH = 7.0
"""Width in inches of a full-width figure (text width of a two-column paper)."""

PNG_DPI = 150
"""Resolution of the PNG files (the PDF files are vector graphics)."""

FIGURE_FORMATS = ("png", "pdf")
"""Every figure is saved once per format: PNG to look at, PDF for papers."""

STYLE: dict[str, object] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "pdf.fonttype": 42,
    "image.cmap": "viridis",
}
"""rcParams applied while a figure is built and saved (see ``figure_style``)."""


@contextmanager
def figure_style() -> Iterator[None]:
    """Apply ``STYLE`` to the figures created and saved inside the ``with`` block."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float = FULL_WIDTH, height: float = 3.0, **kwargs: object) -> Figure:
    """A figure of ``width`` x ``height`` inches on an Agg canvas; call inside ``figure_style``.

    Extra keyword arguments go to ``matplotlib.figure.Figure`` (e.g. ``layout="constrained"``).
    """
    fig = Figure(figsize=(width, height), **kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``fig`` to ``stem.png`` (``PNG_DPI``) and ``stem.pdf``; return the paths written."""
    paths = []
    with figure_style():
        for extension in FIGURE_FORMATS:
            path = stem.parent / f"{stem.name}.{extension}"
            fig.savefig(path, dpi=PNG_DPI if extension == "png" else None)
            paths.append(path)
    return paths


def save_figures(figures: dict[str, Figure], out_dir: Path, desc: str) -> None:
    """``save_figure`` every ``stem -> figure`` of ``figures`` into ``out_dir``, with a progress bar
    labelled ``desc``."""
    for stem, fig in progress(figures.items(), desc=desc, total=len(figures)):
        save_figure(fig, Path(out_dir) / stem)
