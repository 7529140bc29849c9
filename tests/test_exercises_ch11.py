"""Chapter 11 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import math

import pytest

from arnn_lite.exercises import ExerciseError, ch11
from arnn_lite.models.mbg import map_sizes, network_sequential_steps


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch11.check_map_sizes(map_sizes)
    ch11.check_network_steps(network_sequential_steps)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch11.check_map_sizes, ch11.check_network_steps])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_forgetting_the_valid_conv_is_explained():
    def halving(canvas, stacks):
        out = []
        for _ in range(stacks):
            canvas //= 2
            out.append(canvas)
        return out
    with pytest.raises(ExerciseError, match="removes 2 pixels"):
        ch11.check_map_sizes(halving)


def test_front_only_is_explained():
    def front_only(canvas, front, block_size):
        h = map_sizes(canvas)[0]
        return {"none": 0, "arnn": 2 * h - 1, "brnn": 2 * math.ceil(h / block_size) - 1}[front]
    with pytest.raises(ExerciseError, match="stacks 2-5"):
        ch11.check_network_steps(front_only)


def test_floor_grid_is_explained():
    def floor_grid(canvas, front, block_size):
        sizes = map_sizes(canvas)
        first = {"none": 0, "arnn": 2 * sizes[0] - 1, "brnn": 2 * (sizes[0] // block_size) - 1}[front]
        return first + sum(2 * s - 1 for s in sizes[1:])
    with pytest.raises(ExerciseError, match="partial block counts"):
        ch11.check_network_steps(floor_grid)
