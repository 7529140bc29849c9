"""Chapter 06's checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch06


def relaxed_bernoulli(logits, noise, temperature):
    return torch.sigmoid((logits + noise) / temperature)


def which_target(mask, targets):
    binary = mask > 0.5
    ious = [((binary & t.bool()).sum() / (binary | t.bool()).sum().clamp_min(1)).item()
            for t in targets]
    best = max(range(2), key=lambda k: ious[k])
    return best if ious[best] > 0.5 else -1


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch06.check_relaxed_bernoulli(relaxed_bernoulli)
    ch06.check_which_target(which_target)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch06.check_relaxed_bernoulli, ch06.check_which_target])
def test_stub_fails_helpfully(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


@pytest.mark.parametrize("wrong, hint", [
    (lambda l, n, t: torch.sigmoid(l / t + n), "sum"),
    (lambda l, n, t: torch.sigmoid(l + n), "temperature"),
    (lambda l, n, t: (l + n) / t, "sigmoid"),
])
def test_wrong_relaxed_bernoulli(wrong, hint):
    with pytest.raises(ExerciseError, match=hint):
        ch06.check_relaxed_bernoulli(wrong)


def test_wrong_which_mode():
    def no_threshold(mask, targets):  # argmax of overlap, never "neither"
        return int(torch.argmax(torch.stack([(mask * t).sum() for t in targets])))
    with pytest.raises(ExerciseError, match="neither"):
        ch06.check_which_target(no_threshold)
