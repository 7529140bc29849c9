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

**Generator versions.** Version 2 (the default, :data:`GENERATOR_VERSION`) draws every
digit's scale i.i.d., lays the digits out in random order and then queries a digit drawn
uniformly among those placed. Version 1 placed the queried digit first at its drawn
scale and shrank the others to fit, so the queried digit was usually the largest one and
a network that never read the query could answer most items (:func:`shortcut_report`
measures this). ``MBG(..., version=1)`` reproduces version 1 bit for bit: the results
and checkpoints shipped before version 2 were made with it (their configs carry no
``generator_version``; :func:`config_version` reads a missing one as 1).
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

__all__ = ["MBG", "PALETTE", "COLOUR_NAMES", "SCALE_BINS", "scale_bin", "GENERATOR_VERSION", "config_generator",
           "GENERATOR_VERSIONS", "PHOTOS", "VARIANTS", "shortcut_report", "config_version"]

COLOUR_NAMES = ("red", "green", "blue", "yellow", "white")
PALETTE = torch.tensor([(146, 16, 16), (16, 166, 81), (16, 98, 192), (255, 241, 78),
                        (224, 224, 224)], dtype=torch.float32)  # (5, 3), 0..255
SCALE_BINS = ((0.5, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, 2.5), (2.5, 3.0))
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
PAPER_SIZES = {"train": 30000, "val": 10000, "test": 10000}
GENERATOR_VERSION = 2  # goes into cache keys and results configs (DESIGN.md §4)
GENERATOR_VERSIONS = (1, 2)  # every version MBG(..., version=) can reproduce
# Background photos per generator version: ``skimage.data`` functions of the pinned
# scikit-image (0.26) whose files ship in its wheel (no download). Version 1 listed a
# ``motorcycle_left`` that does not exist and skipped it: these are the 19 it used.
# ``stereo_motorcycle`` returns (left, right, disparity); we use the left photograph.
PHOTOS = {1: ("astronaut", "coffee", "chelsea", "rocket", "grass", "gravel", "brick", "camera",
              "moon", "coins", "horse", "page", "text", "hubble_deep_field", "retina",
              "immunohistochemistry", "cell", "clock", "logo")}
PHOTOS[2] = PHOTOS[1][:4] + ("stereo_motorcycle",) + PHOTOS[1][4:]
# The generator settings a run trains and tests on (``--variant`` of arnn_lite.experiments.mbg;
# every results file records them). ``paper``: PAN's MBG (5-9 digits at scales U(0.5, 3.0),
# 17 distractor crops, 4 blobs). ``small``: ours, not the paper's: a CPU-scale variant with
# fewer and larger digits, the query still uniform among the placed digits, fixed before any
# ARNN-vs-CTX comparison was looked at (the findings page, book/findings.ipynb, says why).
# ``narrow``: ``small`` with the scale range narrowed to U(1.0, 2.0): digits of 28-56 px, so
# the queried box is a smaller share of the canvas and a mask at MBGNet's last stage (4×4)
# can put well over twice the uniform share in it (``small``'s boxes capped that ratio near
# 2.4, models.metrics.box_mask_mass); chosen from probes of CTX and NONE only.
VARIANTS = {
    "paper": dict(num_digits=(5, 9), scales=(0.5, 3.0), distractors=17, blobs=4),
    "small": dict(num_digits=(2, 4), scales=(1.0, 3.0), distractors=17, blobs=4),
    "narrow": dict(num_digits=(2, 4), scales=(1.0, 2.0), distractors=17, blobs=4),
}


