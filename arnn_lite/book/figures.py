"""Figures and small widgets for the diagonal-scan chapters 02, 03 and 04.

Every ``plot_*`` function returns a matplotlib ``Figure`` with a title and labelled axes;
every ``*_widget`` function returns a :func:`slider` that redraws one of those figures when a
slider moves: the live ``ipywidgets.interactive`` with a kernel, precomputed frames that need
no kernel in the static book (:mod:`arnn_lite.book.slider`).

Defined in chapter 02 (``chapters/02_skew.ipynb``): :func:`plot_scan_order`,
:func:`plot_skew`, :func:`skew_widget`. Chapter 03 (``chapters/03_diagonal_lstm.ipynb``):
:func:`gradient_field` (:func:`arnn_lite.reference.gradient_field`, re-exported here),
:func:`plot_state_taps`, :func:`plot_receptive_field`, :func:`receptive_field_widget`.
Chapter 04 (``chapters/04_diagonal_bilstm.ipynb``): :func:`region_map`, :func:`plot_regions`,
:func:`plot_direction_fields`, :func:`direction_fields_widget`, :func:`plot_coverage`.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from ..ops import skew
from ..reference import gradient_field
from . import MIN_FONT_PT, PALETTE
from .slider import slider

__all__ = [
    "slider", "antidiagonal_index", "raster_index", "plot_scan_order", "plot_skew", "skew_widget",
    "gradient_field", "plot_state_taps", "plot_receptive_field", "receptive_field_widget",
    "REGION_LABELS", "region_map", "plot_regions", "plot_direction_fields",
    "direction_fields_widget", "plot_coverage",
]

Pixel = Tuple[int, int]
_PAD_COLOUR = "#eeeeee"
# Okabe-Ito colours (`arnn_lite.book.PALETTE`): its vermillion is a red that stays apart from
# viridis's greens for red-green colour-blind readers.
_HIGHLIGHT = PALETTE[5]


# --------------------------------------------------------------------------- helpers

def antidiagonal_index(height: int, width: int) -> torch.Tensor:
    """``t = i + j`` for every pixel: the diagonal scan step that computes it.

    Returns:
        Long tensor ``(H, W)``.
    """
    i = torch.arange(height).view(-1, 1)  # (H, 1)
    j = torch.arange(width).view(1, -1)  # (1, W)
    return i + j  # (H, W)


def raster_index(height: int, width: int) -> torch.Tensor:
    """``i * W + j`` for every pixel: the raster scan step that computes it.

    Returns:
        Long tensor ``(H, W)``.
    """
    return torch.arange(height * width).view(height, width)  # (H, W)


def _grid_axes(ax, height: int, width: int, xlabel: str, ylabel: str = "row i") -> None:
    """Integer ticks, a cell-sized grid and axis labels for an ``H x W`` cell picture."""
    ax.set_xticks(range(width))
    ax.set_yticks(range(height))
    ax.set_xticks(np.arange(-0.5, width, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, height, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _outline(ax, cells, colour: str = _HIGHLIGHT, width: float = 3.0) -> None:
    """Draw a thick rectangle around each ``(row, col)`` cell."""
    for r, c in cells:
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=colour,
                               linewidth=width, zorder=5))


def _annotate(ax, labels: np.ndarray, fontsize: float = MIN_FONT_PT) -> None:
    """Write ``labels[r, c]`` (skipping empty strings) in the centre of each cell."""
    for (r, c), text in np.ndenumerate(labels):
        if text:
            ax.text(c, r, text, ha="center", va="center", fontsize=fontsize)


# --------------------------------------------------------------------------- chapter 02

def plot_scan_order(height: int = 4, width: int = 6) -> plt.Figure:
    """Step at which each pixel is computed: raster order vs diagonal order (chapter 02).

    Returns:
        Figure with two axes: raster step ``i*W + j`` and diagonal step ``i + j``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    steps = [raster_index(height, width), antidiagonal_index(height, width)]
    titles = [f"Raster order: H·W = {height * width} steps",
              f"Diagonal order: H+W−1 = {height + width - 1} steps"]
    for ax, step, title in zip(axes, steps, titles):
        ax.imshow(step.numpy(), cmap="viridis", alpha=0.8)
        _annotate(ax, step.numpy().astype(str), fontsize=9)
        _grid_axes(ax, height, width, "column j")
        ax.set_title(title)
    fig.suptitle("Which step computes pixel (i, j)?")
    return fig


