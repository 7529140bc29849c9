"""Plotting helpers shared by the chapters: images, attention masks, training curves.

Introduced in chapter 01 (``chapters/01_spatial_attention.ipynb``). Every function
returns the matplotlib ``Figure`` (so tests and chapters can inspect or save it) and
labels its axes and titles.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from . import MIN_FONT_PT, PALETTE

__all__ = ["show_images", "show_masks", "show_mask_grid", "plot_history", "plot_bars"]


def _to_numpy_image(img) -> np.ndarray:
    """``(3, H, W)`` or ``(H, W)`` tensor/array -> ``(H, W, 3)`` or ``(H, W)`` numpy."""
    img = img.detach().cpu().numpy() if isinstance(img, torch.Tensor) else np.asarray(img)
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = np.moveaxis(img, 0, -1)  # (H, W, C)
    return img.squeeze(-1) if img.ndim == 3 and img.shape[-1] == 1 else img


def _grid(n, ncols, size):
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.remove()
    return fig, list(axes.flat[:n])


def show_images(images, titles=None, ncols: int = 6, size: float = 2.0, suptitle=None):
    """Show images side by side.

    Args:
        images: ``(N, 3, H, W)`` or ``(N, H, W)`` tensor, or a list of such images.
        titles: ``N`` strings (optional); ncols: images per row; size: inches per image.

    Returns:
        The ``Figure`` with ``N`` axes.
    """
    fig, axes = _grid(len(images), ncols, size)
    for k, (ax, img) in enumerate(zip(axes, images)):
        ax.imshow(np.clip(_to_numpy_image(img), 0, 1), interpolation="nearest")
        ax.set_title(titles[k] if titles is not None else f"image {k}", fontsize=9)
        ax.set_xlabel("x (column)", fontsize=MIN_FONT_PT)
        ax.set_ylabel("y (row)", fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _mask_image(mask, shape):
    """Mask ``(1, h, w)``/``(h, w)`` -> numpy ``(H, W)`` upsampled (nearest) to ``shape``."""
    m = torch.as_tensor(mask).detach().float().cpu().reshape(1, 1, *np.shape(mask)[-2:])
    return F.interpolate(m, size=shape, mode="nearest")[0, 0].numpy()


def show_masks(masks, images=None, titles=None, ncols: int = 6, size: float = 2.2,
               alpha: float = 0.6, normalize: bool = True, colorbar: bool = True,
               suptitle=None, cmap: str = "magma"):
    """Overlay attention masks on their images.

    Args:
        masks: ``(N, 1, h, w)`` masks (upsampled to the image size for display).
        images: ``(N, 3, H, W)`` images to draw underneath, or ``None`` (mask only).
        titles: ``N`` strings; alpha: mask opacity over the image.
        normalize: divide each mask by its maximum, so sigmoid and softmax masks share
            one colour scale in [0, 1].
        colorbar: one colour bar per row of panels.

    Returns:
        The ``Figure``; its first ``N`` axes are the panels.
    """
    fig, axes = _grid(len(masks), ncols, size)
    for k, ax in enumerate(axes):
        shape = tuple(images[k].shape[-2:]) if images is not None else tuple(masks[k].shape[-2:])
        m = _mask_image(masks[k], shape)
        if normalize:
            m = m / max(m.max(), 1e-12)
        if images is not None:
            ax.imshow(np.clip(_to_numpy_image(images[k]), 0, 1), interpolation="nearest")
        im = ax.imshow(m, cmap=cmap, vmin=0, vmax=1 if normalize else None,
                       alpha=alpha if images is not None else 1.0, interpolation="nearest")
        ax.set_title(titles[k] if titles is not None else f"mask {k}", fontsize=9)
        ax.set_xlabel("x (column)", fontsize=MIN_FONT_PT)
        ax.set_ylabel("y (row)", fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
        if colorbar and (k % min(ncols, len(masks)) == min(ncols, len(masks)) - 1 or k == len(masks) - 1):
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                         label="mask / max" if normalize else "mask")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_mask_grid(rows: dict, images, col_titles=None, size: float = 2.0, alpha: float = 0.6,
                   suptitle=None, cmap: str = "magma"):
    """One row per model: the first column shows the images, the others each model's masks.

    Args:
        rows: ``{model name: masks (N, 1, h, w)}``.
        images: ``(N, 3, H, W)``; col_titles: ``N`` strings (e.g. the query).

    Returns:
        The ``Figure`` with ``(len(rows) + 1) * N`` axes.
    """
    n, names = len(images), list(rows)
    fig, axes = plt.subplots(len(names) + 1, n, figsize=(size * n, size * (len(names) + 1)), squeeze=False)
    for j in range(n):
        axes[0, j].imshow(np.clip(_to_numpy_image(images[j]), 0, 1), interpolation="nearest")
        axes[0, j].set_title(col_titles[j] if col_titles else f"example {j}", fontsize=9)
        for i, name in enumerate(names, start=1):
            m = _mask_image(rows[name][j], tuple(images[j].shape[-2:]))
            axes[i, j].imshow(m / max(m.max(), 1e-12), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    for i, name in enumerate(["image"] + names):
        axes[i, 0].set_ylabel(name, fontsize=10)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    for j in range(n):
        axes[-1, j].set_xlabel("x (column)", fontsize=MIN_FONT_PT)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _smooth(values, window):
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_history(histories: dict, key: str = "loss", window: int = 20, title=None, ylabel=None):
    """Training curves, one line per run, smoothed with a moving average.

    Args:
        histories: ``{run name: history dict}`` as returned by ``train_toy``
            (lists under ``"step"`` and ``key``).
        key: which curve (``"loss"`` or ``"accuracy"``); window: moving-average length.

    Returns:
        The ``Figure`` (one axis).
    """
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, hist in histories.items():
        y = _smooth(hist[key], window)
        # Hundreds of points: a marker on every one would blur into a thick line, so each
        # run's marker (the book's cycle gives every run its own) is drawn ten times.
        ax.plot(np.asarray(hist["step"])[len(hist[key]) - len(y):], y, label=name,
                markevery=max(1, len(y) // 10))
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel or f"{key} (moving average of {window} steps)")
    ax.set_title(title or f"Training {key}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_bars(values: dict, ylabel: str, title: str, fmt: str = "{:.2f}"):
    """A labelled bar chart of one number per model, value written on each bar.

    Returns:
        The ``Figure`` (one axis).
    """
    fig, ax = plt.subplots(figsize=(1.2 * len(values) + 2, 3.2))
    bars = ax.bar(list(values), list(values.values()), color=PALETTE[0])
    for bar, v in zip(bars, values.values()):
        ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=MIN_FONT_PT)
    ax.set_xlabel("model")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig
