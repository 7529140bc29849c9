"""Chapter 07 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import math

import pytest

from arnn_lite.exercises import ExerciseError, ch07


def pooled_grid(H, W, block_size):
    return math.ceil(H / block_size), math.ceil(W / block_size)


def sequential_steps(H, W, block_size):
    h, w = pooled_grid(H, W, block_size)
    return h + w - 1


def stub(H, W, block_size):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch07.check_pooled_grid(pooled_grid)
    ch07.check_sequential_steps(sequential_steps)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch07.check_pooled_grid, ch07.check_sequential_steps])
def test_stub_fails_helpfully(check):
    with pytest.raises(ExerciseError, match="not implemented yet"):
        check(stub)


def test_floor_division_caught():
    with pytest.raises(ExerciseError, match="rounded down"):
        ch07.check_pooled_grid(lambda H, W, d: (H // d, W // d))


def test_off_by_one_caught():
    with pytest.raises(ExerciseError, match="Off by one"):
        ch07.check_sequential_steps(lambda H, W, d: sum(pooled_grid(H, W, d)))


def test_counting_blocks_caught():
    with pytest.raises(ExerciseError, match="number of blocks"):
        ch07.check_sequential_steps(lambda H, W, d: math.prod(pooled_grid(H, W, d)))
