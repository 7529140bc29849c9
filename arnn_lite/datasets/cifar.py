"""CIFAR-100 through torchvision, offline first, and an in-memory image dataset.

Used by the CBAM experiment (chapter 12, ``chapters/12_cbam_classification.ipynb``).
torchvision reads the python-pickle release (folder ``cifar-100-python`` with the files
``train``, ``test`` and ``meta``) and checks each file's MD5 against the official
archive's. ``verify=False`` skips that check, for CIFAR-format files that are not the
official ones (the tests write a tiny one). Nothing is downloaded unless asked
(``download=True``) or on Colab (``download=None``, the default).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .._checks import check_choice
from .mnist import default_root

__all__ = ["FOLDER", "FILES", "CIFAR_MEAN", "CIFAR_STD", "load_cifar100", "ImageTensors",
           "split_train_val"]

FOLDER = "cifar-100-python"
FILES = ("train", "test", "meta")
CIFAR_MEAN = (0.5071, 0.4865, 0.4409)  # per-channel statistics of the CIFAR-100 training set
CIFAR_STD = (0.2673, 0.2564, 0.2762)


def _torchvision_class(verify: bool):
    from torchvision.datasets import CIFAR100

    if verify:
        return CIFAR100

    class UnverifiedCIFAR100(CIFAR100):
        """torchvision's reader with the MD5 checks replaced by "the files exist"."""

        def _check_integrity(self) -> bool:
            return all(os.path.isfile(os.path.join(self.root, self.base_folder, name))
                       for name, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            import pickle
            with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return UnverifiedCIFAR100


def _missing_message(folder: Path, download) -> str:
    why = "download=False" if download is False else "not on Colab; pass download=True to fetch it"
    return (f"CIFAR-100 not found: put the files {', '.join(FILES)} of the python release "
            f"(cifar-100-python.tar.gz, extracted) into {folder} ({why}). "
            "The experiment's --data-root picks another parent folder, --download fetches it.")


def load_cifar100(split: str = "train", root=None, download=None, verify: bool = True):
    """Return ``(images (N, 3, 32, 32) uint8, labels (N,) int64, class names)``.

    Args:
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        root: parent of ``cifar-100-python`` (default ``$ARNN_DATA`` or ``~/.cache/arnn_lite``).
        download: ``True`` fetch if missing; ``False`` never; ``None`` only on Colab.
        verify: check the official MD5 sums (torchvision); ``False`` accepts any
            CIFAR-format files.

    Raises:
        FileNotFoundError: files missing, naming the folder to put them in.
        RuntimeError: files present but not the official ones (MD5 mismatch).
    """
    check_choice(split, ("train", "test"), "split")
    root = Path(root) if root is not None else default_root()
    if download is None:
        from ..book import on_colab
        download = on_colab()
    folder = root / FOLDER
    if not download and not all((folder / name).is_file() for name in FILES):
        raise FileNotFoundError(_missing_message(folder, download))
    try:
        ds = _torchvision_class(verify)(str(root), train=(split == "train"), download=download)
    except RuntimeError as err:
        raise RuntimeError(f"CIFAR-100 files in {folder} failed torchvision's MD5 check ({err}); "
                           "replace them with the official release, or pass verify=False "
                           "for CIFAR-format files of your own.") from None
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 32, 32, 3) -> (N, 3, 32, 32)
    return images, torch.as_tensor(ds.targets, dtype=torch.int64), list(ds.classes)


def split_train_val(count: int, val: int, seed: int = 0):
    """A fixed random split of ``range(count)`` into ``count - val`` and ``val`` indices."""
    if not 0 <= val < count:
        raise ValueError(f"val: expected 0 <= val < {count}, got {val}")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return order[val:], order[:val]


class ImageTensors(Dataset):
    """Images held in memory as uint8, normalised per channel when read.

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
        self.images, self.labels, self.boxes, self.augment = images, labels, boxes, augment
        self.mean = torch.tensor(mean).view(-1, 1, 1)  # (3, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        image = (self.images[i].float() / 255.0 - self.mean) / self.std  # (3, H, W)
        if self.augment:
            H, W = image.shape[-2:]
            padded = torch.nn.functional.pad(image, (4, 4, 4, 4))  # (3, H+8, W+8)
            dy, dx = torch.randint(0, 9, (2,)).tolist()
            image = padded[:, dy:dy + H, dx:dx + W]
            if torch.rand(()) < 0.5:
                image = image.flip(-1)
        item = {"image": image, "label": self.labels[i]}
        if self.boxes is not None:
            item["box"] = self.boxes[i]
        return item