def _skew_panels(height: int, width: int):
    """Anti-diagonal colours and ``"i,j"`` labels of the grid, before and after skewing."""
    t = antidiagonal_index(height, width).double().view(1, 1, height, width)
    skewed = skew(t + 1)[0, 0] - 1  # (H, H+W-1); -1 marks padding
    labels = np.array([[f"{i},{j}" for j in range(width)] for i in range(height)], dtype=object)
    skew_labels = np.full((height, height + width - 1), "", dtype=object)
    for i in range(height):
        skew_labels[i, i:i + width] = labels[i]  # row i shifted right by i
    return t[0, 0].numpy(), skewed.numpy(), labels, skew_labels


def plot_skew(height: int = 4, width: int = 6, t: Optional[int] = None) -> plt.Figure:
    """A grid coloured by anti-diagonal ``i + j``, before and after skewing (chapter 02).

    Args:
        height, width: grid size ``H, W``.
        t: if given, outline anti-diagonal ``i + j = t`` on the left and column ``t`` of
            the skewed grid on the right.

    Returns:
        Figure with two axes (original ``H x W``, skewed ``H x (H+W-1)``).
    """
    T = height + width - 1
    orig, skewed, labels, skew_labels = _skew_panels(height, width)
    fig, axes = plt.subplots(1, 2, figsize=(4 + 0.9 * (width + T) * 0.75, 0.8 * height + 1.6),
                             gridspec_kw={"width_ratios": [width, T]}, constrained_layout=True)
    cmap = plt.get_cmap("viridis").with_extremes(under=_PAD_COLOUR)
    for ax, values, text in [(axes[0], orig, labels), (axes[1], skewed, skew_labels)]:
        ax.imshow(values, cmap=cmap, vmin=0, vmax=max(T - 1, 1), alpha=0.85)
        _annotate(ax, text, fontsize=MIN_FONT_PT)
    _grid_axes(axes[0], height, width, "column j")
    _grid_axes(axes[1], height, T, "column t = i + j")
    axes[0].set_title(f"Original grid ({height}×{width}), colour = i + j")
    axes[1].set_title(f"Skewed grid ({height}×{T}), grey = zero padding")
    if t is not None:
        cells = [(i, t - i) for i in range(height) if 0 <= t - i < width]
        _outline(axes[0], cells)
        _outline(axes[1], [(i, t) for i, _ in cells])
        fig.suptitle(f"Anti-diagonal i + j = {t} becomes column {t}")
    return fig


def skew_widget(height: int = 4, width: int = 6, max_size: int = 8, static: Optional[bool] = None):
    """Sliders for ``t``, ``H`` and ``W`` redrawing :func:`plot_skew` (chapter 02).

    Live, ``H`` and ``W`` run over ``1..max_size`` and the ``t`` slider's range follows
    ``H + W - 2``. The static book precomputes ``H`` in ``{2, height, 6}`` and ``W`` in
    ``{3, width}``; there a ``t`` past the last anti-diagonal says so in the title.

    Returns:
        What :func:`slider` returns (``static`` as there).
    """
    def draw(t=0, H=height, W=width):
        if t <= H + W - 2:
            return plot_skew(H, W, t=t)
        fig = plot_skew(H, W)
        fig.suptitle(f"No anti-diagonal here: the last one is t = H + W − 2 = {H + W - 2}")
        return fig

    def live():
        import ipywidgets as widgets

        t_slider = widgets.IntSlider(value=0, min=0, max=height + width - 2, description="t")
        h_slider = widgets.IntSlider(value=height, min=1, max=max_size, description="H")
        w_slider = widgets.IntSlider(value=width, min=1, max=max_size, description="W")

        def follow_size(_change=None):
            t_slider.max = h_slider.value + w_slider.value - 2

        h_slider.observe(follow_size, names="value")
        w_slider.observe(follow_size, names="value")
        return {"t": t_slider, "H": h_slider, "W": w_slider}

    def alt(t, H, W):
        outlined = (f"anti-diagonal i + j = {t} outlined, it becomes column {t}" if t <= H + W - 2
                    else f"nothing outlined: t = {t} is past the last anti-diagonal")
        return f"Grid of {H}×{W} pixels and its skewed {H}×{H + W - 1} copy, {outlined}"

    heights = sorted({min(2, max_size), height, min(6, max_size)})
    widths = sorted({min(3, max_size), width})
    return slider(draw, alt, live=live, static=static,
                  t=range(max(heights) + max(widths) - 1), H=heights, W=widths)


