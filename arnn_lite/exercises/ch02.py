"""Checkers for the exercises of chapter 02, the skew (``chapters/02_skew.ipynb``)."""

from __future__ import annotations

import torch

from ..ops import skew, unskew
from . import ExerciseError, cases, check_close, check_shape, passed, rng, run_student

__all__ = ["check_unskew_loop", "check_column_pixels", "column_pixels_reference"]

# (B, C, H, W): square, wide, tall, a single row and a single column.
_SHAPES = [(2, 3, 4, 4), (1, 2, 3, 6), (2, 1, 5, 2), (1, 1, 1, 4), (1, 2, 4, 1)]


def check_unskew_loop(unskew_loop) -> None:
    """Exercise ex-02-unskew-loop: ``unskew_loop(y, width)`` undoes ``skew``."""
    gen = rng(2)
    for shape in cases(_SHAPES, [(1, 2, 6, 3), (2, 1, 3, 7)]):
        x = torch.randn(*shape, generator=gen, dtype=torch.float64)  # (B, C, H, W)
        y = skew(x)  # (B, C, H, H+W-1)
        got = run_student(unskew_loop, y.clone(), shape[-1], name="unskew_loop",
                          forbid=[unskew])
        check_shape(f"unskew_loop(y of shape {tuple(y.shape)}, width={shape[-1]})", got, shape,
                    "The result keeps B, C and H and has `width` columns.")
        check_close(f"unskew_loop on input shape {tuple(y.shape)}", got, x, atol=1e-12,
                    hint="Row i of the original starts at column i of the skewed map: "
                         "take y[:, :, i, i:i + width].")
    passed("unskew_loop inverts skew on square, wide, tall, one-row and one-column maps.")


def column_pixels_reference(t: int, height: int, width: int):
    """Known-correct answer: the pixels ``(i, t - i)`` of anti-diagonal ``t``, by row."""
    return [(i, t - i) for i in range(height) if 0 <= t - i < width]


def check_column_pixels(column_pixels) -> None:
    """Exercise ex-02-column-pixels: which ``(i, j)`` land in column ``t``."""
    sizes = cases([(4, 6), (6, 4), (3, 3), (1, 5), (5, 1)],
                  lambda r: [(r.randint(1, 9), r.randint(1, 9)) for _ in range(3)])
    for height, width in sizes:
        for t in range(-1, height + width):
            got = run_student(column_pixels, t, height, width, name="column_pixels")
            expected = column_pixels_reference(t, height, width)
            try:
                got = [tuple(int(v) for v in p) for p in got]
            except Exception:
                raise ExerciseError(
                    f"column_pixels({t}, {height}, {width}): expected a list of (i, j) pairs, "
                    f"got {got!r}") from None
            if got != expected:
                missing = sorted(set(expected) - set(got))
                extra = sorted(set(got) - set(expected))
                if not missing and not extra:
                    hint = "The right pixels, in the wrong order: sort them by row i."
                elif extra:
                    hint = (f"{extra} should not be there: keep only pixels inside the grid, "
                            f"0 <= i < H and 0 <= j < W.")
                else:
                    hint = f"{missing} are missing: every row i with 0 <= t - i < W contributes."
                raise ExerciseError(
                    f"column_pixels(t={t}, height={height}, width={width}) returned {got}, "
                    f"expected {expected}. {hint}")
    passed("column_pixels finds every anti-diagonal, including t outside 0 … H+W−2.")
