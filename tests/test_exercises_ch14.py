"""Chapter 14 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch14
from arnn_lite.models.metrics import mask_iou
from arnn_lite.models.mgan import gradient_penalty


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch14.check_gradient_penalty(gradient_penalty)
    ch14.check_mask_iou(mask_iou)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch14.check_gradient_penalty, ch14.check_mask_iou])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def _penalty(norm, graph=True, swap=False):
    def gradient_penalty(critic, real, fake, alpha):
        a = 1 - alpha if swap else alpha
        mixed = (a * real + (1 - a) * fake.detach()).requires_grad_(True)
        grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=graph)
        return norm(grad)
    return gradient_penalty


@pytest.mark.parametrize("fn, hint", [
    (_penalty(lambda g: (((g.flatten(1) ** 2).sum(1) - 1) ** 2).mean()), "squared norm"),
    (_penalty(lambda g: (g.norm() - 1) ** 2), "per image"),
    (_penalty(lambda g: ((g.flatten(1).norm(dim=1) - 1) ** 2).mean(), swap=True), "α weights the real"),
    (_penalty(lambda g: ((g.flatten(1).norm(dim=1) - 1) ** 2).mean(), graph=False), "create_graph=True"),
])
def test_gradient_penalty_mistakes_are_explained(fn, hint):
    with pytest.raises(ExerciseError, match=hint):
        ch14.check_gradient_penalty(fn)


def test_mask_iou_mistakes_are_explained():
    def whole_batch(mask, hair, threshold=0.5):
        pred, truth = mask > threshold, hair > 0.5
        return (pred & truth).sum().float() / (pred | truth).sum()

    def soft(mask, hair, threshold=0.5):
        return (mask * hair).flatten(1).sum(1) / (mask + hair - mask * hair).flatten(1).sum(1)

    def fixed_threshold(mask, hair, threshold=0.5):  # ignores its threshold argument
        pred, truth = mask > 0.5, hair > 0.5
        inter, union = (pred & truth).flatten(1).sum(1).float(), (pred | truth).flatten(1).sum(1).float()
        return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))

    def nan_when_empty(mask, hair, threshold=0.5):
        pred, truth = mask > threshold, hair > 0.5
        return (pred & truth).flatten(1).sum(1).float() / (pred | truth).flatten(1).sum(1)

    for fn, hint in [(whole_batch, "one IoU per image"), (soft, "threshold it first"),
                     (fixed_threshold, "threshold argument"), (nan_when_empty, "return 1.0")]:
        with pytest.raises(ExerciseError, match=hint):
            ch14.check_mask_iou(fn)
