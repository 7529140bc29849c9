"""Checkers for chapter 09, MBG attribute prediction (``chapters/09_mbg_attribute_prediction.ipynb``)."""

from __future__ import annotations

import torch

from ..datasets.mbg import SCALE_BINS, scale_bin
from ..experiments.mbg import mass_in_box
from . import ExerciseError, cases, check_close, passed, rng, run_student

__all__ = ["check_accuracy_by_scale", "check_mass_in_box", "accuracy_by_scale_reference"]


def accuracy_by_scale_reference(correct, scales):
    """Known-correct answer: accuracy per paper scale bin, ``None`` for an empty bin."""
    out = []
    for k in range(len(SCALE_BINS)):
        hits = [float(c) for c, s in zip(correct, scales) if scale_bin(float(s)) == k]
        out.append(sum(hits) / len(hits) if hits else None)
    return out


def check_accuracy_by_scale(accuracy_by_scale) -> None:
    """Exercise ex-09-scale-bins: per-bin accuracy with the paper's five bins."""
    g = rng(9)
    examples = [(torch.rand(40, generator=g) > 0.3, 0.5 + 2.5 * torch.rand(40, generator=g)),
             (torch.tensor([True, False, True]), torch.tensor([0.5, 0.99, 3.0])),  # bin edges
             (torch.tensor([True, True]), torch.tensor([1.0, 1.49])),  # empty bins
             *cases([], [(torch.rand(25, generator=g) > 0.5, 0.5 + 2.5 * torch.rand(25, generator=g))])]
    for correct, scales in examples:
        got = run_student(accuracy_by_scale, correct, scales, name="accuracy_by_scale")
        expected = accuracy_by_scale_reference(correct, scales)
        got = list(got) if got is not None else got
        if got is None or len(got) != 5:
            raise ExerciseError(f"accuracy_by_scale: expected a list of 5 values (one per bin), got {got!r}")
        for k, (a, b) in enumerate(zip(got, expected)):
            lo, hi = SCALE_BINS[k]
            if b is None and a is not None:
                raise ExerciseError(f"bin {lo}-{hi} holds no example: return None there, not {a!r}.")
            if b is not None and (a is None or abs(float(a) - b) > 1e-6):
                hint = ("A scale of exactly 3.0 belongs to the last bin, 2.5-3.0 (see scale_bin)."
                        if any(float(s) == 3.0 for s in scales) else
                        "A bin [lo, hi) holds the scales lo <= s < hi.")
                raise ExerciseError(f"bin {lo}-{hi}: got {a!r}, expected {b:.4f} for scales "
                                    f"{[round(float(s), 2) for s in scales][:8]}... {hint}")
    passed("accuracy_by_scale matches the paper's five bins, edges and empty bins included.")


def check_mass_in_box(mass_in_box_fn) -> None:
    """Exercise ex-09-mass: the share of a mask's mass inside the queried digit's box."""
    g = rng(3)
    for h, canvas in cases([(4, 100), (10, 100), (7, 60)], [(5, 80), (8, 64)]):
        mask = torch.rand(3, 1, h, h, generator=g)  # (B, 1, h, h)
        box = torch.tensor([[10, 20, 40, 50], [0, 0, canvas, canvas], [55, 5, 58, 30]])
        box = box.clamp(max=canvas)
        got = run_student(mass_in_box_fn, mask.clone(), box.clone(), canvas, name="mass_in_box",
                          forbid=[mass_in_box])
        check_close(f"mass_in_box on a {h}x{h} mask, canvas {canvas}", torch.as_tensor(got).float(),
                    mass_in_box(mask, box, canvas), atol=1e-4,
                    hint="Upsample the mask bilinearly to canvas x canvas first (align_corners=False), "
                         "then divide the sum inside [x0, x1) x [y0, y1) by the total sum.")
    passed("mass_in_box agrees with the metric the experiments report.")
