"""Chapter 04 checkers: the solution passes, the stub and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite import DiagonalLSTM
from arnn_lite.exercises import ExerciseError, ch04


def stub(*args, **kwargs):
    ...
    raise NotImplementedError


def reverse_direction(lstm, x):
    return lstm(x.flip(-2, -1)).flip(-2, -1)


def reverse_no_flip_back(lstm, x):
    return lstm(x.flip(-2, -1))


def reverse_flip_w_only(lstm, x):
    return lstm(x.flip(-1)).flip(-1)


def grid(height, width):
    return torch.arange(height).view(-1, 1), torch.arange(width).view(1, -1)


def unseen_region(i, j, height, width):
    rows, cols = grid(height, width)
    return ((rows < i) & (cols > j)) | ((rows > i) & (cols < j))


def unseen_one_block(i, j, height, width):  # forgets the down-left block
    rows, cols = grid(height, width)
    return (rows < i) & (cols > j)


def pixelrnn_field(i, j, height, width):
    rows, cols = grid(height, width)
    return ((rows <= i) & (cols <= j)) | ((rows <= i - 1) & (cols >= j))


def pixelrnn_field_no_shift(i, j, height, width):
    rows, cols = grid(height, width)
    return ((rows <= i) & (cols <= j)) | ((rows <= i) & (cols >= j))


def test_reverse_direction(capsys):
    ch04.check_reverse_direction(reverse_direction)
    assert "Correct!" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch04.check_reverse_direction(stub)
    with pytest.raises(ExerciseError, match="flip the result back"):
        ch04.check_reverse_direction(reverse_no_flip_back)
    with pytest.raises(ExerciseError, match="flipped only W"):
        ch04.check_reverse_direction(reverse_flip_w_only)


def test_unseen_region(capsys):
    ch04.check_unseen_region(unseen_region)
    assert "Correct!" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch04.check_unseen_region(stub)
    with pytest.raises(ExerciseError, match="down-left"):
        ch04.check_unseen_region(unseen_one_block)
    with pytest.raises(ExerciseError, match="expected shape"):
        ch04.check_unseen_region(lambda i, j, height, width: torch.zeros(1))


def test_pixelrnn_field(capsys):
    ch04.check_pixelrnn_field(pixelrnn_field)
    assert "Correct!" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch04.check_pixelrnn_field(stub)
    with pytest.raises(ExerciseError, match="shift down one row"):
        ch04.check_pixelrnn_field(pixelrnn_field_no_shift)


def test_pixelrnn_reference_is_causal():
    """The PixelRNN-style pair never sees a pixel at or after (i, j+1) in raster order."""
    fwd, r2l = DiagonalLSTM(1, 2).double(), DiagonalLSTM(1, 2).double()
    model = lambda x: ch04.pixelrnn_bilstm_reference(fwd, r2l, x)  # noqa: E731
    H, W = 4, 5
    for i in range(H):
        for j in range(W):
            seen = ch04.field_from_gradients(model, H, W, i, j)
            raster = torch.arange(H * W).view(H, W)
            assert not seen[raster > i * W + j].any()
            assert seen[raster <= i * W + j].all()
