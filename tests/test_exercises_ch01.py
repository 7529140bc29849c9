"""Chapter 01 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch01


def softmax_solution(logits):
    B, _, H, W = logits.shape
    return torch.softmax(logits.reshape(B, 1, H * W), -1).reshape(B, 1, H, W)


def tv_solution(mask):
    return ((mask[..., 1:, :] - mask[..., :-1, :]).abs().sum((1, 2, 3))
            + (mask[..., 1:] - mask[..., :-1]).abs().sum((1, 2, 3)))


def stub(x):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch01.check_spatial_softmax(softmax_solution)
    ch01.check_total_variation(tv_solution)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch01.check_spatial_softmax, ch01.check_total_variation])
def test_stub_fails_helpfully(check):
    with pytest.raises(ExerciseError, match="not implemented yet"):
        check(stub)


def test_softmax_over_rows_only_is_caught():
    with pytest.raises(ExerciseError, match="over W only"):
        ch01.check_spatial_softmax(lambda l: torch.softmax(l, dim=-1))


def test_sigmoid_instead_of_softmax_is_caught():
    with pytest.raises(ExerciseError, match="sum"):
        ch01.check_spatial_softmax(torch.sigmoid)


def test_tv_one_direction_only_is_caught():
    with pytest.raises(ExerciseError, match="only the vertical"):
        ch01.check_total_variation(lambda m: (m[..., 1:, :] - m[..., :-1, :]).abs().sum((1, 2, 3)))


def test_tv_squared_differences_fail():
    with pytest.raises(ExerciseError, match="wrong value"):
        ch01.check_total_variation(lambda m: ((m[..., 1:, :] - m[..., :-1, :]) ** 2).sum((1, 2, 3))
                                   + ((m[..., 1:] - m[..., :-1]) ** 2).sum((1, 2, 3)))
