"""Checkers for chapter 01 (``chapters/01_spatial_attention.ipynb``)."""

from __future__ import annotations

import torch

from ..attention import normalize
from . import ExerciseError, cases, check_close, check_shape, passed, rng, run_student

__all__ = ["check_spatial_softmax", "check_total_variation"]


def _inputs():
    g = rng(1)
    return [torch.randn(2, 1, 3, 5, generator=g) * 3, torch.randn(1, 1, 4, 4, generator=g),
            torch.randn(3, 1, 6, 1, generator=g) * 5,
            *cases([], [torch.randn(2, 1, 7, 3, generator=g) * 4, torch.randn(1, 1, 1, 9, generator=g)])]


def check_spatial_softmax(fn) -> None:
    """``fn(logits (B, 1, H, W)) -> mask (B, 1, H, W)``: softmax over all ``H * W`` positions."""
    for logits in _inputs():
        got = run_student(fn, logits.clone(), name="spatial_softmax", forbid=[normalize])
        check_shape("spatial_softmax", got, logits.shape,
                    "Return a mask with the logits' shape (B, 1, H, W): reshape back after the softmax.")
        sums = got.sum(dim=(2, 3))
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
            rows = got.sum(dim=3)
            hint = ("Each row sums to one: the softmax ran over W only. Flatten H and W first "
                    "(logits.reshape(B, 1, H * W))." if torch.allclose(rows, torch.ones_like(rows), atol=1e-5)
                    else "Normalise over space: every mask must sum to one over its H * W positions.")
            raise ExerciseError(f"spatial_softmax: mask sums are {sums.flatten().tolist()[:3]}, expected 1. {hint}")
        check_close("spatial_softmax", got, normalize(logits, "softmax"), atol=1e-5,
                    hint="Use exp(ℓ) / Σ exp(ℓ) over all positions of each example.")
    passed("Each mask sums to one over its H·W positions, for square and non-square maps.")


def _tv(mask):
    return ((mask[..., 1:, :] - mask[..., :-1, :]).abs().sum((1, 2, 3))
            + (mask[..., :, 1:] - mask[..., :, :-1]).abs().sum((1, 2, 3)))


def check_total_variation(fn) -> None:
    """``fn(mask (B, 1, H, W)) -> (B,)``: sum of absolute differences between
    vertically and horizontally adjacent cells."""
    g = rng(2)
    for mask in [torch.rand(2, 1, 4, 7, generator=g), torch.rand(1, 1, 5, 5, generator=g),
                 torch.rand(3, 1, 1, 6, generator=g),
                 *cases([], [torch.rand(2, 1, 6, 1, generator=g), torch.rand(1, 1, 3, 8, generator=g)])]:
        got = run_student(fn, mask.clone(), name="total_variation")
        check_shape("total_variation", got, (mask.shape[0],),
                    "Return one number per example: sum over channel, rows and columns.")
        vertical_only = (mask[..., 1:, :] - mask[..., :-1, :]).abs().sum((1, 2, 3))
        horizontal_only = (mask[..., 1:] - mask[..., :-1]).abs().sum((1, 2, 3))
        for partial, which in ((vertical_only, "vertical (row-to-row)"),
                               (horizontal_only, "horizontal (column-to-column)")):
            if torch.allclose(got, partial) and not torch.allclose(partial, _tv(mask)):
                raise ExerciseError(f"total_variation: you counted only the {which} differences; "
                                    "add the differences along the other axis too.")
        check_close("total_variation", got, _tv(mask), atol=1e-5,
                    hint="TV = Σ|A[i+1,j] − A[i,j]| + Σ|A[i,j+1] − A[i,j]| (absolute values, not squares).")
    flat = torch.full((1, 1, 3, 4), 0.7)
    if abs(float(run_student(fn, flat, name="total_variation")[0])) > 1e-6:
        raise ExerciseError("total_variation: a constant mask must have total variation 0.")
    passed("Total variation is zero for a constant mask and grows with every jump between neighbours.")
