"""Chapter 02 checkers: the solution passes, the stub and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch02


def unskew_loop(y, width):
    B, C, H, T = y.shape
    out = y.new_zeros(B, C, H, width)
    for i in range(H):
        out[:, :, i, :] = y[:, :, i, i:i + width]
    return out


def unskew_stub(y, width):
    ...
    raise NotImplementedError


def unskew_no_shift(y, width):  # forgets that row i starts at column i
    return y[..., :width]


def unskew_wrong_width(y, width):
    return y


def column_pixels(t, height, width):
    return [(i, t - i) for i in range(height) if 0 <= t - i < width]


def column_pixels_stub(t, height, width):
    ...
    raise NotImplementedError


def column_pixels_unclipped(t, height, width):  # forgets j < W
    return [(i, t - i) for i in range(height) if t - i >= 0]


def column_pixels_by_column(t, height, width):  # right set, wrong order
    return sorted(column_pixels(t, height, width), key=lambda p: p[1])


def test_unskew_solution_passes(capsys):
    ch02.check_unskew_loop(unskew_loop)
    assert "Correct!" in capsys.readouterr().out


def test_unskew_stub_fails_helpfully():
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch02.check_unskew_loop(unskew_stub)


def test_unskew_mistakes_fail_helpfully():
    with pytest.raises(ExerciseError, match="starts at column i"):
        ch02.check_unskew_loop(unskew_no_shift)
    with pytest.raises(ExerciseError, match="expected shape"):
        ch02.check_unskew_loop(unskew_wrong_width)


def test_column_pixels_solution_passes(capsys):
    ch02.check_column_pixels(column_pixels)
    assert "Correct!" in capsys.readouterr().out


def test_column_pixels_stub_and_mistakes_fail():
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch02.check_column_pixels(column_pixels_stub)
    with pytest.raises(ExerciseError, match="0 <= j < W|inside the grid"):
        ch02.check_column_pixels(column_pixels_unclipped)
    with pytest.raises(ExerciseError, match="wrong order"):
        ch02.check_column_pixels(column_pixels_by_column)
    with pytest.raises(ExerciseError, match="list of"):
        ch02.check_column_pixels(lambda t, height, width: 3)


def test_reference_matches_skew():
    from arnn_lite import skew
    H, W = 3, 5
    x = torch.arange(H * W, dtype=torch.float64).view(1, 1, H, W) + 1
    y = skew(x)[0, 0]
    for t in range(H + W - 1):
        expected = [x[0, 0, i, j].item() for i, j in ch02.column_pixels_reference(t, H, W)]
        assert [v.item() for v in y[:, t] if v != 0] == expected
