"""MBG: MNIST digits in colours on cluttered photographic backgrounds (DESIGN.md §4).

Chapter 08 (``chapters/08_mbg_dataset.ipynb``) builds it step by step. The recipe follows
Progressive Attention Networks (PAN): a 100×100 canvas, 5–9 distinct MNIST digits at
scales U(0.5, 3.0) (side ``int(28 s)``), no overlap, five colours plus N(0, 10) noise,
and 17 distractor 5×5 MNIST crops. **Reconstruction:** the background is a tinted crop
of a real photograph shipped with scikit-image, plus blobs in the palette colours, so
that colour alone cannot find the digit.

Each item is generated from ``(seed, split, index)`` alone, so the dataset needs no
storage and two splits never share an item. Digit images come from disjoint MNIST
pools: train ← MNIST train[:50000], val ← MNIST train[50000:], test ← MNIST test.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .._checks import check_choice, check_nonnegative, check_positive
from .mnist import load_mnist

__all__ = ["MBG", "PALETTE", "COLOUR_NAMES", "SCALE_BINS", "scale_bin"]

COLOUR_NAMES = ("red", "green", "blue", "yellow", "white")
PALETTE = torch.tensor([(146, 16, 16), (16, 166, 81), (16, 98, 192), (255, 241, 78),
                        (224, 224, 224)], dtype=torch.float32)  # (5, 3), 0..255
SCALE_BINS = ((0.5, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, 2.5), (2.5, 3.0))
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
PAPER_SIZES = {"train": 30000, "val": 10000, "test": 10000}
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "grass", "gravel",
          "brick", "camera", "moon", "coins", "horse", "page", "text", "hubble_deep_field",
          "retina", "immunohistochemistry", "cell", "clock", "logo")


def scale_bin(scale: float) -> int:
    """Index of the paper's scale bin (0.5–1.0, …, 2.5–3.0) that ``scale`` falls in."""
    return min(int((scale - 0.5) // 0.5), len(SCALE_BINS) - 1)


@functools.lru_cache(maxsize=1)
def _photos():
    """The shipped photographs as float tensors ``(3, h, w)`` in 0..255."""
    import skimage.data
    photos = []
    for name in PHOTOS:
        try:
            img = np.asarray(getattr(skimage.data, name)(), dtype=np.float32)
        except Exception:  # a photo that would need a download: skip it
            continue
        img = img[..., :3] if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
        if img.max() <= 1.0:
            img = img * 255.0
        photos.append(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1))
    return photos


@functools.lru_cache(maxsize=3)
def _digit_pool(split: str):
    """MNIST images and, for each class, the indices of its images in the split's pool."""
    images, labels = load_mnist("test" if split == "test" else "train")
    if split != "test":
        images, labels = (images[:50000], labels[:50000]) if split == "train" else \
                         (images[50000:], labels[50000:])
    by_class = [torch.nonzero(labels == d).flatten().numpy() for d in range(10)]
    return images.float() / 255.0, by_class  # (N, 28, 28)


def _resize(img: torch.Tensor, side: int) -> torch.Tensor:
    """``(h, w)`` -> ``(side, side)`` with bilinear, antialiased resampling."""
    return F.interpolate(img[None, None], size=(side, side), mode="bilinear",
                         antialias=True, align_corners=False)[0, 0].clamp(0, 1)


def _check_pair(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a ``(low, high)`` pair of numbers."""
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"{name}: expected a (low, high) pair of numbers, got {value!r}")


class MBG(Dataset):
    """The MBG (and, with ``inverse=True``, MBG^inv) dataset.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        size: number of items (default: the paper's 30k / 10k / 10k).
        seed: dataset seed; ``(seed, split, index)`` fixes an item.
        inverse: MBG^inv: query a colour held by exactly one digit, label that digit.
        canvas: side of the square image.
        num_digits: inclusive range of digits per image.
        scales: range of digit scales (side ``int(28 * s)``).
        distractors: number of 5×5 MNIST crops scattered as clutter.
        blobs: number of palette-coloured blobs in the background.

    Items are dicts: ``image`` ``(3, canvas, canvas)`` in [0, 1]; ``query`` one-hot
    ``(10,)`` (digit) or ``(5,)`` (colour, inverse); ``label`` int (colour, or digit);
    ``scale`` float; ``box`` ``(4,)`` int ``(x0, y0, x1, y1)`` of the queried digit,
    ``x1``/``y1`` exclusive; ``mask`` ``(1, canvas, canvas)``: its ink (alpha).
    """

    def __init__(self, split="train", size=None, seed=0, inverse=False, canvas=100,
                 num_digits=(5, 9), scales=(0.5, 3.0), distractors=17, blobs=4):
        check_choice(split, tuple(SPLIT_IDS), "split")
        size = PAPER_SIZES[split] if size is None else size
        check_positive(size, "size")
        check_positive(canvas, "canvas")
        check_nonnegative(seed, "seed")  # numpy's seed sequence takes no negative entropy
        check_nonnegative(distractors, "distractors")
        check_nonnegative(blobs, "blobs")
        _check_pair(num_digits, "num_digits")
        _check_pair(scales, "scales")
        lo, hi = num_digits
        if not (1 <= lo <= hi <= 10):
            raise ValueError(f"num_digits: expected 1 <= low <= high <= 10, got {num_digits}")
        if not (0 < scales[0] <= scales[1]) or int(28 * scales[1]) > canvas:
            raise ValueError(f"scales: expected 0 < low <= high with 28*high <= canvas={canvas}, got {scales}")
        if int(28 * scales[0]) < 1:
            raise ValueError(f"scales: expected int(28 * low) >= 1 (a digit of at least one "
                             f"pixel), got {scales}")
        if distractors and canvas < 6:
            raise ValueError(f"canvas: expected at least 6 pixels to scatter 5×5 distractors "
                             f"(or distractors=0), got {canvas}")
        self.split, self.size, self.seed, self.inverse = split, size, seed, inverse
        self.canvas, self.num_digits, self.scales = canvas, num_digits, scales
        self.distractors, self.blobs = distractors, blobs

    def __len__(self):
        return self.size

    def rng(self, index: int) -> np.random.Generator:
        """The random stream of one item: a function of (seed, split, index, inverse) only."""
        return np.random.default_rng([self.seed, SPLIT_IDS[self.split], index, int(self.inverse)])

    def __getitem__(self, index):
        if not 0 <= index < self.size:
            raise IndexError(f"index: expected 0 <= index < {self.size}, got {index}")
        rng = self.rng(index)
        digits_img, by_class = _digit_pool(self.split)
        image = self.background(rng)  # (3, S, S) in 0..255
        self.scatter_distractors(rng, image, digits_img)
        placed = self.place_digits(rng)
        colours = self.colours(rng, len(placed))
        masks = []
        for (digit, side, x0, y0), colour in zip(placed, colours):
            ink = _resize(digits_img[int(rng.choice(by_class[digit]))], side)  # (side, side)
            masks.append(self.paint(rng, image, ink, PALETTE[colour], x0, y0))
        target = 0  # the digit placed first (see _place_digits)
        digit, side, x0, y0 = placed[target]
        query = torch.zeros(5 if self.inverse else 10)
        query[colours[target] if self.inverse else digit] = 1.0
        return {
            "image": (image / 255.0).clamp(0, 1).float(),  # blobs are computed in float64
            "query": query,
            "label": digit if self.inverse else int(colours[target]),
            "scale": side / 28.0,
            "box": torch.tensor([x0, y0, x0 + side, y0 + side]),
            "mask": masks[target][None],
        }

    # -- the steps of one item, each a few lines ------------------------------------
    def background(self, rng):
        """A tinted, darkened crop of a random photograph, plus palette blobs."""
        photo = _photos()[int(rng.integers(len(_photos())))]
        _, h, w = photo.shape
        side = int(rng.integers(self.canvas, max(self.canvas, min(h, w)) + 1))
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        crop = F.interpolate(photo[None, :, y:y + side, x:x + side], size=(self.canvas,) * 2,
                             mode="bilinear", antialias=True, align_corners=False)[0]
        tint = torch.from_numpy(rng.uniform(0.3, 0.8, size=(3, 1, 1)).astype(np.float32))
        image = crop * tint
        yy, xx = np.mgrid[0:self.canvas, 0:self.canvas].astype(np.float32)  # (S, S) each
        for _ in range(self.blobs):
            cy, cx = rng.uniform(0, self.canvas, 2)
            ry, rx = rng.uniform(3, 10, 2)
            alpha = torch.from_numpy(0.7 * np.exp(-(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)))
            image = alpha * PALETTE[int(rng.integers(5))][:, None, None] + (1 - alpha) * image
        return image

    def scatter_distractors(self, rng, image, digits_img):
        """PAN's clutter: 5×5 crops of random MNIST digits in palette colours."""
        for _ in range(self.distractors):
            ink = digits_img[int(rng.integers(len(digits_img)))]
            y, x = rng.integers(4, 19, 2)
            self.paint(rng, image, ink[y:y + 5, x:x + 5], PALETTE[int(rng.integers(5))],
                        *rng.integers(0, self.canvas - 5, 2))

    def place_digits(self, rng, attempts=30):
        """Distinct digit classes with non-overlapping boxes. The first is the target and
        keeps its scale ~ U(scales) (so per-scale bins are balanced); the others, largest
        first, are shrunk while they do not fit (down to the smallest scale), then dropped.
        A layout that keeps fewer than ``num_digits[0]`` digits is redrawn; the last
        attempt puts the target in a corner, which leaves the most room."""
        count = int(rng.integers(self.num_digits[0], self.num_digits[1] + 1))
        classes = rng.choice(10, size=count, replace=False)
        sides = [int(28 * rng.uniform(*self.scales)) for _ in classes]
        sides = sides[:1] + sorted(sides[1:], reverse=True)
        for attempt in range(attempts):
            corner = attempt == attempts - 1
            placed = self.layout(rng, classes, sides, corner)
            if len(placed) >= min(count, self.num_digits[0]):
                break
        return placed

    def layout(self, rng, classes, sides, corner=False):
        far = self.canvas - sides[0]
        spot = tuple(int(v) for v in rng.choice([0, far], 2)) if corner else \
            self.free_spot(rng, sides[0], [])
        placed, smallest = [(int(classes[0]), sides[0], *spot)], int(28 * self.scales[0])
        for digit, side in zip(classes[1:], sides[1:]):
            while side >= smallest:
                spot = self.free_spot(rng, side, placed)
                if spot is not None:
                    placed.append((int(digit), side, *spot))
                    break
                side = int(side * 0.85)
        return placed

    def free_spot(self, rng, side, placed, tries=60):
        """A top-left corner whose box overlaps no placed box, or ``None``."""
        corners = rng.integers(0, self.canvas - side + 1, size=(tries, 2))  # (tries, 2): x0, y0
        if not placed:
            return tuple(int(v) for v in corners[0])
        boxes = np.array([(px, py, ps) for _, ps, px, py in placed])  # (P, 3)
        x0, y0 = corners[:, None, 0], corners[:, None, 1]  # (tries, 1)
        apart = ((x0 >= boxes[:, 0] + boxes[:, 2]) | (boxes[:, 0] >= x0 + side) |
                 (y0 >= boxes[:, 1] + boxes[:, 2]) | (boxes[:, 1] >= y0 + side))  # (tries, P)
        free = np.flatnonzero(apart.all(axis=1))
        return tuple(int(v) for v in corners[free[0]]) if len(free) else None

    def colours(self, rng, count):
        """Colour indices; MBG^inv gives digit 0 a colour no other digit has."""
        if not self.inverse:
            return [int(c) for c in rng.integers(5, size=count)]
        target = int(rng.integers(5))
        others = [c for c in range(5) if c != target]
        return [target] + [others[int(i)] for i in rng.integers(4, size=count - 1)]

    @staticmethod
    def paint(rng, image, ink, colour, x0, y0):
        """Alpha-blend ``ink`` ``(h, w)`` in ``colour`` + N(0, 10) noise at ``(x0, y0)``."""
        h, w = ink.shape
        noisy = colour[:, None, None] + torch.from_numpy(
            rng.normal(0, 10, size=(3, h, w)).astype(np.float32))  # (3, h, w)
        region = image[:, y0:y0 + h, x0:x0 + w]
        image[:, y0:y0 + h, x0:x0 + w] = ink * noisy + (1 - ink) * region
        full = torch.zeros(image.shape[1:])
        full[y0:y0 + h, x0:x0 + w] = ink
        return full  # (S, S): where this ink lies on the canvas
