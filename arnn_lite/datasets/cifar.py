"""CIFAR-100, offline first, read without ever running pickled code; and its in-memory
image dataset (normalised, optionally augmented).

Used by the CBAM experiment (chapter 12, ``chapters/12_cbam_classification.ipynb``).
The python release (folder ``cifar-100-python`` with the files ``train``, ``test`` and
``meta``) is a set of pickles. By default each file's MD5 is checked against the official
archive's (the sums torchvision lists); ``verify=False`` skips that, for CIFAR-format files
that are not the official ones (the tests write a tiny one). Either way the files are read
by a restricted unpickler that builds numpy arrays and plain Python values only, so a
planted file is refused by name instead of run. Nothing is downloaded unless asked
(``download=True`` or ``ARNN_DOWNLOAD=1``) or on Colab (``download=None``, the default).
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
from pathlib import Path

import numpy as np
import torch

from .._checks import check_choice
from .mnist import default_root, download_allowed
from .tensors import TensorDict

__all__ = ["FOLDER", "FILES", "CIFAR_MEAN", "CIFAR_STD", "load_cifar100", "ImageTensors",
           "split_train_val", "read_pickle"]

FOLDER = "cifar-100-python"
FILES = ("train", "test", "meta")
CIFAR_MEAN = (0.5071, 0.4865, 0.4409)  # per-channel statistics of the CIFAR-100 training set
CIFAR_STD = (0.2673, 0.2564, 0.2762)

# What a CIFAR pickle may name: numpy's array/scalar rebuilders and dtype (written by any
# numpy, any protocol; 2 also encodes bytes through _codecs.encode), and plain containers.
# Each builds data from data; none imports, opens or calls anything else.
SAFE_GLOBALS = {
    "numpy": {"ndarray", "dtype"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.numeric": {"_frombuffer"},
    "_codecs": {"encode"},
    "builtins": {"dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
                 "int", "float", "complex", "bool"},
}
_ALIASES = {"numpy.core.multiarray": "numpy._core.multiarray",  # numpy 1.x and Python 2 names
            "numpy.core.numeric": "numpy._core.numeric", "__builtin__": "builtins"}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``SAFE_GLOBALS``; anything else is refused unrun."""

    def find_class(self, module, name):
        canonical = _ALIASES.get(module, module)
        if name not in SAFE_GLOBALS.get(canonical, ()):
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR file holds only numpy arrays and "
                "plain Python values, so this file was not written as one (it could run code)")
        for candidate in (canonical, module):  # numpy 2 names first, then the file's own
            try:
                return getattr(importlib.import_module(candidate), name)
            except (ImportError, AttributeError):
                continue
        raise pickle.UnpicklingError(f"cannot resolve {module}.{name} in this numpy")


def read_pickle(path):
    """Unpickle ``path`` with :class:`_RestrictedUnpickler` (Python 2 strings as latin-1,
    as the official release needs). Raises ``RuntimeError`` naming the file on a refused
    global, an empty or truncated file, or anything else that is not a valid pickle."""
    path = Path(path)
    with open(path, "rb") as f:
        if not f.peek(1):
            raise RuntimeError(f"CIFAR-100 file {path} is empty")
        try:
            return _RestrictedUnpickler(f, encoding="latin1").load()
        except (EOFError, pickle.UnpicklingError, ValueError, TypeError, KeyError,
                AttributeError, IndexError, OverflowError, MemoryError) as err:
            truncated = isinstance(err, EOFError) or "truncated" in str(err)
            why = "is truncated (the pickle ends early)" if truncated else \
                f"is not a CIFAR-100 pickle: {err}"
            raise RuntimeError(f"CIFAR-100 file {path} {why}") from None


def _official_md5() -> dict[str, str]:
    """The official files' MD5 sums, as torchvision lists them."""
    from torchvision.datasets import CIFAR100
    return {**dict(CIFAR100.train_list + CIFAR100.test_list),
            CIFAR100.meta["filename"]: CIFAR100.meta["md5"]}


def _failed_md5(folder: Path) -> list[str]:
    """The names of the files in ``folder`` whose MD5 is not the official one."""
    def md5(path):
        digest = hashlib.md5()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    return [name for name, expected in _official_md5().items() if md5(folder / name) != expected]


def _download(root: Path) -> None:
    """Fetch and extract the official archive into ``root`` (torchvision checks its MD5)."""
    from torchvision.datasets import CIFAR100
    from torchvision.datasets.utils import download_and_extract_archive
    download_and_extract_archive(CIFAR100.url, str(root), filename=CIFAR100.filename,
                                 md5=CIFAR100.tgz_md5)


def _missing_message(folder: Path, download) -> str:
    why = "download=False" if download is False else \
        "not on Colab; pass download=True or set ARNN_DOWNLOAD=1 to fetch it"
    return (f"CIFAR-100 not found: put the files {', '.join(FILES)} of the python release "
            f"(cifar-100-python.tar.gz, extracted) into {folder} ({why}). "
            "The experiment's --data-root picks another parent folder, --download fetches it.")