# --------------------------------------------------------------------------- chapter 03

def _arrow(ax, start, end, colour: str, text: str = "", offset=(0.0, -0.3)) -> None:
    """Arrow between cell centres given as ``(row, col)``; the label sits at the arrow's
    start, moved by ``offset`` = ``(d_col, d_row)``."""
    (r0, c0), (r1, c1) = start, end
    ax.add_patch(FancyArrowPatch((c0, r0), (c1, r1), arrowstyle="-|>", mutation_scale=18,
                                 color=colour, linewidth=2.5, shrinkA=6, shrinkB=10))
    if text:
        ax.text(c0 + offset[0], r0 + offset[1], text, color=colour, fontsize=9,
                ha="center", va="center", fontweight="bold",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})


def plot_state_taps(height: int = 4, width: int = 5, pixel: Pixel = (2, 2)) -> plt.Figure:
    """Which neighbours feed the state at ``pixel``, in the image and in the skewed map
    (chapter 03). Left: ``h`` and ``c`` come from ``(i, j-1)``, ``h`` from ``(i-1, j)``.
    Right: both sit in column ``t - 1``, rows ``i`` and ``i - 1`` (the 2×1 kernel).

    Returns:
        Figure with two axes.
    """
    i, j = pixel
    T = height + width - 1
    orig, skewed, labels, skew_labels = _skew_panels(height, width)
    fig, axes = plt.subplots(1, 2, figsize=(3 + 0.7 * (width + T), 0.8 * height + 1.6),
                             gridspec_kw={"width_ratios": [width, T]}, constrained_layout=True)
    cmap = plt.get_cmap("Blues").with_extremes(under=_PAD_COLOUR)
    for ax, values, text in [(axes[0], orig, labels), (axes[1], skewed, skew_labels)]:
        ax.imshow(np.where(values >= 0, 0.2, -1), cmap=cmap, vmin=0, vmax=1)  # grey = padding
        _annotate(ax, text)
    _grid_axes(axes[0], height, width, "column j")
    _grid_axes(axes[1], height, T, "column t = i + j")
    t = i + j
    sources = [((i, j - 1), (i, t - 1), PALETTE[0], "h, c (left)", "tap 1: h (+ c)"),
               ((i - 1, j), (i - 1, t - 1), PALETTE[5], "h (above)", "tap 0: h")]
    for src, skew_src, colour, text, tap in sources:
        if src[0] >= 0 and src[1] >= 0:
            _arrow(axes[0], src, (i, j), colour, text, offset=(0.0, 0.32))
            _arrow(axes[1], skew_src, (i, t), colour, tap, offset=(0.0, 0.32))
    _outline(axes[0], [(i, j)], colour="black")  # the arrows carry the palette's colours
    _outline(axes[1], [(i, t)], colour="black")
    axes[0].set_title(f"Image: state at ({i}, {j}) reads its left and upper neighbours")
    axes[1].set_title(f"Skewed map: both neighbours sit in column t−1 = {t - 1}")
    return fig