def scale_bin(scale: float) -> int:
    """Index of the paper's scale bin (0.5–1.0, …, 2.5–3.0) that ``scale`` falls in."""
    return min(int((scale - 0.5) // 0.5), len(SCALE_BINS) - 1)


def _check_version(version) -> int:
    """``version`` if it names a generator version (an int, not a bool), else ``ValueError``."""
    if isinstance(version, bool) or version not in PHOTOS:
        raise ValueError(f"version: expected one of {list(PHOTOS)}, got {version!r}")
    return version


def config_version(config: dict) -> int:
    """The MBG generator version a results config was made with: its ``generator_version``,
    or 1 where it has none (every file written before version 2 existed)."""
    return int(config.get("generator_version", 1))


def config_generator(config: dict) -> dict:
    """The generator settings (:data:`VARIANTS`' keys) a results config was made with, ready
    for ``MBG(**...)`` (JSON lists back to tuples); files written before ``--variant`` existed
    record none and used the paper's."""
    return {k: tuple(config[k]) if isinstance(config.get(k), list) else config.get(k, default)
            for k, default in VARIANTS["paper"].items()}


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> torch.Tensor:
    """One of scikit-image's photographs as a float tensor ``(3, h, w)`` in 0..255."""
    import skimage
    import skimage.data
    try:
        img = getattr(skimage.data, name)()
    except Exception as err:  # a missing photo changes every item: never skip it
        raise RuntimeError(f"background photo {name!r}: scikit-image {skimage.__version__} could not "
                           f"load it ({type(err).__name__}: {err}); MBG needs every photo in PHOTOS, "
                           "from the scikit-image version requirements.txt pins") from err
    img = np.asarray(img[0] if isinstance(img, tuple) else img, dtype=np.float32)
    img = img[..., :3] if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
    if img.max() <= 1.0:
        img = img * 255.0
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)


@functools.lru_cache(maxsize=2)
def _photos(names: tuple) -> list:
    """The photographs ``names`` as float tensors ``(3, h, w)`` in 0..255 (all, or an error)."""
    return [_photo(name) for name in names]


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
        version: the generator version (module docstring); 1 reproduces the data the
            results shipped before version 2 were made with.

    Items are dicts: ``image`` ``(3, canvas, canvas)`` in [0, 1]; ``query`` one-hot
    ``(10,)`` (digit) or ``(5,)`` (colour, inverse); ``label`` int (colour, or digit);
    ``scale`` float; ``box`` ``(4,)`` int ``(x0, y0, x1, y1)`` of the queried digit,
    ``x1``/``y1`` exclusive; ``mask`` ``(1, canvas, canvas)``: its ink (alpha).
    :meth:`placement` gives every placed digit of an item without painting it.
    """

    def __init__(self, split="train", size=None, seed=0, inverse=False, canvas=100,
                 num_digits=(5, 9), scales=(0.5, 3.0), distractors=17, blobs=4,
                 version=GENERATOR_VERSION):
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
        self.version = _check_version(version)

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
        target = 0  # place_digits puts the queried digit first
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
    def background(self, rng, paint=True):
        """A tinted, darkened crop of a random photograph, plus palette blobs.
        ``paint=False`` only draws from ``rng`` (as painting would) and returns ``None``."""
        photos = _photos(PHOTOS[self.version])
        photo = photos[int(rng.integers(len(photos)))]
        _, h, w = photo.shape
        side = int(rng.integers(self.canvas, max(self.canvas, min(h, w)) + 1))
        y, x = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
        tint = rng.uniform(0.3, 0.8, size=(3, 1, 1)).astype(np.float32)
        blobs = [(*rng.uniform(0, self.canvas, 2), *rng.uniform(3, 10, 2), int(rng.integers(5)))
                 for _ in range(self.blobs)]  # (cy, cx, ry, rx, colour) each
        if not paint:
            return None
        crop = F.interpolate(photo[None, :, y:y + side, x:x + side], size=(self.canvas,) * 2,
                             mode="bilinear", antialias=True, align_corners=False)[0]
        image = crop * torch.from_numpy(tint)
        yy, xx = np.mgrid[0:self.canvas, 0:self.canvas].astype(np.float32)  # (S, S) each
        for cy, cx, ry, rx, colour in blobs:
            alpha = torch.from_numpy(0.7 * np.exp(-(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)))
            image = alpha * PALETTE[colour][:, None, None] + (1 - alpha) * image
        return image

    def scatter_distractors(self, rng, image, digits_img):
        """PAN's clutter: 5×5 crops of random MNIST digits in palette colours.
        ``image=None`` only draws from ``rng``, as painting would."""
        for _ in range(self.distractors):
            ink = digits_img[int(rng.integers(len(digits_img)))]
            y, x = rng.integers(4, 19, 2)
            colour = PALETTE[int(rng.integers(5))]
            x0, y0 = rng.integers(0, self.canvas - 5, 2)
            if image is None:
                rng.normal(0, 10, size=(3, 5, 5))  # the noise paint() would draw
            else:
                self.paint(rng, image, ink[y:y + 5, x:x + 5], colour, x0, y0)

    def place_digits(self, rng, attempts=30):
        """Distinct digit classes with non-overlapping boxes ``[(class, side, x0, y0)]``,
        the queried digit first. Each scale is drawn i.i.d. from U(scales); the digits are
        laid out in random order, the first at its drawn scale, each later one shrunk while
        it does not fit (down to the smallest scale), then dropped. A layout that keeps
        fewer than ``num_digits[0]`` digits is redrawn; the last attempt puts the first
        digit in a corner, which leaves the most room. Version 2 then draws the queried
        digit uniformly among the placed ones; version 1 queried the first digit and laid
        out the others largest first, so the queried digit was usually the largest."""
        count = int(rng.integers(self.num_digits[0], self.num_digits[1] + 1))
        classes = rng.choice(10, size=count, replace=False)
        sides = [int(28 * rng.uniform(*self.scales)) for _ in classes]
        if self.version == 1:
            sides = sides[:1] + sorted(sides[1:], reverse=True)
        for attempt in range(attempts):
            corner = attempt == attempts - 1
            placed = self.layout(rng, classes, sides, corner)
            if len(placed) >= min(count, self.num_digits[0]):
                break
        if self.version >= 2:
            target = int(rng.integers(len(placed)))
            placed = [placed[target]] + placed[:target] + placed[target + 1:]
        return placed

    def placement(self, index: int) -> list:
        """Every placed digit of item ``index``, ``[(class, side, x0, y0, colour)]``, the
        queried digit first: the item's random stream replayed without painting (about
        ten times faster than ``self[index]``)."""
        if not 0 <= index < self.size:
            raise IndexError(f"index: expected 0 <= index < {self.size}, got {index}")
        rng = self.rng(index)
        self.background(rng, paint=False)
        self.scatter_distractors(rng, None, _digit_pool(self.split)[0])
        placed = self.place_digits(rng)
        return [(*p, c) for p, c in zip(placed, self.colours(rng, len(placed)))]

    def uniform_share(self, size: int | None = None) -> float:
        """Mean share of the canvas covered by the queried digit's box over the first ``size``
        items (default: all): the mass in that box of a uniform mask, the baseline a learned
        mask's ``mask_mass_in_box`` is read against (from :meth:`placement`, nothing painted)."""
        size = self.size if size is None else min(size, self.size)
        check_positive(size, "size")
        return float(np.mean([self.placement(i)[0][1] ** 2 for i in range(size)])) / self.canvas ** 2

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
        """Colour indices; MBG^inv gives digit 0 (the queried one) a colour no other digit has."""
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