def _images_and_labels(entry, path: Path):
    """``(N, 3, 32, 32) uint8, (N,) int64`` from a ``train``/``test`` pickle's dict."""
    if not isinstance(entry, dict):
        raise RuntimeError(f"CIFAR-100 file {path}: expected a dict with 'data' and "
                           f"'fine_labels', got {type(entry).__name__}")
    data, labels = entry.get("data"), entry.get("fine_labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise RuntimeError(f"CIFAR-100 file {path}: 'data' must be a uint8 array (N, 3072), "
                           f"got {got}")
    if not isinstance(labels, list) or len(labels) != len(data) \
            or not all(isinstance(v, (int, np.integer)) and 0 <= v < 100 for v in labels):
        raise RuntimeError(f"CIFAR-100 file {path}: 'fine_labels' must be {len(data)} integers "
                           "in 0..99 (one per image)")
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())  # rows: R plane, G, B
    return images, torch.tensor([int(v) for v in labels], dtype=torch.int64)


def _class_names(meta, path: Path) -> list[str]:
    names = meta.get("fine_label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != 100 \
            or not all(isinstance(n, str) for n in names):
        raise RuntimeError(f"CIFAR-100 file {path}: expected a dict whose 'fine_label_names' "
                           "is a list of 100 class names")
    return names


def load_cifar100(split: str = "train", root=None, download=None, verify: bool = True):
    """Return ``(images (N, 3, 32, 32) uint8, labels (N,) int64, class names)``.

    Args:
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        root: parent of ``cifar-100-python`` (default ``$ARNN_DATA`` or ``~/.cache/arnn_lite``).
        download: ``True`` fetch if missing (or, with ``verify``, not the official files);
            ``False`` never; ``None`` only on Colab or with ``ARNN_DOWNLOAD=1``.
        verify: check the official MD5 sums; ``False`` accepts any CIFAR-format files.
            Either way the files are unpickled by :func:`read_pickle`, which refuses
            anything but numpy arrays and plain Python values.

    Raises:
        FileNotFoundError: files missing, naming the folder to put them in.
        RuntimeError: files present but unusable, naming the file: MD5 mismatch, not a
            CIFAR-100 pickle, or a pickle that would load code (refused, never run).
    """
    check_choice(split, ("train", "test"), "split")
    root = Path(root) if root is not None else default_root()
    folder, asked = root / FOLDER, download
    download = download_allowed(download)
    present = all((folder / name).is_file() for name in FILES)
    if download and (not present or (verify and _failed_md5(folder))):
        _download(root)
    elif not present:
        raise FileNotFoundError(_missing_message(folder, asked))
    if verify and (failed := _failed_md5(folder)):
        raise RuntimeError(f"CIFAR-100 files in {folder} failed the MD5 check against the "
                           f"official release ({', '.join(failed)}); replace them with the "
                           "official release, or pass verify=False for CIFAR-format files "
                           "of your own.")
    images, labels = _images_and_labels(read_pickle(folder / split), folder / split)
    return images, labels, _class_names(read_pickle(folder / "meta"), folder / "meta")


def split_train_val(count: int, val: int, seed: int = 0):
    """A fixed random split of ``range(count)`` into ``count - val`` and ``val`` indices."""
    if not 0 <= val < count:
        raise ValueError(f"val: expected 0 <= val < {count}, got {val}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[val:], order[:val]


class ImageTensors(TensorDict):
    """Images held in memory as uint8 (a :class:`~arnn_lite.datasets.tensors.TensorDict`),
    normalised per channel when read.

    Args:
        images: ``(N, 3, H, W)`` uint8; labels: ``(N,)`` int64.
        mean, std: per-channel statistics in ``[0, 1]`` units.
        augment: CIFAR augmentation (4-pixel zero-padded random crop, horizontal flip),
            drawn from torch's global generator so that a resumed run repeats it.
        boxes: optional ``(N, 4)`` target boxes ``(x0, y0, x1, y1)``, returned as ``"box"``.

    Items: ``{"image": (3, H, W) float32, "label": int64[, "box": (4,)]}``.
    """

    def __init__(self, images, labels, mean=CIFAR_MEAN, std=CIFAR_STD, augment=False, boxes=None):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images: expected a uint8 tensor (N, 3, H, W), got {images.dtype} "
                             f"{tuple(images.shape)}")
        super().__init__({"image": images, "label": labels, **({} if boxes is None else {"box": boxes})})
        self.images, self.labels, self.boxes, self.augment = images, labels, boxes, augment
        self.mean = torch.tensor(mean).view(-1, 1, 1)  # (3, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __getitem__(self, i):
        item = super().__getitem__(i)  # image (3, H, W) in [0, 1]
        image = (item["image"] - self.mean) / self.std
        if self.augment:
            H, W = image.shape[-2:]
            padded = torch.nn.functional.pad(image, (4, 4, 4, 4))  # (3, H+8, W+8)
            dy, dx = torch.randint(0, 9, (2,)).tolist()
            image = padded[:, dy:dy + H, dx:dx + W]
            if torch.rand(()) < 0.5:
                image = image.flip(-1)
        item["image"] = image
        return item
