"""Chapter 12 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch12
from arnn_lite.models.cbam import channel_pool


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch12.check_channel_pool(channel_pool)
    ch12.check_channel_attention(ch12.channel_attention_reference)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch12.check_channel_pool, ch12.check_channel_attention])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_swapped_pool_order_is_explained():
    with pytest.raises(ExerciseError, match=r"swapped.*\[max, mean\]"):
        ch12.check_channel_pool(lambda x: torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1))


def test_missing_keepdim_is_explained():
    with pytest.raises(ExerciseError, match="keepdim"):
        ch12.check_channel_pool(lambda x: torch.cat([x.amax(1), x.mean(1)], 1))


def test_average_only_gate_is_explained():
    def se_gate(x, mlp):
        return torch.sigmoid(mlp(x.mean(dim=(2, 3))))[:, :, None, None]
    with pytest.raises(ExerciseError, match="average- AND the max-pooled"):
        ch12.check_channel_attention(se_gate)


def test_two_sigmoids_are_explained():
    def two_sigmoids(x, mlp):
        return (torch.sigmoid(mlp(x.mean(dim=(2, 3)))) + torch.sigmoid(mlp(x.amax(dim=(2, 3)))))[:, :, None, None]
    with pytest.raises(ExerciseError, match="ONE sigmoid"):
        ch12.check_channel_attention(two_sigmoids)


def test_flat_output_shape_is_explained():
    with pytest.raises(ExerciseError, match=r"\(B, C, 1, 1\)"):
        ch12.check_channel_attention(  # the right gate, flattened to (B, C)
            lambda x, mlp: torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3)))))
