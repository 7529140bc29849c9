"""Checkers for chapter 11, the scalability study (``chapters/11_scalability.ipynb``)."""

from __future__ import annotations

import math

from ..models.mbg import map_sizes, network_sequential_steps
from . import ExerciseError, cases, passed, run_student

__all__ = ["check_map_sizes", "check_network_steps"]


def check_map_sizes(map_sizes_fn) -> None:
    """Exercise ex-11-map-sizes: map sides after valid 3×3 conv + 2×2 pool stacks."""
    visible = [(128, 5), (100, 4), (100, 5), (150, 5), (64, 3)]
    for canvas, stacks in cases(visible, lambda r: [(r.randint(40, 300), r.randint(1, 5)) for _ in range(4)]):
        got = run_student(map_sizes_fn, canvas, stacks, name="map_sizes",
                          forbid=[map_sizes, network_sequential_steps])
        expected = map_sizes(canvas, stacks)
        got = [int(v) for v in got] if got is not None else got
        if got != expected:
            halved, side = [], canvas
            for _ in range(stacks):
                side //= 2
                halved.append(side)
            hint = ("A valid (unpadded) 3×3 convolution removes 2 pixels before each pool: "
                    "side -> (side - 2) // 2." if got == halved else
                    "Each stack: valid 3×3 conv (side - 2), then 2×2 max-pool (floor of half).")
            raise ExerciseError(f"map_sizes({canvas}, {stacks}): got {got}, expected {expected}. {hint}")
    passed("map_sizes matches the network's maps (128 -> 63, 30, 14, 6, 2).")


def check_network_steps(network_steps_fn) -> None:
    """Exercise ex-11-network-steps: sequential steps summed over the network's attentions."""
    visible = [(128, "arnn", 2), (128, "brnn", 2), (128, "none", 2), (150, "brnn", 4), (128, "brnn", 3)]
    for canvas, front, delta in cases(visible, lambda r: [
            (r.randint(100, 300), r.choice(["none", "arnn", "brnn"]), r.randint(2, 5)) for _ in range(4)]):
        got = run_student(network_steps_fn, canvas, front, delta, name="network_steps",
                          forbid=[network_sequential_steps])
        expected = network_sequential_steps(canvas, front, delta)
        if got == expected:
            continue
        sizes = map_sizes(canvas)
        front_only = network_sequential_steps(canvas, front, delta) - sum(2 * s - 1 for s in sizes[1:])
        floor_grid = 2 * (sizes[0] // delta) - 1 + sum(2 * s - 1 for s in sizes[1:])
        if got == front_only:
            hint = "Add the ARNN after each of stacks 2-5: the front attention is only the first of five."
        elif front == "brnn" and got == floor_grid and floor_grid != expected:
            hint = f"A partial block counts: the grid is ceil(H / δ) = {math.ceil(sizes[0] / delta)} wide."
        else:
            hint = ("Front: 0 (none), H + W - 1 (arnn) or ceil(H/δ) + ceil(W/δ) - 1 (brnn); "
                    "then H + W - 1 per ARNN stage.")
        raise ExerciseError(f"network_steps({canvas}, {front!r}, {delta}): got {got}, expected {expected}. {hint}")
    passed("network_steps counts the sequential steps of every attention in the network.")
