"""The book's one matplotlib look.

Every figure in the book is made with :func:`subplots` and finished with :func:`finish`, so
all of them share sizes, fonts, a colour cycle and -- enforced here -- labelled axes.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["BOOK_STYLE", "COLORS", "use_book_style", "subplots", "finish", "line_plot"]

#: Colour-blind-safe palette (Okabe & Ito); one colour per framework where that matters.
COLORS = {
    "numpy": "#0072B2",
    "torch": "#D55E00",
    "tf": "#009E73",
    "sklearn": "#CC79A7",
    "train": "#0072B2",
    "val": "#E69F00",
    "test": "#D55E00",
    "grey": "#7F7F7F",
}

BOOK_STYLE: dict = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "lines.markersize": 5,
    "legend.frameon": False,
    "axes.prop_cycle": mpl.cycler(
        color=["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442"]
    ),
    "svg.hashsalt": "regbook",  # deterministic SVG ids
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib's global settings."""
    mpl.rcParams.update(BOOK_STYLE)


def subplots(
    nrows: int = 1, ncols: int = 1, *, width: float | None = None, height: float | None = None,
    **kwargs,
) -> tuple[Figure, Axes | np.ndarray]:
    """``plt.subplots`` in the book's style, sized for ``ncols`` panels side by side.

    Parameters
    ----------
    nrows, ncols : int
        Grid of panels.
    width, height : float, optional
        Figure size in inches; the default is 4.2 in per column (6.4 in for one) by
        3.6 in per row (4.0 in for one).
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (``sharey=True`` for instance).
    """
    use_book_style()
    if width is None:
        width = 6.4 if ncols == 1 else 4.2 * ncols
    if height is None:
        height = 4.0 if nrows == 1 else 3.6 * nrows
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)


def finish(
    ax: Axes,
    *,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    legend: bool | None = None,
    logx: bool = False,
    logy: bool = False,
) -> None:
    """Label an axes the book's way; every figure in the book goes through this.

    Returns nothing, so that a notebook cell ending in ``plot.finish(...)`` shows the figure
    and no ``<Axes ...>`` text.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    xlabel, ylabel : str
        Axis labels, with units where there are any. Empty labels are an error.
    title : str, optional
    legend : bool, optional
        Draw a legend; by default drawn when any artist has a label.
    logx, logy : bool
        Logarithmic axes.
    """
    for name, text in (("xlabel", xlabel), ("ylabel", ylabel)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    has_labels = any(
        not h.get_label().startswith("_") for h in ax.get_legend_handles_labels()[0]
    )
    if legend or (legend is None and has_labels):
        ax.legend()


def line_plot(ax: Axes, x: Sequence[float], curves: dict[str, Iterable[float]], **kwargs) -> Axes:
    """Plot several labelled curves that share one x axis."""
    for label, y in curves.items():
        ax.plot(x, list(y), label=label, **kwargs)
    return ax
