"""What a mask does, measured against what it should attend to: the metrics of chapters
09, 10 and 14. Every function maps a batch of masks ``(B, 1, h, w)`` and per-image
annotations to one number per image ``(B,)``; the experiments average them and the
exercises check students' versions against them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_rank
from ..datasets.mbg import PALETTE


def mass_in_box(mask, box, canvas):
    """Fraction of each mask's mass inside the queried digit's box, mask upsampled to
    the canvas: ``(B, 1, h, w), (B, 4) -> (B,)``. 1 means all attention on the digit."""
    up = F.interpolate(mask, size=(canvas, canvas), mode="bilinear", align_corners=False)[:, 0]
    inside = _inside(box.to(mask.device), canvas)  # (B, S, S)
    return (up * inside).sum((1, 2)) / up.sum((1, 2)).clamp_min(1e-12)


def box_mask_mass(box, canvas: int, size: int):
    """The most :func:`mass_in_box` a mask of ``size × size`` pixels can reach: the mass in
    the box of the box itself, seen at that resolution (area-averaged, then upsampled like
    any mask): ``(B, 4) -> (B,)``. 1 at the canvas's own resolution; less on a coarse map,
    whose cells straddle the box's edges. A learned mask's mass is read between the
    uniform mask's share and this."""
    inside = _inside(box, canvas).float()[:, None]  # (B, 1, S, S)
    ideal = F.adaptive_avg_pool2d(inside, size)  # (B, 1, size, size)
    return mass_in_box(ideal + 1e-12, box, canvas)  # + ε: a cell outside every box is not 0/0


def ink_coverage(mask, ink, threshold=0.5):
    """Share of the queried digit's ink that a mask covers (chapter 10):
    ``(B, 1, h, w), (B, 1, S, S) -> (B,)``. The mask is upsampled bilinearly to the
    canvas and divided by its maximum; a pixel is covered where that is ``>= threshold``;
    pixels count by their ink (alpha). 1 means the mask lies over the whole digit."""
    up = F.interpolate(mask, size=ink.shape[-2:], mode="bilinear", align_corners=False)
    up = up / up.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)  # (B, 1, S, S), max 1
    return ((up >= threshold).float() * ink).sum((1, 2, 3)) / ink.sum((1, 2, 3)).clamp_min(1e-12)


def same_colour_mass(mask, image, colour, box, tolerance=60.0):
    """Share of a mask's mass on pixels of the queried colour *outside* the digit's box
    (chapter 10): ``(B, 1, h, w), (B, 3, S, S) in [0, 1], (B,) colour indices, (B, 4)
    -> (B,)``. A pixel has the colour when its RGB lies within ``tolerance`` (0..255
    units, Euclidean) of the palette colour. On MBG^inv no other digit has the queried
    colour, so these pixels are background: palette blobs and distractor crops."""
    canvas = image.shape[-1]
    up = F.interpolate(mask, size=(canvas, canvas), mode="bilinear", align_corners=False)[:, 0]
    rgb = PALETTE.to(image.device)[colour] / 255.0  # (B, 3)
    near = (image - rgb[:, :, None, None]).norm(dim=1) * 255.0 < tolerance  # (B, S, S)
    inside = _inside(box, canvas)  # (B, S, S)
    return (up * (near & ~inside)).sum((1, 2)) / up.sum((1, 2)).clamp_min(1e-12)


def _inside(box, canvas):
    """``(B, 4)`` boxes ``(x0, y0, x1, y1)``, ends exclusive -> boolean ``(B, S, S)``."""
    ys = xs = torch.arange(canvas, device=box.device)
    return ((xs[None, None] >= box[:, 0, None, None]) & (xs[None, None] < box[:, 2, None, None]) &
            (ys[None, :, None] >= box[:, 1, None, None]) & (ys[None, :, None] < box[:, 3, None, None]))


def mask_iou(mask, hair, threshold: float = 0.5) -> torch.Tensor:
    """IoU per image of ``mask > threshold`` with the binary ``hair`` mask:
    ``(B, 1, H, W), (B, 1, H, W) -> (B,)``; 1 where both are empty."""
    check_rank(mask, 4, "mask", "(B, 1, H, W)")
    if mask.shape != hair.shape:
        raise ValueError(f"hair: expected the mask's shape {tuple(mask.shape)}, got {tuple(hair.shape)}")
    pred, truth = mask > threshold, hair > 0.5
    inter = (pred & truth).flatten(1).sum(1).float()
    union = (pred | truth).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))
