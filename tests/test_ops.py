"""skew / unskew: definition, round trip (property-based), no loops, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from arnn_lite import skew, unskew
from tests.helpers import anti_diagonal_mask


def naive_skew(x):
    B, C, H, W = x.shape
    out = x.new_zeros(B, C, H, H + W - 1)
    for i in range(H):
        out[:, :, i, i:i + W] = x[:, :, i]
    return out


def test_skew_matches_definition_on_example():
    x = torch.arange(1, 7.).view(1, 1, 2, 3)
    expected = torch.tensor([[1., 2, 3, 0], [0, 4, 5, 6]])
    assert torch.equal(skew(x)[0, 0], expected)


def test_column_t_is_anti_diagonal_t():
    H, W = 4, 6
    i, j = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    s = skew((i + j + 1).float()[None, None])[0, 0]  # value = t + 1 on real pixels
    for t in range(H + W - 1):
        col = s[:, t]
        assert torch.all((col == 0) | (col == t + 1))
        assert int((col == t + 1).sum()) == int(((i + j) == t).sum())


@settings(max_examples=60, deadline=None)
@given(B=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 9))
def test_round_trip_and_naive_agree(B, C, H, W):
    x = torch.randn(B, C, H, W, dtype=torch.float64)
    y = skew(x)
    assert y.shape == (B, C, H, H + W - 1)
    assert torch.equal(y, naive_skew(x))
    assert torch.equal(unskew(y, W), x)


def test_skew_is_differentiable_and_adjoint():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(skew, (x,))
    y = torch.randn(2, 3, 4, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: unskew(t, 5), (y,))


def test_mask_marks_real_pixels():
    m = anti_diagonal_mask(3, 4)
    assert m.shape == (3, 6) and int(m.sum()) == 12
    assert not m[2, 0] and m[2, 2] and not m[0, 4]


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(3, 4), "x: expected a 4-d tensor"),
    ([[1.0]], "x: expected a tensor"),
])
def test_skew_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        skew(bad)


def test_unskew_bad_width():
    with pytest.raises(ValueError, match=r"y: expected last dimension H \+ width - 1 = 6"):
        unskew(torch.zeros(1, 1, 3, 7), 4)
    with pytest.raises(ValueError, match="width: expected a positive integer, got 0"):
        unskew(torch.zeros(1, 1, 3, 7), 0)
