"""Checkers for the exercises of chapter 08, the MBG dataset (``chapters/08_mbg_dataset.ipynb``)."""

from __future__ import annotations

import itertools

import torch

from . import ExerciseError, cases, check_close, passed, rng, run_student

__all__ = ["check_boxes_overlap", "check_alpha_blend", "boxes_overlap_reference"]


def boxes_overlap_reference(a, b) -> bool:
    """Known-correct answer: do boxes ``(x0, y0, x1, y1)`` (x1, y1 exclusive) share a pixel?"""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def check_boxes_overlap(boxes_overlap) -> None:
    """Exercise ex-08-overlap: ``boxes_overlap(a, b)`` for exclusive-end boxes."""
    boxes = [(0, 0, 10, 10), (10, 0, 20, 10), (9, 9, 12, 12), (0, 10, 10, 20), (2, 2, 5, 5),
             (-3, 4, 1, 8), (20, 20, 30, 30)]
    boxes = cases(boxes, lambda r: [(x, y, x + r.randint(1, 9), y + r.randint(1, 9))
                                    for x, y in [(r.randint(-5, 20), r.randint(-5, 20)) for _ in range(5)]])
    for a, b in itertools.product(boxes, repeat=2):
        got = run_student(boxes_overlap, a, b, name="boxes_overlap")
        expected = boxes_overlap_reference(a, b)
        if bool(got) != expected:
            touching = a[2] == b[0] or b[2] == a[0] or a[3] == b[1] or b[3] == a[1]
            hint = ("These boxes only touch along an edge: with exclusive ends (x1 is one past "
                    "the last pixel) they share no pixel." if touching and not expected else
                    "Two boxes overlap exactly when they overlap along x AND along y; along one "
                    "axis, [x0, x1) and [u0, u1) overlap when x0 < u1 and u0 < x1.")
            raise ExerciseError(f"boxes_overlap({a}, {b}) returned {got!r}, expected {expected}. {hint}")
    passed("boxes_overlap is right for disjoint, touching, nested and crossing boxes.")


def check_alpha_blend(alpha_blend) -> None:
    """Exercise ex-08-blend: ``alpha_blend(region, ink, colour)`` paints ink in a colour."""
    gen = rng(8)
    for h, w in cases([(4, 4), (3, 7), (1, 1)], [(5, 2), (2, 6)]):
        region = torch.rand(3, h, w, generator=gen) * 255  # (3, h, w)
        ink = torch.rand(h, w, generator=gen)  # (h, w) in [0, 1]
        colour = torch.tensor([146.0, 16.0, 16.0])  # (3,)
        got = run_student(alpha_blend, region.clone(), ink.clone(), colour.clone(), name="alpha_blend")
        expected = ink * colour[:, None, None] + (1 - ink) * region
        check_close(f"alpha_blend on a {h}x{w} region", got, expected, atol=1e-4,
                    hint="Where the ink is 1 the pixel is the colour, where it is 0 the old "
                         "pixel stays; in between, a weighted mix. The colour (3,) must be "
                         "broadcast to (3, 1, 1).")
    passed("alpha_blend mixes colour and background by the ink's alpha.")
