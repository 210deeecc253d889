import matplotlib
import pytest

from regbook import plot

matplotlib.use("Agg")


def test_finish_labels_axes_and_adds_legend():
    fig, ax = plot.subplots()
    ax.plot([0, 1], [0, 1], label="a line")
    plot.finish(ax, xlabel="x", ylabel="y", title="t", logy=True)
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y" and ax.get_title() == "t"
    assert ax.get_legend() is not None
    assert ax.get_yscale() == "log"


def test_finish_without_labels_draws_no_legend():
    fig, ax = plot.subplots()
    ax.plot([0, 1], [0, 1])
    plot.finish(ax, xlabel="x", ylabel="y")
    assert ax.get_legend() is None


@pytest.mark.parametrize("xlabel, ylabel", [("", "y"), ("x", "   ")])
def test_finish_refuses_unlabelled_axes(xlabel, ylabel):
    fig, ax = plot.subplots()
    with pytest.raises(ValueError, match="label"):
        plot.finish(ax, xlabel=xlabel, ylabel=ylabel)


def test_subplots_sizes_panels_and_applies_style():
    fig, axes = plot.subplots(1, 3)
    assert len(axes) == 3
    assert fig.get_size_inches()[0] == pytest.approx(plot.MAX_WIDTH)
    assert matplotlib.rcParams["axes.spines.top"] is False


@pytest.mark.parametrize("nrows, ncols", [(1, 1), (1, 2), (1, 3), (2, 2), (3, 1), (2, 3)])
def test_every_default_figure_fits_the_page_column(nrows, ncols):
    fig, _ = plot.subplots(nrows, ncols)
    assert 0 < fig.get_size_inches()[0] <= plot.MAX_WIDTH


def test_every_text_size_of_the_style_is_at_least_the_caption_size():
    # 16 px captions; the notebook draws at figure.dpi px per inch, 72 pt per inch
    px_per_pt = plot.BOOK_STYLE["figure.dpi"] / 72
    sizes = {k: v for k, v in plot.BOOK_STYLE.items()
             if k.endswith(("size", "labelsize", "titlesize")) and not k.endswith("figsize")
             and not k.startswith("lines.")}
    assert {"font.size", "xtick.labelsize", "legend.fontsize"} <= set(sizes)
    assert all(v * px_per_pt >= 16 for v in sizes.values()), sizes
    # and a figure drawn one to one: MAX_WIDTH inches within the 672 px text column
    assert plot.MAX_WIDTH * plot.BOOK_STYLE["figure.dpi"] <= 672


@pytest.mark.parametrize("args, kwargs, match", [
    ((1, 4), {}, "ncols must be 1, 2 or 3"),
    ((0, 1), {}, "nrows must be a positive integer"),
    ((1, 2.0), {}, "ncols must be a positive integer"),
    ((1, 1), {"width": 9.0}, r"width must be in \(0, 6.6\]"),
    ((1, 1), {"width": -1.0}, "width must be in"),
])
def test_subplots_refuses_figures_too_wide_for_the_page(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot.subplots(*args, **kwargs)