def plot_receptive_field(field: torch.Tensor, pixel: Pixel, title: Optional[str] = None,
                         ax=None) -> plt.Figure:
    """Draw ``|gradient|`` on a log colour scale (white = exactly zero) and outline ``pixel``
    (chapter 03).

    Args:
        field: ``(H, W)`` from :func:`gradient_field`.
        pixel: the output position ``(i, j)``.
        title: axes title (default names the pixel).
        ax: draw into this axes instead of a new figure.

    Returns:
        The figure holding the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.0), constrained_layout=True)
    values = field.detach().double().numpy()
    nonzero = values[values > 0]
    norm = LogNorm(vmin=nonzero.min(), vmax=nonzero.max()) if nonzero.size else None
    image = ax.imshow(np.ma.masked_equal(values, 0.0), cmap="magma_r", norm=norm)
    H, W = values.shape
    _grid_axes(ax, H, W, "input column j'", "input row i'")
    if H * W > 144:  # ticks on every cell only for small grids
        ax.set_xticks(range(0, W, max(1, W // 6)))
        ax.set_yticks(range(0, H, max(1, H // 6)))
    _outline(ax, [pixel], colour="tab:cyan")
    ax.set_title(title or f"Receptive field of output {tuple(pixel)}")
    if nonzero.size:
        ax.figure.colorbar(image, ax=ax, shrink=0.85, label="|∂ output / ∂ input| (log)")
    return ax.figure


def _positions(n: int, count: Optional[int]) -> list[int]:
    """About ``count`` rows (or columns) of ``0..n-1`` spread evenly, with both ends and
    the middle ``n // 2`` (all of them when ``count`` is ``None`` or at least ``n``)."""
    if count is None or count >= n:
        return list(range(n))
    return sorted({round(k * (n - 1) / max(count - 1, 1)) for k in range(count)} | {n // 2})


def _pixel_sliders(H: int, W: int) -> Callable[[], dict]:
    """Live sliders over every row ``i`` and column ``j``, starting at the centre."""
    def make():
        import ipywidgets as widgets

        return {"i": widgets.IntSlider(H // 2, 0, H - 1, description="i"),
                "j": widgets.IntSlider(W // 2, 0, W - 1, description="j")}
    return make


def receptive_field_widget(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                           channels: Optional[slice] = None, positions: Optional[int] = 6,
                           static: Optional[bool] = None):
    """Sliders for the output pixel ``(i, j)`` redrawing its gradient receptive field
    (chapter 03).

    Args:
        positions: rows and columns the static book precomputes per axis (``None``: all,
            at about 0.3 s per frame); the live sliders always cover every pixel.

    Returns:
        What :func:`slider` returns (``static`` as there); starts at the centre pixel.
    """
    H, W = x.shape[-2:]

    def draw(i=H // 2, j=W // 2):
        return plot_receptive_field(gradient_field(model, x, (i, j), channels), (i, j))

    return slider(draw, "Receptive field of output ({i}, {j}): the inputs it depends on, "
                        "coloured by gradient size", live=_pixel_sliders(H, W), static=static,
                  i=_positions(H, positions), j=_positions(W, positions))


# --------------------------------------------------------------------------- chapter 04

REGION_LABELS = ("neither direction", "forward only", "reverse only", "both")
# grey, blue, orange, reddish purple: distinct for every kind of colour vision (Okabe-Ito)
_REGION_COLOURS = ("#d9d9d9", PALETTE[0], PALETTE[1], PALETTE[3])


def region_map(forward_field: torch.Tensor, reverse_field: torch.Tensor) -> torch.Tensor:
    """Combine two receptive fields into one label map (chapter 04).

    Returns:
        Long tensor ``(H, W)``: 0 neither, 1 forward only, 2 reverse only, 3 both
        (the indices of :data:`REGION_LABELS`).
    """
    return (forward_field > 0).long() + 2 * (reverse_field > 0).long()  # (H, W)


def plot_regions(regions: torch.Tensor, pixel: Pixel, title: Optional[str] = None,
                 ax=None, labels: Sequence[str] = REGION_LABELS) -> plt.Figure:
    """Draw a :func:`region_map` with a legend and the output ``pixel`` outlined (chapter 04).

    Args:
        labels: legend entries for the values 0-3 (default :data:`REGION_LABELS`).

    Returns:
        The figure holding the axes.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 3.6), constrained_layout=True)
    ax.imshow(regions.numpy(), cmap=ListedColormap(_REGION_COLOURS), vmin=-0.5, vmax=3.5)
    H, W = regions.shape
    _grid_axes(ax, H, W, "input column j'", "input row i'")
    if H * W > 144:
        ax.set_xticks(range(0, W, max(1, W // 6)))
        ax.set_yticks(range(0, H, max(1, H // 6)))
    _outline(ax, [pixel], colour="black")
    handles = [Patch(color=c, label=name) for c, name in zip(_REGION_COLOURS, labels)]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=MIN_FONT_PT)
    ax.set_title(title or f"Who sees which input, output {tuple(pixel)}")
    return ax.figure


def plot_direction_fields(forward_field: torch.Tensor, reverse_field: torch.Tensor,
                          pixel: Pixel, suptitle: str = "Diagonal BiLSTM",
                          names: Sequence[str] = ("forward", "reverse")) -> plt.Figure:
    """Three panels: each direction's gradient field, then the region map (chapter 04).

    Returns:
        Figure with three image axes (plus colour bars).
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), constrained_layout=True)
    for ax, field, name in zip(axes, (forward_field, reverse_field), names):
        plot_receptive_field(field, pixel, f"{name} direction sees", ax=ax)  # one panel each
    labels = ("neither direction", f"{names[0]} only", f"{names[1]} only", "both")
    plot_regions(region_map(forward_field, reverse_field), pixel, "Union, and what neither sees",
                 ax=axes[2], labels=labels)
    fig.suptitle(f"{suptitle}: receptive fields of output {tuple(pixel)}")
    return fig


def direction_fields_widget(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                            hidden: int, suptitle: str = "Diagonal BiLSTM",
                            positions: Optional[int] = 5, static: Optional[bool] = None):
    """Sliders for the output pixel redrawing :func:`plot_direction_fields` of a
    two-direction model whose channels ``[:hidden]`` are the forward direction (chapter 04).

    Args:
        positions: rows and columns the static book precomputes per axis (``None``: all);
            the live sliders always cover every pixel.

    Returns:
        What :func:`slider` returns (``static`` as there); starts at the centre pixel.
    """
    H, W = x.shape[-2:]

    def draw(i=H // 2, j=W // 2):
        fwd = gradient_field(model, x, (i, j), slice(0, hidden))
        rev = gradient_field(model, x, (i, j), slice(hidden, None))
        return plot_direction_fields(fwd, rev, (i, j), suptitle)

    return slider(draw, f"{suptitle}: what the two directions of output ({{i}}, {{j}}) see, "
                        "and the inputs neither sees", live=_pixel_sliders(H, W), static=static,
                  i=_positions(H, positions), j=_positions(W, positions))


def plot_coverage(fraction: torch.Tensor, title: str = "Fraction of the input each output sees",
                  ax=None) -> plt.Figure:
    """Heat map of how much of the input each output pixel depends on (chapter 04).

    Args:
        fraction: ``(H, W)`` values in ``[0, 1]``, one per output pixel.

    Returns:
        The figure holding the axes (with a colour bar).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.0), constrained_layout=True)
    image = ax.imshow(fraction.detach().numpy(), cmap="viridis", vmin=0, vmax=1)
    H, W = fraction.shape
    _grid_axes(ax, H, W, "output column j", "output row i")
    if H * W > 144:
        ax.set_xticks(range(0, W, max(1, W // 6)))
        ax.set_yticks(range(0, H, max(1, H // 6)))
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, shrink=0.85, label="fraction of input pixels seen")
    return ax.figure