def shortcut_report(ds: MBG, size: int | None = None) -> dict:
    """What a network that never reads the query could exploit, over the first ``size``
    items of ``ds`` (default: all), from :meth:`MBG.placement` (nothing is painted).

    Returns a dict: ``items``, ``version``, ``inverse``; ``bin_shares``: share of queried
    digits in each of the five scale bins; ``target_is_largest``: share of items whose
    queried digit is the largest placed digit, and ``target_is_largest_by_bin`` per bin
    (``None`` for an empty bin); ``largest_baseline``: accuracy of answering with the
    largest digit's colour (MBG^inv: its class), a query-free two-line rule;
    ``chance``: 1 / number of answers; ``digits_kept``: ``{k: share of items with k
    placed digits}``. Ties for the largest side count as a random pick among them (the
    expected value), so a tie never favours the target.
    """
    size = len(ds) if size is None else size
    if not 1 <= size <= len(ds):
        raise ValueError(f"size: expected 1 <= size <= {len(ds)}, got {size}")
    bins, largest, baseline, kept = [], [], [], []
    for index in range(size):
        placed = ds.placement(index)  # [(class, side, x0, y0, colour)], target first
        top = max(side for _, side, *_ in placed)
        tied = [p for p in placed if p[1] == top]
        answer = 0 if ds.inverse else 4  # the tuple field that holds the label
        bins.append(scale_bin(placed[0][1] / 28.0))
        largest.append((placed[0][1] == top) / len(tied))
        baseline.append(np.mean([p[answer] == placed[0][answer] for p in tied]))
        kept.append(len(placed))
    bins, largest = np.array(bins), np.array(largest)
    return {
        "items": size, "version": ds.version, "inverse": ds.inverse,
        "bin_shares": (np.bincount(bins, minlength=len(SCALE_BINS)) / size).tolist(),
        "target_is_largest": float(largest.mean()),
        "target_is_largest_by_bin": [float(largest[bins == b].mean()) if (bins == b).any() else None
                                     for b in range(len(SCALE_BINS))],
        "largest_baseline": float(np.mean(baseline)),
        "chance": 1 / (10 if ds.inverse else 5),
        "digits_kept": {int(k): float(np.mean(np.array(kept) == k)) for k in sorted(set(kept))},
    }
