"""Checkers for chapter 10, MBG^inv (``chapters/10_mbg_inverse.ipynb``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..datasets.mbg import PALETTE
from ..models.metrics import ink_coverage, same_colour_mass
from . import ExerciseError, cases, check_close, check_shape, passed, rng, run_student

__all__ = ["check_ink_coverage", "check_same_colour_mass", "ink_cases", "colour_cases"]


def ink_cases():
    """``(mask, ink)`` pairs: masks well below 1 (so their maximum matters), soft ink."""
    g = rng(10)
    out = []
    for h, canvas in cases([(4, 40), (10, 60)], [(6, 48)]):
        mask = 0.4 * torch.rand(3, 1, h, h, generator=g)  # (B, 1, h, h), maxima below 0.5
        ink = torch.rand(3, 1, canvas, canvas, generator=g)
        ink = ink * (ink > 0.6)  # (B, 1, S, S): soft strokes, zero elsewhere
        out.append((mask, ink))
    return out


def _ink_mistakes(mask, ink):
    """What common slips return, so the checker can name the slip."""
    up = F.interpolate(mask, size=ink.shape[-2:], mode="bilinear", align_corners=False)
    scaled = up / up.amax(dim=(2, 3), keepdim=True)
    near = F.interpolate(mask, size=ink.shape[-2:], mode="nearest")
    near = near / near.amax(dim=(2, 3), keepdim=True)
    cover = (scaled >= 0.5).float()
    return {
        "Divide each example's upsampled mask by its own maximum before thresholding.":
            ((up >= 0.5).float() * ink).sum((1, 2, 3)) / ink.sum((1, 2, 3)).clamp_min(1e-12),
        "Weight each pixel by its ink (alpha), not by whether it has any ink.":
            (cover * (ink > 0)).sum((1, 2, 3)) / (ink > 0).sum((1, 2, 3)).clamp_min(1),
        "Upsample bilinearly (mode='bilinear', align_corners=False), not with 'nearest'.":
            ((near >= 0.5).float() * ink).sum((1, 2, 3)) / ink.sum((1, 2, 3)).clamp_min(1e-12),
    }


def _explain(name, got, expected, mistakes, generic):
    for hint, wrong in mistakes.items():
        if got.shape == wrong.shape and torch.allclose(got, wrong, atol=1e-4) and \
                not torch.allclose(wrong, expected, atol=1e-4):
            raise ExerciseError(f"{name}: your values {got.tolist()} are what a common slip gives. {hint}")
    check_close(name, got, expected, atol=1e-4, hint=generic)


def check_ink_coverage(ink_coverage_fn) -> None:
    """Exercise ex-10-ink-coverage: the ink-weighted share of the digit under the mask."""
    for mask, ink in ink_cases():
        got = run_student(ink_coverage_fn, mask.clone(), ink.clone(), name="ink_coverage",
                          forbid=[ink_coverage])
        got = torch.as_tensor(got).float()
        check_shape("ink_coverage", got, (mask.shape[0],), "Return one value per example.")
        _explain(f"ink_coverage on a {mask.shape[-1]}x{mask.shape[-1]} mask", got,
                 ink_coverage(mask, ink), _ink_mistakes(mask, ink),
                 "Upsample, divide by the maximum, threshold at >= 0.5, then sum ink over covered pixels / total ink.")
    passed("ink_coverage agrees with arnn_lite.experiments.mbg.ink_coverage.")


def colour_cases():
    """``(mask, image, colour, box)``: palette-coloured pixels inside and outside the box."""
    g = rng(11)
    B, S = 3, 24
    image = 0.3 * torch.rand(B, 3, S, S, generator=g)  # dark background
    colour = torch.tensor([0, 3, 4])
    box = torch.tensor([[2, 3, 12, 14], [10, 0, 24, 9], [5, 5, 6, 6]])
    for b in range(B):
        rgb = PALETTE[colour[b]] / 255.0
        spots = torch.rand(S, S, generator=g) > 0.7  # (S, S) pixels painted in the colour
        image[b][:, spots] = (rgb[:, None] + 0.02 * torch.randn(3, int(spots.sum()), generator=g)).clamp(0, 1)
    mask = torch.rand(B, 1, 6, 6, generator=g)
    return mask, image, colour, box


def _colour_mistakes(mask, image, colour, box):
    S = image.shape[-1]
    up = F.interpolate(mask, size=(S, S), mode="bilinear", align_corners=False)[:, 0]
    near = (image - PALETTE[colour][:, :, None, None] / 255.0).norm(dim=1) * 255.0 < 60.0
    unscaled = (image - PALETTE[colour][:, :, None, None] / 255.0).norm(dim=1) < 60.0
    outside = torch.ones_like(near)
    for b, (x0, y0, x1, y1) in enumerate(box.tolist()):
        outside[b, y0:y1, x0:x1] = False
    total = up.sum((1, 2))
    return {
        "Leave out the pixels inside the target's box: only background counts.":
            (up * near).sum((1, 2)) / total,
        "Measure the colour distance in 0..255 units: multiply the [0, 1] difference by 255.":
            (up * (unscaled & outside)).sum((1, 2)) / total,
        "Divide by the mask's total mass (over the whole image), not by the mass on the coloured pixels.":
            (up * (near & outside)).sum((1, 2)) / (up * near).sum((1, 2)).clamp_min(1e-12),
    }


def check_same_colour_mass(same_colour_mass_fn) -> None:
    """Exercise ex-10-same-colour: mask mass on queried-colour pixels outside the box."""
    mask, image, colour, box = colour_cases()
    got = run_student(same_colour_mass_fn, mask.clone(), image.clone(), colour.clone(), box.clone(),
                      name="same_colour_mass", forbid=[same_colour_mass])
    got = torch.as_tensor(got).float()
    check_shape("same_colour_mass", got, (mask.shape[0],), "Return one value per example.")
    _explain("same_colour_mass", got, same_colour_mass(mask, image, colour, box),
             _colour_mistakes(mask, image, colour, box),
             "Upsample bilinearly to the canvas; coloured = distance*255 < tolerance; "
             "outside = not in [x0, x1) x [y0, y1).")
    passed("same_colour_mass agrees with arnn_lite.experiments.mbg.same_colour_mass.")
