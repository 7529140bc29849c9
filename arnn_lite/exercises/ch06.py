"""Checkers for chapter 06 (``chapters/06_sampling_mode.ipynb``): the sampling mode ARNN~."""

from __future__ import annotations

import torch

from ..arnn import relaxed_bernoulli
from ..toys.two_targets import make_two_targets, which_target
from . import ExerciseError, _mixed, cases, check_close, passed, rng, run_student

__all__ = ["check_relaxed_bernoulli", "check_which_target"]


def check_relaxed_bernoulli(fn) -> None:
    """``fn(logits, noise, temperature)`` must return ``σ((ℓ + L) / τ)``, element-wise."""
    g = rng(6)
    for shape, tau in cases([((2, 1, 3, 5), 0.5), ((1, 1, 4, 2), 1.0), ((3, 1, 2, 7), 0.1)],
                            [((2, 1, 6, 3), 0.3), ((1, 1, 2, 2), 2.0)]):
        logits, noise = torch.randn(shape, generator=g) * 2, torch.randn(shape, generator=g)
        got = run_student(fn, logits.clone(), noise.clone(), tau, name="relaxed_bernoulli",
                          forbid=[relaxed_bernoulli])
        expected = relaxed_bernoulli(logits, noise, tau)
        hint = ""
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got, torch.sigmoid(logits / tau + noise), atol=1e-5):
                hint = "Divide the *sum* ℓ + L by τ, not only the logits."
            elif torch.allclose(got, torch.sigmoid(logits + noise), atol=1e-5) and tau != 1.0:
                hint = "The temperature is missing: σ((ℓ + L) / τ)."
            elif torch.allclose(got, (logits + noise) / tau, atol=1e-5):
                hint = "Squash with the sigmoid at the end."
        check_close(f"relaxed_bernoulli(ℓ, L, τ={tau}) for shape {shape}", got, expected,
                    atol=1e-5, hint=hint)
    hard = run_student(fn, torch.tensor([2.0, -2.0]), torch.zeros(2), 1e-3, name="relaxed_bernoulli")
    check_close("relaxed_bernoulli at τ = 0.001 (should be nearly hard)", hard,
                torch.tensor([1.0, 0.0]), atol=1e-4)
    passed("your relaxed Bernoulli matches arnn_lite.arnn.relaxed_bernoulli, "
           "and it becomes hard as τ → 0.")


def check_which_target(fn) -> None:
    """``fn(mask, targets)`` must say which target (0, 1) a mask picked, or -1."""
    data = make_two_targets(6, size=12, seed=_mixed(66))
    cases = []
    for k in range(6):
        t = data["targets"][k]  # (2, H, W)
        cases += [(t[0] * 0.9, t), (t[1] * 0.8 + 0.05, t), (t[0] + t[1], t),
                  (torch.zeros_like(t[0]), t), (0.6 * t[0].roll(1, dims=1), t)]
    for mask, targets in cases:
        got = run_student(fn, mask.clone(), targets.clone(), name="which_target", forbid=[which_target])
        expected = which_target(mask, targets)
        if isinstance(got, torch.Tensor):
            got = got.item()
        if got != expected:
            what = {0: "target 0", 1: "target 1", -1: "neither (-1)"}[expected]
            hint = ("A mask that covers both squares has IoU ½ with each: that is no "
                    "choice, so the answer is -1 unless the best IoU is *above* ½."
                    if expected == -1 and mask.sum() > 0 else
                    "Binarise the mask at 0.5, compute IoU = |mask ∧ target| / |mask ∨ "
                    "target| for each target, and pick the larger if it is above 0.5.")
            raise ExerciseError(f"which_target returned {got!r} for a mask whose answer is "
                                f"{what} (mask sum {mask.sum().item():.2f}, "
                                f"{int((mask > 0.5).sum())} pixels above 0.5). {hint}")
    passed(f"which_target agrees with arnn_lite.toys.two_targets.which_target on {len(cases)} masks.")
