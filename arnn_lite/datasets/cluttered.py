"""Cluttered coloured MNIST: the offline stand-in for CIFAR-100 in chapter 12.

One MNIST digit, resized to ``digit_size`` and placed at a random position on a dark
``canvas × canvas`` RGB image, among ``clutter`` pieces cut from other digits (the
"cluttered translated MNIST" of Mnih et al., 2014, in colour). Digit and pieces take
random colours from MBG's palette, so neither colour nor position tells the class: a
classifier has to find the whole digit among strokes, which is what a spatial gate is
for. **Our choice:** fragments avoid the digit's ink (its box less a 3-pixel margin), so
the digit itself stays intact. The digit's box is kept, so the experiment can measure where the masks look.

Items are a function of ``(seed, split, index)``; digit pools as in MBG: train ← MNIST
train[:50000], val ← MNIST train[50000:], test ← MNIST test.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_choice, check_nonnegative, check_positive
from .cifar import ImageTensors
from .mbg import PALETTE, SPLIT_IDS, _digit_pool
from .mnist import load_mnist

__all__ = ["cluttered_mnist", "CLUTTER_MEAN", "CLUTTER_STD"]

_PALETTE = PALETTE.numpy()  # (5, 3), 0..255
CLUTTER_MEAN, CLUTTER_STD = (0.1, 0.1, 0.1), (0.25, 0.25, 0.25)  # rough, fixed: images are mostly dark


@functools.lru_cache(maxsize=3)
def _pool(split: str, digit_size: int):
    """The split's MNIST digits resized once: ``(N, digit_size, digit_size)`` in [0, 1], labels ``(N,)``."""
    digits, _ = _digit_pool(split)  # (N, 28, 28)
    labels = load_mnist("test" if split == "test" else "train")[1]
    labels = labels[50000:] if split == "val" else labels[:len(digits)]
    small = F.interpolate(digits[:, None], size=(digit_size, digit_size), mode="bilinear",
                          antialias=True, align_corners=False)[:, 0].clamp(0, 1)
    return small.numpy(), labels  # numpy: painting small patches is cheaper than in torch


def _paint(canvas, ink, colour, x0, y0):
    """Draw ``ink`` ``(h, w)`` in ``colour`` ``(3,)`` at ``(x0, y0)``: per-channel max."""
    h, w = ink.shape
    patch = canvas[:, y0:y0 + h, x0:x0 + w]  # (3, h, w) view
    np.maximum(patch, ink[None] * colour[:, None, None], out=patch)


def _free_spot(rng, canvas, piece, box, tries=30):
    """A corner ``(x0, y0)`` for a ``piece``-sized fragment that misses the digit's ink
    (its box less a 3-pixel margin, MNIST's empty border), or ``None``."""
    x0, y0, x1, y1 = box[0] + 3, box[1] + 3, box[2] - 3, box[3] - 3
    px, py = rng.integers(0, canvas - piece + 1, (2, tries))  # candidate corners
    free = (px + piece <= x0) | (px >= x1) | (py + piece <= y0) | (py >= y1)
    first = int(np.argmax(free))
    return (int(px[first]), int(py[first])) if free[first] else None


def _item(rng, digits, labels, canvas, clutter, piece):
    """One image ``(3, canvas, canvas)`` float 0..255, its label and digit box."""
    image = rng.uniform(0, 20, (3, canvas, canvas)).astype(np.float32)
    side = digits.shape[-1]
    index = int(rng.integers(len(digits)))
    x0, y0 = (int(v) for v in rng.integers(0, canvas - side + 1, 2))
    box = (x0, y0, x0 + side, y0 + side)
    _paint(image, digits[index], _PALETTE[int(rng.integers(5))], x0, y0)
    for _ in range(clutter):  # fragments of other digits, off the digit itself
        src = digits[int(rng.integers(len(digits)))]
        sy, sx = (int(v) for v in rng.integers(0, side - piece + 1, 2))
        spot = _free_spot(rng, canvas, piece, box)
        if spot is not None:
            _paint(image, src[sy:sy + piece, sx:sx + piece], _PALETTE[int(rng.integers(5))], *spot)
    return image, int(labels[index]), box


def cluttered_mnist(split="train", size=1000, seed=0, canvas=32, digit_size=20, clutter=6,
                    piece=8, augment=False) -> ImageTensors:
    """Build ``size`` cluttered digits of ``split`` in memory.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``; seed: dataset seed.
        canvas: image side; digit_size: side of the resized digit; clutter: number of
            ``piece × piece`` fragments of other digits.

    Returns:
        :class:`~arnn_lite.datasets.cifar.ImageTensors` with ``images (N, 3, canvas,
        canvas)`` uint8, ``labels (N,)`` (the digit) and ``boxes (N, 4)`` ``(x0, y0, x1, y1)``.
    """
    check_choice(split, tuple(SPLIT_IDS), "split")
    for value, name in ((size, "size"), (canvas, "canvas"), (digit_size, "digit_size"), (piece, "piece")):
        check_positive(value, name)
    check_nonnegative(seed, "seed")  # numpy's seed sequence takes no negative entropy
    check_nonnegative(clutter, "clutter")
    if digit_size > canvas or piece > digit_size:
        raise ValueError(f"digit_size, piece: expected piece <= digit_size <= canvas ({canvas}), "
                         f"got piece={piece}, digit_size={digit_size}")
    digits, pool_labels = _pool(split, digit_size)  # (N, s, s), (N,)
    images, labels, boxes = [], [], []
    for i in range(size):
        rng = np.random.default_rng([seed, SPLIT_IDS[split], i, 7])
        image, label, box = _item(rng, digits, pool_labels, canvas, clutter, piece)
        images.append(torch.from_numpy(np.clip(np.rint(image), 0, 255).astype(np.uint8)))
        labels.append(label)
        boxes.append(box)
    return ImageTensors(torch.stack(images), torch.tensor(labels), CLUTTER_MEAN, CLUTTER_STD,
                        augment, torch.tensor(boxes))
