"""Checkers for chapter 07 (``chapters/07_block_arnn.ipynb``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..arnn import sequential_steps as _package_steps
from . import ExerciseError, cases, passed, run_student

__all__ = ["check_pooled_grid", "check_sequential_steps"]

_CASES = [(12, 12, 1), (12, 12, 2), (12, 12, 5), (24, 17, 3), (7, 30, 4), (100, 100, 3), (5, 9, 2), (1, 8, 3)]


def _cases():
    return cases(_CASES, lambda r: [(r.randint(1, 120), r.randint(1, 120), r.randint(1, 9))
                                    for _ in range(6)])


def _grid(H, W, block_size):
    """The grid BlockAttentionRNN scans: avg-pool by δ in ceil mode."""
    return tuple(F.avg_pool2d(torch.zeros(1, 1, H, W), block_size, ceil_mode=True).shape[-2:])


def check_pooled_grid(fn) -> None:
    """``fn(H, W, block_size) -> (h, w)``, the pooled grid of BRNN^δ."""
    for H, W, d in _cases():
        got = run_student(fn, H, W, d, name="pooled_grid", forbid=[_package_steps])
        expected = _grid(H, W, d)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise ExerciseError(f"pooled_grid: return a tuple (h, w), got {got!r}.")
        if tuple(int(v) for v in got) != expected:
            floor = (H // d, W // d)
            hint = ("You rounded down: the last, partial block still counts (ceil mode), so use "
                    "math.ceil(H / block_size)." if tuple(got) == floor else
                    "Each of the h rows of blocks covers block_size image rows; a partial block at the end counts.")
            raise ExerciseError(f"pooled_grid({H}, {W}, {d}): got {tuple(got)}, expected {expected}. {hint}")
    passed("The pooled grid is ⌈H/δ⌉ × ⌈W/δ⌉, the shape of F.avg_pool2d(..., ceil_mode=True).")


def check_sequential_steps(fn) -> None:
    """``fn(H, W, block_size) -> int``: anti-diagonals the BRNN^δ scan visits."""
    for H, W, d in _cases():
        got = run_student(fn, H, W, d, name="sequential_steps", forbid=[_package_steps])
        h, w = _grid(H, W, d)
        expected = h + w - 1
        if not isinstance(got, int) or isinstance(got, bool):
            if isinstance(got, float) and got == int(got):
                got = int(got)
            else:
                raise ExerciseError(f"sequential_steps({H}, {W}, {d}): return an int, got {got!r}.")
        if got != expected:
            if got == h * w:
                hint = "That is the number of blocks: the diagonal scan handles a whole anti-diagonal per step."
            elif got == h + w:
                hint = "Off by one: a grid of h × w cells has h + w − 1 anti-diagonals."
            elif got == math.floor((H + W - 1) / d):
                hint = "Pool H and W separately (each rounded up), then count anti-diagonals of the pooled grid."
            else:
                hint = "Count the anti-diagonals i + j = t of the pooled ⌈H/δ⌉ × ⌈W/δ⌉ grid."
            raise ExerciseError(f"sequential_steps({H}, {W}, {d}): got {got}, expected {expected}. {hint}")
    passed("The BRNNᵟ scan takes ⌈H/δ⌉ + ⌈W/δ⌉ − 1 sequential steps (δ = 1: H + W − 1).")
