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
    assert fig.get_size_inches()[0] == pytest.approx(12.6)
    assert matplotlib.rcParams["axes.spines.top"] is False
