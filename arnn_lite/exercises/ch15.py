"""Checkers for chapter 15 (``chapters/15_making_the_scan_fast.ipynb``)."""

from __future__ import annotations

import torch

from ..scan import _rows
from . import ExerciseError, cases, check_close, passed, run_student, seed

__all__ = ["check_rows_of_step", "check_lstm_cell_backward", "lstm_cell_reference"]

_CASES = [(0, 4, 6), (3, 4, 6), (5, 4, 6), (8, 4, 6), (2, 1, 5), (2, 5, 1), (48, 49, 49), (60, 49, 49), (96, 49, 49)]


def check_rows_of_step(fn) -> None:
    """``fn(t, H, W) -> (lo, hi)``: the rows of step ``t`` that hold a pixel."""
    extra = lambda r: [(r.randint(-1, H + W), H, W) for H, W in  # noqa: E731
                       [(r.randint(1, 60), r.randint(1, 60)) for _ in range(6)]]
    for t, H, W in cases(_CASES, extra):
        got = run_student(fn, t, H, W, name="rows_of_step", forbid=[_rows])
        expected = _rows(t, H, W)
        if not (isinstance(got, tuple) and len(got) == 2):
            raise ExerciseError(f"rows_of_step: return a tuple (lo, hi), got {got!r}.")
        if tuple(int(v) for v in got) != expected:
            if tuple(got) == (0, expected[1]):
                hint = ("lo is too small: a row r whose pixel t - r lies beyond the right edge "
                        "(t - r >= W) has finished; the first live row is max(0, t - W + 1).")
            elif tuple(got) == (expected[0], t + 1):
                hint = "hi is too large: there are only H rows, so hi is at most H."
            elif got[1] == expected[1] - 1:
                hint = "hi is exclusive (Python slice convention): the last live row is min(t, H - 1)."
            else:
                hint = "Row r holds pixel (r, t - r); it is live when 0 <= t - r < W and r < H."
            raise ExerciseError(f"rows_of_step({t}, {H}, {W}): got {tuple(got)}, expected {expected}. {hint}")
    passed("Step t computes rows max(0, t - W + 1) to min(t, H - 1): exactly the pixels of anti-diagonal t.")


def lstm_cell_reference(gates, c_prev):
    """Forward LSTM cell on pre-activations ``gates = [o; f; i; g]`` ``(4h, N)``."""
    o, f, i = torch.sigmoid(gates[: 3 * len(c_prev)]).chunk(3)
    g = torch.tanh(gates[3 * len(c_prev):])
    c = f * c_prev + i * g
    return o * torch.tanh(c), c


def check_lstm_cell_backward(fn) -> None:
    """``fn(gates, c_prev, dh, dc) -> (d_gates, d_c_prev)`` against autograd."""
    seed(0)
    hidden, n = 3, 5
    gates = torch.randn(4 * hidden, n, dtype=torch.float64, requires_grad=True)
    c_prev = torch.randn(hidden, n, dtype=torch.float64, requires_grad=True)
    dh, dc = torch.randn(hidden, n, dtype=torch.float64), torch.randn(hidden, n, dtype=torch.float64)
    h, c = lstm_cell_reference(gates, c_prev)
    d_gates, d_c_prev = torch.autograd.grad((h, c), (gates, c_prev), (dh, dc))
    got = run_student(fn, gates.detach(), c_prev.detach(), dh, dc, name="lstm_cell_backward")
    if not (isinstance(got, tuple) and len(got) == 2):
        raise ExerciseError(f"lstm_cell_backward: return a tuple (d_gates, d_c_prev), got {type(got).__name__}.")
    d_gates_no_dc = torch.autograd.grad(lstm_cell_reference(gates, c_prev), (gates,),
                                        (dh, torch.zeros_like(dc)))[0]
    if torch.allclose(got[0].to(d_gates.dtype), d_gates_no_dc, atol=1e-8):
        hint = ("You dropped the incoming cell gradient dc: the cell gets dc (from the next step) "
                "plus dh · o · (1 - tanh(c)²) (through h).")
    else:
        hint = ("Check the order [o, f, i, g] and the activation derivatives: σ(1 - σ) for o, f, i "
                "and 1 - tanh² for g, taken at the activations, not at the pre-activations.")
    check_close("d_gates", got[0], d_gates, atol=1e-8, hint=hint)
    check_close("d_c_prev", got[1], d_c_prev, atol=1e-8,
                hint="The previous cell enters only through f · c_prev: its gradient is "
                     "(total cell gradient) · f.")
    passed("Your hand-written cell backward equals autograd: this is one step of the fused scan's backward loop.")
