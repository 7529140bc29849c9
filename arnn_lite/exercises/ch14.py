"""Checkers for chapter 14, ModularGAN hair-colour transfer (``chapters/14_mgan_hair_colour.ipynb``)."""

from __future__ import annotations

import torch
import torch.nn as nn

from ..models.metrics import mask_iou
from ..models.mgan import gradient_penalty
from . import ExerciseError, cases, check_close, passed, rng, run_student, seed

__all__ = ["check_gradient_penalty", "check_mask_iou"]


def _critic():
    seed(14)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 4, 2, 1))


def _penalty_at(critic, mixed):
    """The right penalty formula at given mixed images (no graph kept)."""
    mixed = mixed.detach().requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _penalty_mistakes(critic, real, fake, alpha):
    """``(value, hint)`` for what common slips compute."""
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed)
    per_image = grad.flatten(1).norm(dim=1)  # (B,)
    return [
        ((((grad.flatten(1) ** 2).sum(1) - 1) ** 2).mean(),
         "You used the squared norm; the penalty is on the norm itself: (‖∇‖₂ − 1)²."),
        ((grad.norm() - 1) ** 2,
         "Take the gradient norm per image (flatten all but the batch dimension), then average."),
        (_penalty_at(critic, (1 - alpha) * real + alpha * fake),
         "Mix as x̂ = α·real + (1 − α)·fake: α weights the real images."),
        ((per_image - 1).abs().mean(),
         "Square the deviation from 1: (‖∇‖₂ − 1)², not |‖∇‖₂ − 1|."),
    ]


def check_gradient_penalty(gradient_penalty_fn) -> None:
    """Exercise ex-14-gp: WGAN-GP's gradient penalty, differentiable in the critic."""
    critic = _critic()
    g = rng(4)
    for batch, size in cases([(3, 8), (5, 6)], [(4, 5)]):
        real, fake = torch.rand(batch, 3, size, size, generator=g), torch.rand(batch, 3, size, size, generator=g)
        alpha = torch.rand(batch, 1, 1, 1, generator=g)
        got = run_student(gradient_penalty_fn, critic, real, fake, alpha, name="gradient_penalty",
                          forbid=[gradient_penalty])
        expected = gradient_penalty(critic, real, fake, alpha)
        if not isinstance(got, torch.Tensor) or got.numel() != 1:
            raise ExerciseError(f"gradient_penalty: expected a scalar tensor, got {got!r}")
        got = got.reshape(())
        value_got = float(got.detach())
        for value, hint in _penalty_mistakes(critic, real, fake, alpha):
            if abs(value_got - float(value)) < 1e-5 and abs(float(value) - float(expected.detach())) > 1e-5:
                raise ExerciseError(f"gradient_penalty: got {value_got:.5f}, "
                                    f"expected {float(expected.detach()):.5f}. {hint}")
        check_close(f"gradient_penalty on a batch of {batch}", got, expected.detach(), atol=1e-5,
                    hint="x̂ = α·real + (1 − α)·fake; gradient of critic(x̂).sum() w.r.t. x̂; "
                         "norm per image; mean of (norm − 1)².")
        if not got.requires_grad:
            raise ExerciseError("gradient_penalty: the value is right, but it does not depend on the "
                                "critic's weights, so the critic cannot learn from it: pass "
                                "create_graph=True to torch.autograd.grad.")
    passed("gradient_penalty matches WGAN-GP and trains the critic.")


def check_mask_iou(mask_iou_fn) -> None:
    """Exercise ex-14-iou: IoU of a thresholded mask with the hair mask, per image."""
    g = rng(7)
    mask = torch.rand(4, 1, 6, 6, generator=g)
    hair = (torch.rand(4, 1, 6, 6, generator=g) > 0.6).float()
    mask[3], hair[3] = 0.1, 0.0  # nothing predicted, no hair: a perfect match
    got = run_student(mask_iou_fn, mask.clone(), hair.clone(), name="mask_iou", forbid=[mask_iou])
    expected = mask_iou(mask, hair)
    got = torch.as_tensor(got).float()
    if got.numel() == 1 and expected.numel() > 1:
        raise ExerciseError("mask_iou: expected one IoU per image, shape (B,), got a single number. "
                            "Sum intersections and unions over each image's pixels only (dims 1-3).")
    if got.shape == expected.shape and torch.isnan(got[3]):
        raise ExerciseError("mask_iou: image 3 has an empty mask and no hair (0 / 0): return 1.0 there.")
    soft = ((mask * hair).flatten(1).sum(1) / (mask + hair - mask * hair).flatten(1).sum(1))
    if got.shape == expected.shape and torch.allclose(got[:3], soft[:3], atol=1e-5):
        raise ExerciseError("mask_iou: this is a soft IoU of the raw mask; threshold it first (mask > threshold).")
    check_close("mask_iou", got, expected, atol=1e-5,
                hint="IoU = |pred ∧ hair| / |pred ∨ hair| with pred = mask > threshold, per image; "
                     "1.0 when both are empty.")
    got = run_student(mask_iou_fn, mask.clone(), hair.clone(), 0.8, name="mask_iou", forbid=[mask_iou])
    got = torch.as_tensor(got).float()
    check_close("mask_iou with threshold=0.8", got, mask_iou(mask, hair, 0.8), atol=1e-5,
                hint="Use the threshold argument instead of a fixed 0.5.")
    passed("mask_iou agrees with the metric the experiment reports.")
