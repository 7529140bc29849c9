"""Datasets held in memory as a dict of equal-length tensors: the one in-memory dataset
of the package, with a disk cache for generated splits.

Item ``i`` of a :class:`TensorDict` is ``{key: tensor[i]}``. An image stored as uint8 (a
quarter of float32's memory) reads as float32 in [0, 1]. :class:`CachedSplit` generates
such a dict once from a dataset of dict items (MBG, the VQA scenes) and caches it on
disk; :class:`~arnn_lite.datasets.cifar.ImageTensors` adds per-channel normalisation and
CIFAR augmentation.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..train import load_checkpoint, save_checkpoint

__all__ = ["TensorDict", "CachedSplit", "stack_items"]


def _check_tensors(data, name: str, keys=None) -> None:
    """``ValueError`` (naming ``name``) unless ``data`` is a dict of tensors of one length
    (with exactly ``keys``, when given)."""
    if not isinstance(data, dict) or not data or (keys is not None and set(data) != set(keys)) or \
            not all(isinstance(v, torch.Tensor) and v.dim() > 0 for v in data.values()):
        got = ({k: type(v).__name__ for k, v in data.items()} if isinstance(data, dict)
               else type(data).__name__)
        wanted = f" with keys {sorted(keys)}" if keys is not None else ""
        raise ValueError(f"{name}: expected a non-empty dict of tensors{wanted}, got {got}")
    lengths = {k: len(v) for k, v in data.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{name}: expected tensors of one length, got lengths {lengths}")


class TensorDict(Dataset):
    """A dataset of ``{key: tensor[i]}`` items from a dict of equal-length tensors.

    Args:
        data: ``{key: (N, ...) tensor}``; an ``"image"`` stored as uint8 reads as float32
            in [0, 1] (``image[i] / 255``).
    """

    def __init__(self, data: dict):
        _check_tensors(data, "data")
        self.data = data

    def __len__(self):
        return len(next(iter(self.data.values())))

    def __getitem__(self, i):
        item = {k: v[i] for k, v in self.data.items()}
        if item.get("image") is not None and item["image"].dtype == torch.uint8:
            item["image"] = item["image"].float() / 255.0  # (3, H, W) in [0, 1]
        return item


def stack_items(source, keys, indices=None) -> dict:
    """``{key: (N, ...) tensor}``: the items ``source[i]`` (dicts) stacked, for ``i`` in
    ``indices`` (default: all)."""
    indices = range(len(source)) if indices is None else indices
    items = [source[i] for i in indices]
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in keys}


class CachedSplit(TensorDict):
    """A generated split, its items stacked into tensors once (images as uint8) and cached
    at ``path`` (``None``: no cache). Items come back with images as floats in [0, 1].

    The cache (a dict of tensors, written atomically by
    :func:`~arnn_lite.train.save_checkpoint`) is rebuilt with a warning naming the file
    when it cannot be read or does not hold such a split (a disk error, a write from older
    code)."""

    def __init__(self, source, keys, path=None):
        if path is not None and Path(path).exists():
            try:
                super().__init__(_load_cache(path, keys))
                return
            except ValueError as err:
                warnings.warn(f"{err}; rebuilding the cache", stacklevel=2)
        data = stack_items(source, keys)
        data["image"] = (data["image"] * 255).round().to(torch.uint8)  # (N, 3, H, W)
        super().__init__(data)
        if path is not None:
            save_checkpoint(data, path)


def _load_cache(path, keys) -> dict:
    """The cached split at ``path``: a dict of tensors, one per key, all of the same length,
    the images uint8. ``ValueError`` naming the file otherwise."""
    data = load_checkpoint(path)  # CheckpointError (a ValueError) when unreadable
    _check_tensors(data, str(path), keys)
    if data["image"].dtype != torch.uint8:
        raise ValueError(f"{path}: expected 'image' as uint8, got {data['image'].dtype}")
    return data
