"""Faces with hair colours: a procedural dataset with exact hair masks, and CelebA.

Used by the ModularGAN experiment (chapter 14, ``chapters/14_mgan_hair_colour.ipynb``).

* :class:`SyntheticFaces` draws a cartoon face (background, shoulders, hair style, face
  shape, skin tone, eyes, mouth, optional fringe) with black, blond or brown hair. Every
  pixel is painted by exactly one layer, so the hair mask is pixel-exact: the supplement
  could only *show* MGAN and MGAN+ARNN masks on CelebA, here we can *measure* them.
  Item ``index`` is a function of ``(seed, split, index)`` alone, and
  :meth:`SyntheticFaces.render` draws the same face with another hair colour: the
  ground truth of a hair-colour translation.
* :func:`celeba_hair` reads CelebA (aligned and cropped faces) from a folder the user
  provides, through ``torchvision.datasets.CelebA``, keeping the images with exactly one
  of ``Black_Hair``, ``Blond_Hair``, ``Brown_Hair``. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .._checks import check_choice, check_nonnegative, check_positive

__all__ = ["SyntheticFaces", "HAIR_COLOURS", "HAIR_STYLES", "HAIR_ATTRIBUTES", "celeba_hair",
           "CelebAHair", "CELEBA_FILES", "materialize"]

HAIR_COLOURS = ("black", "blond", "brown")
HAIR_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair")  # CelebA's names, same order
HAIR_STYLES = ("short", "long", "bob", "bun", "curly")
_HAIR_RGB = np.array([(38, 32, 30), (226, 192, 112), (118, 72, 40)], np.float32) / 255  # (3, 3)
_SKIN_RGB = np.array([(250, 220, 195), (236, 190, 150), (205, 150, 110), (160, 110, 75),
                      (115, 80, 60), (240, 205, 170)], np.float32) / 255  # (6, 3)
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
BACKGROUND, BODY, HAIR, FACE, FEATURE = range(5)  # which layer painted a pixel


class SyntheticFaces(Dataset):
    """Procedurally drawn faces with a hair colour label and an exact hair mask.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (disjoint random streams).
        size: number of items.
        seed: dataset seed; ``(seed, split, index)`` fixes an item.
        image_size: side ``S`` of the square image (32 is the book's CPU size).

    Items are dicts: ``image`` ``(3, S, S)`` float32 in [0, 1]; ``hair_mask``
    ``(1, S, S)`` float32 in {0, 1}; ``label`` int (0 black, 1 blond, 2 brown);
    ``attributes`` one-hot ``(3,)``; ``style`` int (index into :data:`HAIR_STYLES`).
    """

    def __init__(self, split="train", size=1000, seed=0, image_size=32):
        check_choice(split, tuple(SPLIT_IDS), "split")
        check_positive(size, "size")
        check_positive(image_size, "image_size")
        check_nonnegative(seed, "seed")  # numpy's seed sequence takes no negative entropy
        if image_size < 16:
            raise ValueError(f"image_size: expected at least 16 pixels, got {image_size}")
        self.split, self.size, self.seed, self.image_size = split, size, seed, image_size

    def __len__(self):
        return self.size

    def rng(self, index: int) -> np.random.Generator:
        """The random stream of one item: a function of (seed, split, index) only."""
        return np.random.default_rng([self.seed, SPLIT_IDS[self.split], index])

    def __getitem__(self, index):
        label = int(self.rng(index).integers(3))
        return self.render(index, label)

    def render(self, index: int, colour: int) -> dict:
        """Item ``index`` drawn with hair colour ``colour`` (0, 1, 2): everything else,
        the hair's shade and texture included, stays as in the original item."""
        if not 0 <= index < self.size:
            raise IndexError(f"index: expected 0 <= index < {self.size}, got {index}")
        check_choice(colour, (0, 1, 2), "colour")
        rng = self.rng(index)
        rng.integers(3)  # the label draw of __getitem__: keep the stream aligned
        image, owner, style = draw_face(rng, self.image_size, colour)
        hair = torch.from_numpy((owner == HAIR).astype(np.float32))[None]  # (1, S, S)
        return {"image": torch.from_numpy(image).permute(2, 0, 1).contiguous(),  # (3, S, S)
                "hair_mask": hair, "label": colour,
                "attributes": torch.eye(3)[colour], "style": style}


def _ellipse(xs, ys, cx, cy, rx, ry):
    return ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0


def _hair_region(rng, xs, ys, cx, cy, rx, ry, style):
    """Boolean ``(S, S)`` region of the hair drawn *behind* the face, by style."""
    head = _ellipse(xs, ys, cx, cy - 0.02, rx + 0.045, ry + 0.04)
    if style == 0:  # short: a cap over the top of the head
        return head & (ys < cy - 0.05)
    if style == 1:  # long: the head plus straight hair down to the shoulders
        sides = (np.abs(xs - cx) < rx + 0.07) & (ys > cy - 0.1) & (ys < cy + ry + 0.12)
        return head | _ellipse(xs, ys, cx, cy - 0.03, rx + 0.07, ry + 0.06) | sides
    if style == 2:  # bob: a rounded helmet cut at the jaw
        return _ellipse(xs, ys, cx, cy, rx + 0.065, ry + 0.05) & (ys < cy + 0.6 * ry)
    if style == 3:  # bun: a cap and a ball on top
        bun = _ellipse(xs, ys, cx + rng.uniform(-0.05, 0.05), cy - ry - 0.06, 0.09, 0.075)
        return (head & (ys < cy - 0.05)) | bun
    theta = np.arctan2(ys - cy, xs - cx)  # curly: a cap with a bumpy outline
    bumps = 1.0 + 0.1 * np.sin(rng.integers(6, 10) * theta + rng.uniform(0, 2 * np.pi))
    curly = ((xs - cx) / ((rx + 0.08) * bumps)) ** 2 + ((ys - cy) / ((ry + 0.06) * bumps)) ** 2 <= 1
    return curly & (ys < cy + 0.3 * ry)


def _hair_colour(rng, xs, colour):
    """Hair pixels' RGB ``(S, S, 3)``: the palette colour, a per-face shade and strands."""
    shade = rng.uniform(0.88, 1.12) * (1 + rng.normal(0, 0.04, 3))  # (3,)
    strands = 1 + 0.12 * np.sin(rng.uniform(40, 70) * xs + rng.uniform(0, 2 * np.pi))  # (S, S)
    return np.clip(_HAIR_RGB[colour] * shade * strands[..., None], 0, 1)


def draw_face(rng, size, colour):
    """Draw one face. Returns ``image (S, S, 3)`` in [0, 1], ``owner (S, S)`` (which
    layer painted each pixel: background, body, hair, face, features) and the style."""
    ys, xs = np.meshgrid((np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size,
                         indexing="ij")  # pixel centres in [0, 1]
    top, bottom = rng.uniform(0.1, 0.95, 3), rng.uniform(0.1, 0.95, 3)
    image = (top + (bottom - top) * ys[..., None]).astype(np.float32)  # (S, S, 3) gradient
    owner = np.full((size, size), BACKGROUND)
    cx, cy = 0.5 + rng.uniform(-0.05, 0.05), 0.52 + rng.uniform(-0.04, 0.04)
    rx, ry = rng.uniform(0.19, 0.24), rng.uniform(0.25, 0.3)
    style = int(rng.integers(len(HAIR_STYLES)))
    skin = np.clip(_SKIN_RGB[rng.integers(len(_SKIN_RGB))] + rng.normal(0, 0.02, 3), 0, 1)
    hair_rgb = _hair_colour(rng, xs, colour)
    fringe = rng.uniform() < 0.5
    fringe_depth = rng.uniform(0.3, 0.5)

    def paint(region, rgb, layer):
        image[region] = rgb[region] if np.ndim(rgb) == 3 else rgb
        owner[region] = layer

    body = _ellipse(xs, ys, cx, cy + ry + 0.32, 0.38, 0.3)
    paint(body, rng.uniform(0.05, 0.95, 3), BODY)  # clothes: any colour, hair-like ones too
    paint(_hair_region(rng, xs, ys, cx, cy, rx, ry, style), hair_rgb, HAIR)
    paint((np.abs(xs - cx) < 0.07) & (ys > cy) & (ys < cy + ry + 0.08), skin * 0.9, FACE)  # neck
    paint(_ellipse(xs, ys, cx, cy, rx, ry), skin, FACE)
    if fringe:  # hair over the forehead, painted over the face
        paint(_ellipse(xs, ys, cx, cy, rx, ry) & (ys < cy - fringe_depth * ry), hair_rgb, HAIR)
    for side in (-1, 1):
        paint(_ellipse(xs, ys, cx + side * 0.09, cy - 0.03, 0.035, 0.03), np.full(3, 0.08), FEATURE)
    paint(_ellipse(xs, ys, cx, cy + 0.15, 0.075, 0.028), np.array([0.62, 0.18, 0.2]), FEATURE)
    noise = rng.normal(0, 0.012, image.shape).astype(np.float32)
    return np.clip(image + noise, 0, 1).astype(np.float32), owner, style


def materialize(dataset, indices=None) -> dict:
    """Stack items into tensors: ``image (N, 3, S, S)``, ``label (N,)`` and, where the
    items have them, ``hair_mask (N, 1, S, S)``."""
    indices = range(len(dataset)) if indices is None else indices
    items = [dataset[i] for i in indices]
    out = {"image": torch.stack([it["image"] for it in items]),
           "label": torch.tensor([int(it["label"]) for it in items])}
    if "hair_mask" in items[0]:
        out["hair_mask"] = torch.stack([it["hair_mask"] for it in items])
    return out


# --------------------------------------------------------------------------- CelebA
CELEBA_FILES = ("list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt",
                "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt")
CELEBA_LAYOUT = ("{root}/celeba/img_align_celeba/000001.jpg, 000002.jpg, ...\n"
                 + "".join(f"{{root}}/celeba/{name}\n" for name in CELEBA_FILES))


def _torchvision_celeba():
    from torchvision.datasets import CelebA

    class _CelebA(CelebA):
        """torchvision's CelebA, checking that its files exist rather than their MD5
        sums (so a trimmed copy, e.g. the tests' tiny folder, loads too)."""

        def _check_integrity(self) -> bool:
            base = os.path.join(self.root, self.base_folder)
            return (all(os.path.isfile(os.path.join(base, f)) for f in CELEBA_FILES)
                    and os.path.isdir(os.path.join(base, "img_align_celeba")))

    return _CelebA


class CelebAHair(Dataset):
    """CelebA faces with exactly one hair-colour attribute, as dicts like
    :class:`SyntheticFaces` (``image (3, S, S)`` in [0, 1], ``label``, ``attributes``),
    without ``hair_mask``: CelebA has none. Build it with :func:`celeba_hair`."""

    def __init__(self, base, keep, transform):
        self.base, self.keep, self.transform = base, keep, transform
        columns = [base.attr_names.index(a) for a in HAIR_ATTRIBUTES]
        self.labels = base.attr[:, columns][keep].argmax(1)  # (N,)

    def __len__(self):
        return len(self.keep)

    def __getitem__(self, i):
        image, _ = self.base[int(self.keep[i])]
        label = int(self.labels[i])
        return {"image": self.transform(image), "label": label, "attributes": torch.eye(3)[label]}


def celeba_hair(root, split="train", image_size=128, crop_size=178) -> CelebAHair:
    """CelebA (aligned, cropped) from the folder ``root``, hair colour as the label.

    StarGAN's and ModularGAN's preprocessing: centre crop ``crop_size``, resize to
    ``image_size``. Only images with exactly one of Black_Hair, Blond_Hair, Brown_Hair
    are kept (label 0, 1, 2).

    Raises:
        FileNotFoundError: naming the expected layout, when files are missing.
    """
    check_choice(split, ("train", "valid", "test", "all"), "split")
    check_positive(image_size, "image_size")
    check_positive(crop_size, "crop_size")
    base_dir = Path(root) / "celeba"
    missing = [f for f in CELEBA_FILES if not (base_dir / f).is_file()]
    if not (base_dir / "img_align_celeba").is_dir():
        missing.insert(0, "img_align_celeba/")
    if missing:
        raise FileNotFoundError(
            f"CelebA not found under {root!s}: missing {', '.join(missing)} in {base_dir}. "
            "Expected layout (the aligned-and-cropped release, unzipped):\n"
            + CELEBA_LAYOUT.format(root=root))
    from torchvision import transforms
    base = _torchvision_celeba()(str(root), split=split, target_type="attr", download=False)
    columns = [base.attr_names.index(a) for a in HAIR_ATTRIBUTES]
    keep = torch.nonzero(base.attr[:, columns].sum(1) == 1).flatten()  # exactly one colour
    transform = transforms.Compose([transforms.CenterCrop(crop_size), transforms.Resize(image_size),
                                    transforms.ToTensor()])
    return CelebAHair(base, keep, transform)
