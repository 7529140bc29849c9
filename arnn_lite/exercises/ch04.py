"""Checkers for the exercises of chapter 04, the diagonal BiLSTM
(``chapters/04_diagonal_bilstm.ipynb``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import reference
from ..rnn import DiagonalBiLSTM, DiagonalLSTM
from . import ExerciseError, cases, check_close, check_shape, passed, rng, run_student, seed

__all__ = ["check_reverse_direction", "check_unseen_region", "check_pixelrnn_field",
           "pixelrnn_bilstm_reference", "field_from_gradients"]

_SHAPES = [(2, 3, 4, 6), (1, 2, 5, 3), (1, 1, 1, 4), (1, 1, 3, 1)]  # (B, C, H, W)


def check_reverse_direction(reverse_direction) -> None:
    """Exercise ex-04-reverse: the inverse raster scan from a forward ``DiagonalLSTM``."""
    gen = rng(5)
    for shape in cases(_SHAPES, [(2, 2, 3, 5)]):
        seed(len(shape) + shape[-1])
        lstm = DiagonalLSTM(shape[1], 3).double()
        reverse = DiagonalLSTM(shape[1], 3, reverse=True).double()
        reverse.load_state_dict(lstm.state_dict())
        x = torch.randn(*shape, generator=gen, dtype=torch.float64)  # (B, C, H, W)
        with torch.no_grad():
            got = run_student(reverse_direction, lstm, x.clone(), name="reverse_direction")
            expected = reverse(x)  # (B, 3, H, W)
            where = f"reverse_direction(lstm, x of shape {shape})"
            check_shape(where, got, expected.shape, "Same shape as lstm(x).")
            if shape[-2] > 1 and torch.allclose(got, lstm(x.flip(-2, -1))):
                raise ExerciseError(f"{where}: you scanned the flipped input but did not flip "
                                    "the result back: output (i, j) must stay at (i, j).")
            if shape[-2] > 1 and torch.allclose(got, lstm(x.flip(-1)).flip(-1)):
                raise ExerciseError(f"{where}: you flipped only W (PixelRNN's right-to-left "
                                    "scan); the inverse raster order flips H and W.")
            check_close(where, got, expected, atol=1e-10,
                        hint="Flip the input in H and W (x.flip(-2, -1)), run lstm, flip back.")
    passed("flipping H and W around a forward DiagonalLSTM gives DiagonalLSTM(reverse=True).")


def field_from_gradients(model, height: int, width: int, i: int, j: int) -> torch.Tensor:
    """Bool ``(H, W)``: the inputs the output ``(i, j)`` of ``model`` depends on, for a
    random one-channel input (:func:`arnn_lite.reference.receptive_field`)."""
    x = torch.randn(1, 1, height, width, dtype=torch.float64)  # (1, 1, H, W)
    return reference.receptive_field(model, x, (i, j))  # (H, W)


def pixelrnn_bilstm_reference(forward_lstm, right_to_left_lstm, x):
    """PixelRNN-style two directions: raster scan, and a right-to-left scan (flip W only)
    whose output is shifted down one row so that row ``i`` sees only rows above it.

    Returns:
        ``(B, 2K, H, W)``, forward channels first.
    """
    fwd = forward_lstm(x)  # (B, K, H, W): sees i' <= i, j' <= j
    r2l = right_to_left_lstm(x.flip(-1)).flip(-1)  # (B, K, H, W): sees i' <= i, j' >= j
    r2l = F.pad(r2l, (0, 0, 1, 0))[..., :-1, :]  # (B, K, H, W), shifted down one row
    return torch.cat([fwd, r2l], dim=1)  # (B, 2K, H, W)


def _compare_fields(name, fn, expected_fn, visible, hint) -> None:
    for i, j, H, W in cases(visible, lambda r: [
            (r.randrange(H), r.randrange(W), H, W)
            for H, W in [(r.randint(1, 6), r.randint(1, 6)) for _ in range(3)]]):
        got = run_student(fn, i, j, H, W, name=name)
        where = f"{name}({i}, {j}, {H}, {W})"
        check_shape(where, got, (H, W), "Return a bool tensor of shape (height, width).")
        expected = expected_fn(i, j, H, W)
        if not torch.equal(got.bool(), expected):
            r, c = (got.bool() != expected).nonzero()[0].tolist()
            raise ExerciseError(
                f"{where}: input ({r}, {c}) should {'' if expected[r, c] else 'NOT '}be in the "
                f"answer (measured from gradients). {hint}")


_CASES = [(2, 3, 4, 6), (0, 0, 3, 3), (0, 2, 3, 3), (4, 1, 5, 2), (1, 1, 3, 4)]


def check_unseen_region(unseen_region) -> None:
    """Exercise ex-04-unseen: the inputs that neither direction of a BiLSTM sees."""
    seed(0)
    bi = DiagonalBiLSTM(1, 2).double()
    _compare_fields("unseen_region", unseen_region,
                    lambda i, j, H, W: ~field_from_gradients(bi, H, W, i, j), _CASES,
                    "Forward sees i' <= i, j' <= j; reverse sees i' >= i, j' >= j; the answer "
                    "is everything else (the up-right and down-left blocks).")
    passed("unseen_region is exactly what neither direction's gradient reaches.")


def check_pixelrnn_field(pixelrnn_receptive_field) -> None:
    """Exercise ex-04-pixelrnn-field: the receptive field of PixelRNN's two directions."""
    seed(0)
    fwd, r2l = DiagonalLSTM(1, 2).double(), DiagonalLSTM(1, 2).double()
    model = lambda x: pixelrnn_bilstm_reference(fwd, r2l, x)  # noqa: E731
    _compare_fields("pixelrnn_receptive_field", pixelrnn_receptive_field,
                    lambda i, j, H, W: field_from_gradients(model, H, W, i, j), _CASES,
                    "Forward: i' <= i, j' <= j. Right-to-left: i' <= i, j' >= j, then the "
                    "shift down one row turns i' <= i into i' <= i - 1.")
    passed("pixelrnn_receptive_field is the causal context: all rows above, and row i up to j.")
