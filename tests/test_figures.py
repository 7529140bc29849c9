"""Figures and widget builders of arnn_lite.book.figures (chapters 02-04), headless (Agg)."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from arnn_lite import DiagonalBiLSTM, DiagonalLSTM, progress
from arnn_lite.book import figures  # noqa: E402
from arnn_lite.book.slider import StaticSlider  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures(monkeypatch):
    monkeypatch.delenv(progress.STATIC_ENV, raising=False)  # live unless a test says static
    yield
    plt.close("all")


def image_axes(fig):
    """Axes that hold an image (colour bars and legends excluded)."""
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


def test_indices():
    assert figures.antidiagonal_index(2, 3).tolist() == [[0, 1, 2], [1, 2, 3]]
    assert figures.raster_index(2, 3).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_plot_scan_order_titles_and_labels():
    fig = figures.plot_scan_order(3, 5)
    axes = image_axes(fig)
    assert len(axes) == 2
    assert "15 steps" in axes[0].get_title() and "7 steps" in axes[1].get_title()
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)


@pytest.mark.parametrize("height,width", [(4, 6), (5, 2), (1, 1)])
def test_plot_skew_shapes(height, width):
    fig = figures.plot_skew(height, width, t=height - 1)
    left, right = image_axes(fig)
    assert left.images[0].get_array().shape == (height, width)
    assert right.images[0].get_array().shape == (height, height + width - 1)
    assert "Original" in left.get_title() and "Skewed" in right.get_title()
    assert right.get_xlabel().startswith("column t")
    outlined = [p for p in right.patches]
    assert len(outlined) == min(height, width)  # one outline per pixel of the anti-diagonal
    assert f"i + j = {height - 1}" in fig._suptitle.get_text()


def test_skew_widget_slider_follows_size():
    w = figures.skew_widget(4, 6)
    assert isinstance(w, ipywidgets.interactive)
    t, h, wd = w.children[:3]
    assert t.max == 8
    h.value, wd.value = 2, 3
    assert t.max == 3


def test_gradient_field_is_quadrant():
    lstm = DiagonalLSTM(2, 3).double()
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64)
    field = figures.gradient_field(lstm, x, (2, 3))
    r, c = torch.meshgrid(torch.arange(4), torch.arange(5), indexing="ij")
    assert torch.equal(field > 0, (r <= 2) & (c <= 3))
    assert x.grad is None  # the caller's tensor is left alone


def test_plot_state_taps_has_two_arrows_per_panel():
    fig = figures.plot_state_taps(4, 5, (2, 2))
    left, right = image_axes(fig)
    arrows = lambda ax: [p for p in ax.patches if type(p).__name__ == "FancyArrowPatch"]
    assert len(arrows(left)) == 2 and len(arrows(right)) == 2
    assert "(2, 2)" in left.get_title() and "t−1 = 3" in right.get_title()
    # a pixel in the top-left corner has no neighbours: no arrows
    fig = figures.plot_state_taps(3, 3, (0, 0))
    assert not arrows(image_axes(fig)[0])


def test_plot_receptive_field_and_widget():
    lstm = DiagonalLSTM(1, 2).double()
    x = torch.randn(1, 1, 5, 6, dtype=torch.float64)
    fig = figures.plot_receptive_field(figures.gradient_field(lstm, x, (1, 2)), (1, 2))
    (ax,) = image_axes(fig)
    assert "(1, 2)" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert len(fig.axes) == 2  # image + colour bar
    w = figures.receptive_field_widget(lstm, x)
    assert isinstance(w, ipywidgets.interactive)
    assert [c.description for c in w.children[:2]] == ["i", "j"]


def test_region_map_labels():
    fwd = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    rev = torch.tensor([[0.0, 3.0], [0.0, 1.0]])
    assert figures.region_map(fwd, rev).tolist() == [[1, 2], [0, 3]]
    assert figures.REGION_LABELS == ("neither direction", "forward only", "reverse only", "both")


def test_plot_direction_fields_and_widget():
    bi = DiagonalBiLSTM(2, 3).double()
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64)
    fwd = figures.gradient_field(bi, x, (2, 1), slice(0, 3))
    rev = figures.gradient_field(bi, x, (2, 1), slice(3, None))
    regions = figures.region_map(fwd, rev)
    assert regions[2, 1] == 3 and regions[0, 3] == 0 and regions[4, 0] == 0
    fig = figures.plot_direction_fields(fwd, rev, (2, 1))
    axes = image_axes(fig)
    assert len(axes) == 3
    assert "forward" in axes[0].get_title() and "reverse" in axes[1].get_title()
    assert axes[2].get_legend() is not None
    assert "(2, 1)" in fig._suptitle.get_text()
    assert isinstance(figures.direction_fields_widget(bi, x, hidden=3), ipywidgets.interactive)


def test_plot_coverage():
    fig = figures.plot_coverage(torch.rand(4, 5), "coverage")
    (ax,) = image_axes(fig)
    assert ax.get_title() == "coverage" and ax.get_xlabel() and ax.get_ylabel()
    assert len(fig.axes) == 2  # image + colour bar


def test_plot_direction_fields_legend_follows_names():
    field = torch.ones(3, 3)
    fig = figures.plot_direction_fields(field, field, (1, 1), "PixelRNN", names=("forward", "r2l"))
    texts = [t.get_text() for t in image_axes(fig)[2].get_legend().get_texts()]
    assert texts == ["neither direction", "forward only", "r2l only", "both"]


# --------------------------------------------------------------------------- static book

def spy_slider(monkeypatch):
    """Replace figures.slider by a recorder of its arguments (no frames are drawn)."""
    calls = []
    monkeypatch.setattr(figures, "slider", lambda draw, alt=None, **kw: calls.append(
        dict(kw, draw=draw, alt=alt)))
    return calls


def test_skew_widget_static_grid_and_past_the_end_frames(monkeypatch):
    calls = spy_slider(monkeypatch)
    figures.skew_widget(4, 6, static=True)
    (call,) = calls
    assert call["H"] == [2, 4, 6] and call["W"] == [3, 6] and list(call["t"]) == list(range(11))
    fig = call["draw"](t=5, H=2, W=3)  # t past H + W - 2 = 3: nothing outlined, and it says so
    assert "last one is t = H + W − 2 = 3" in fig._suptitle.get_text() and not image_axes(fig)[1].patches
    assert "anti-diagonal i + j = 2 outlined" in call["alt"](t=2, H=2, W=3)
    assert "past the last" in call["alt"](t=5, H=2, W=3)


def test_pixel_widgets_static_grids(monkeypatch):
    calls = spy_slider(monkeypatch)
    x = torch.zeros(1, 1, 10, 12)
    figures.receptive_field_widget(DiagonalLSTM(1, 2), x, static=True)
    figures.direction_fields_widget(DiagonalBiLSTM(1, 2), x, hidden=2, positions=None, static=True)
    assert calls[0]["i"] == [0, 2, 4, 5, 7, 9] and calls[0]["j"] == [0, 2, 4, 6, 7, 9, 11]
    assert calls[1]["i"] == list(range(10)) and calls[1]["j"] == list(range(12))
    assert "({i}, {j})" in calls[0]["alt"] and "({i}, {j})" in calls[1]["alt"]


def test_receptive_field_widget_static_frames_differ():
    lstm = DiagonalLSTM(1, 2).double()
    w = figures.receptive_field_widget(lstm, torch.randn(1, 1, 2, 2, dtype=torch.float64),
                                       static=True)
    assert isinstance(w, StaticSlider) and w.start == [1, 1]
    assert len(w.frames) == 4 and w.alts[1].startswith("Receptive field of output (0, 1)")


def test_widgets_follow_the_static_switch(monkeypatch):
    lstm, x = DiagonalLSTM(1, 2).double(), torch.randn(1, 1, 1, 2, dtype=torch.float64)
    assert isinstance(figures.receptive_field_widget(lstm, x), ipywidgets.interactive)
    monkeypatch.setenv(progress.STATIC_ENV, "1")  # what the Makefile exports for book builds
    assert isinstance(figures.receptive_field_widget(lstm, x), StaticSlider)
