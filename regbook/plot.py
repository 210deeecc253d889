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

__all__ = ["BOOK_STYLE", "COLORS", "MAX_WIDTH", "MIN_FONT_SIZE", "use_book_style", "subplots",
           "finish", "line_plot"]

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

#: Widest figure, in inches, that the page shows at its own size. The book's text column is
#: about 672 CSS px at a 1280 px window; the notebook shows figures as PNG at ``figure.dpi``
#: = 100 px per inch, so a figure up to 6.7 in wide is drawn one to one and a wider one is
#: shrunk -- and its text with it.
MAX_WIDTH = 6.6

#: Smallest font, in points, of any text in a figure: at 100 px per inch, 12 pt is 16.7 px,
#: at least the 16 px of the book's captions (when the figure is not shrunk, see MAX_WIDTH).
MIN_FONT_SIZE = 12

BOOK_STYLE: dict = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": MIN_FONT_SIZE,
    "axes.titlesize": MIN_FONT_SIZE,
    "axes.labelsize": MIN_FONT_SIZE,
    "legend.fontsize": MIN_FONT_SIZE,
    "legend.title_fontsize": MIN_FONT_SIZE,
    "xtick.labelsize": MIN_FONT_SIZE,
    "ytick.labelsize": MIN_FONT_SIZE,
    "figure.titlesize": MIN_FONT_SIZE,
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
    """``plt.subplots`` in the book's style, sized for its panel count to be read at page size.

    Every figure is at most :data:`MAX_WIDTH` inches wide, so that the page shows it at its own
    size and its text (:data:`MIN_FONT_SIZE` points) is at least the caption's size. More panels
    therefore share that width rather than widening the figure: at most three side by side
    (put more in rows).

    Parameters
    ----------
    nrows, ncols : int
        Grid of panels; ``ncols`` from 1 to 3.
    width, height : float, optional
        Figure size in inches. The default width is 6.4 in for one column and
        :data:`MAX_WIDTH` for two or three; the default height is 4.0 in for one panel,
        3.4 in per row for two columns and 3.0 in per row for three (3.2 in per row of a
        single column).
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots` (``sharey=True`` for instance).

    Raises
    ------
    ValueError
        If ``ncols`` is not 1, 2 or 3, ``nrows`` < 1, or ``width`` is over :data:`MAX_WIDTH`.
    """
    for name, value in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if ncols > 3:
        raise ValueError(f"ncols must be 1, 2 or 3 (more panels side by side are too narrow to "
                         f"read at page size; use more rows), got {ncols}")
    if width is None:
        width = 6.4 if ncols == 1 else MAX_WIDTH
    elif not 0 < width <= MAX_WIDTH:
        raise ValueError(f"width must be in (0, {MAX_WIDTH}] inches (a wider figure is shrunk "
                         f"to the page and its text falls below the caption's size), got {width}")
    if height is None:
        per_row = {1: 3.2, 2: 3.4, 3: 3.0}[ncols]
        height = 4.0 if nrows == ncols == 1 else per_row * nrows
    use_book_style()
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
