"""Checkers for the exercises of chapter 03, the diagonal LSTM
(``chapters/03_diagonal_lstm.ipynb``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import reference, scan
from ..ops import skew, unskew
from ..rnn import DiagonalBiLSTM, DiagonalLSTM
from . import ExerciseError, cases, check_close, check_shape, passed, rng, run_student, seed

__all__ = ["check_lstm_step", "check_state_to_state_by_hand", "check_receptive_field",
           "check_fixed_scan", "lstm_step_reference", "receptive_field_reference",
           "planted_bug_scan"]


def lstm_step_reference(gates: torch.Tensor, c_prev: torch.Tensor):
    """Known-correct LSTM step; gates ``(B, 4K, ...)`` ordered ``[o, f, i, g]``."""
    o, f, i, g = gates.chunk(4, dim=1)  # each (B, K, ...)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def check_lstm_step(lstm_step) -> None:
    """Exercise ex-03-lstm-step: ``lstm_step(gates, c_prev) -> (h, c)``."""
    gen = rng(3)
    for K, shape in cases([(3, (2, 5)), (1, (1, 4, 6)), (2, (3, 1))], [(2, (2, 3, 3)), (4, (1, 7))]):
        gates = torch.randn(shape[0], 4 * K, *shape[1:], generator=gen, dtype=torch.float64)
        c_prev = torch.randn(shape[0], K, *shape[1:], generator=gen, dtype=torch.float64)
        got = run_student(lstm_step, gates.clone(), c_prev.clone(), name="lstm_step")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise ExerciseError(f"lstm_step: expected a pair (h, c), got {type(got).__name__}")
        h, c = lstm_step_reference(gates, c_prev)
        where = f"lstm_step(gates {tuple(gates.shape)}, c_prev {tuple(c_prev.shape)})"
        order = ("The gates are ordered [o, f, i, g] along dim 1: "
                 "o, f, i, g = gates.chunk(4, dim=1).")
        check_close(f"{where}: c", got[1], c, atol=1e-10,
                    hint=f"c = sigmoid(f) * c_prev + sigmoid(i) * tanh(g). {order}")
        check_close(f"{where}: h", got[0], h, atol=1e-10,
                    hint="h = sigmoid(o) * tanh(c), with the NEW c; return (h, c) in that order.")
    passed("lstm_step computes c and h with gates ordered [o, f, i, g].")


def _taps(h_prev, weight, bias, swap=False):
    """``K_ss ⊛ h`` along a column; ``swap`` exchanges the taps (a classic mistake)."""
    w = weight.flip(-1) if swap else weight
    return F.conv1d(F.pad(h_prev, (1, 0)), w, bias)  # (B, 4K, H)


def check_state_to_state_by_hand(state_to_state_by_hand) -> None:
    """Exercise ex-03-state-taps: the 2×1 state-to-state convolution without ``conv1d``."""
    gen = rng(4)
    for B, K, H in cases([(2, 3, 5), (1, 1, 4), (3, 2, 1)], [(2, 2, 6), (1, 3, 2)]):
        h_prev = torch.randn(B, K, H, generator=gen, dtype=torch.float64)  # (B, K, H)
        weight = torch.randn(4 * K, K, 2, generator=gen, dtype=torch.float64)
        bias = torch.randn(4 * K, generator=gen, dtype=torch.float64)
        got = run_student(state_to_state_by_hand, h_prev.clone(), weight, bias,
                          name="state_to_state_by_hand")
        where = f"state_to_state_by_hand(h_prev {tuple(h_prev.shape)})"
        check_shape(where, got, (B, 4 * K, H), "One output per gate channel and per row.")
        if H > 1 and torch.allclose(got.detach().double(), _taps(h_prev, weight, bias, swap=True)):
            raise ExerciseError(
                f"{where}: the two taps are swapped. weight[..., 0] reads the row ABOVE "
                "(h_prev[..., r - 1], zero for r = 0) and weight[..., 1] the same row r "
                "(the pixel to the left).")
        check_close(where, got, _taps(h_prev, weight, bias), atol=1e-10,
                    hint="out[:, :, r] = weight[..., 0] @ h_prev[:, :, r-1] (zero for r = 0) "
                         "+ weight[..., 1] @ h_prev[:, :, r] + bias.")
    passed("your two taps reproduce the state-to-state convolution.")


def receptive_field_reference(i: int, j: int, height: int, width: int,
                              reverse: bool = False) -> torch.Tensor:
    """Known-correct receptive field of output ``(i, j)``, measured from input gradients
    (:func:`arnn_lite.reference.receptive_field`): bool ``(H, W)``."""
    seed(0)
    lstm = DiagonalLSTM(1, 2, reverse=reverse).double()
    x = torch.randn(1, 1, height, width, dtype=torch.float64)  # (1, 1, H, W)
    return reference.receptive_field(lstm, x, (i, j))  # (H, W)


def _random_fields(r):
    """Hidden cases: random pixels of random maps, both directions."""
    sizes = [(r.randint(1, 6), r.randint(1, 6)) for _ in range(4)]
    return [(r.randrange(H), r.randrange(W), H, W, k % 2 == 1) for k, (H, W) in enumerate(sizes)]


def check_receptive_field(receptive_field) -> None:
    """Exercise ex-03-receptive-field: which inputs the output ``(i, j)`` depends on."""
    visible = [(2, 3, 4, 6, False), (0, 0, 3, 3, False), (4, 1, 5, 2, False),
               (1, 2, 4, 6, True), (0, 0, 3, 3, True), (2, 0, 5, 2, True)]
    for i, j, H, W, reverse in cases(visible, _random_fields):
        got = run_student(receptive_field, i, j, H, W, reverse=reverse, name="receptive_field")
        where = f"receptive_field({i}, {j}, {H}, {W}, reverse={reverse})"
        check_shape(where, got, (H, W), "Return a bool tensor of shape (height, width).")
        expected = receptive_field_reference(i, j, H, W, reverse)
        got = got.bool()
        if not torch.equal(got, expected):
            wrong = (got != expected).nonzero()[0].tolist()
            should = bool(expected[wrong[0], wrong[1]])
            hint = ("The output pixel sees itself and everything up and to the left "
                    "(reverse=False), or down and to the right (reverse=True); both "
                    "inequalities are inclusive.")
            raise ExerciseError(
                f"{where}: input {tuple(wrong)} should {'be' if should else 'NOT be'} in the "
                f"receptive field (measured from the gradients of a DiagonalLSTM). {hint}")
    passed("your receptive fields match the gradients of DiagonalLSTM in both directions.")


def planted_bug_scan(lstm, x):
    """The scan of exercise 3.4 with its planted bug, as the chapter's cell defines it
    (tested equal): the "above" states are shifted the wrong way, so tap 0 reads the row
    BELOW. ``(B, C, H, W) -> (B, K, H, W)``."""
    B, _, H, W = x.shape
    K = lstm.hidden_channels
    w_above, w_left = lstm.state_to_state.weight.unbind(-1)  # each (4K, K): tap 0, tap 1
    pre = skew(lstm.input_to_state(x))  # (B, 4K, H, T)
    real = skew(torch.ones(1, 1, H, W, dtype=x.dtype))[0, 0]  # (H, T): 1 on real pixels
    h, c = x.new_zeros(B, K, H), x.new_zeros(B, K, H)  # states of column t-1
    outputs = []
    for pre_t, real_t in zip(pre.unbind(-1), real.unbind(-1)):  # T steps
        above = F.pad(h, (0, 1))[..., 1:]  # (B, K, H): the planted bug, row r + 1
        gates = (pre_t + torch.einsum("ok,bkh->boh", w_above, above)
                 + torch.einsum("ok,bkh->boh", w_left, h) + lstm.state_to_state.bias[:, None])
        o, f, i, g = gates.chunk(4, dim=1)  # each (B, K, H)
        c = (torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)) * real_t
        h = torch.sigmoid(o) * torch.tanh(c)  # (B, K, H)
        outputs.append(h)
    return unskew(torch.stack(outputs, dim=-1), W)  # (B, K, H, W)


# The package's own diagonal LSTM, in every form: an answer must fix the scan, not call these.
_PACKAGE_SCANS = [DiagonalLSTM.forward, DiagonalLSTM.scan, DiagonalLSTM.step, DiagonalLSTM.fused,
                  DiagonalBiLSTM.forward, reference.diagonal_lstm, scan.diagonal_scan]


def _field_problem(fixed_scan, lstm, x):
    """The first output pixel whose receptive field (measured from input gradients, as the
    chapter does) is not the quadrant up and to the left, as a hint; ``None`` if all are."""
    H, W = x.shape[-2:]
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")  # (H, W)

    def student(inp):
        return run_student(fixed_scan, lstm, inp, name="fixed_scan", forbid=_PACKAGE_SCANS)

    for i, j in [(H // 2, W // 2), (H - 1, W - 1), (0, W - 1), (H - 1, 0)]:
        seen = reference.receptive_field(student, x, (i, j))  # (H, W)
        quadrant = (rows <= i) & (cols <= j)  # (H, W)
        extra, missing = seen & ~quadrant, quadrant & ~seen
        if extra.any() or missing.any():
            r, c = (extra if extra.any() else missing).nonzero()[0].tolist()
            below = bool((seen & (rows > i)).any())
            return (f"the receptive field of output ({i}, {j}) is wrong: input ({r}, {c}) "
                    f"{'is in it but should not be' if extra.any() else 'should be in it but is not'}"
                    + (". It reaches rows BELOW the output, which a scan in raster order never "
                       "sees: find the line that lets a pixel read a state from a lower row."
                       if below else ". It should be exactly the quadrant i' <= i, j' <= j."))
    return None


def check_fixed_scan(fixed_scan) -> None:
    """Exercise ex-03-debug-scan: ``fixed_scan(lstm, x)`` is the planted-bug scan, fixed."""
    seed(34)
    gen = rng(34)
    visible = [(2, 2, 3, 5, 5), (1, 1, 2, 4, 7), (2, 3, 4, 6, 3), (1, 2, 2, 1, 5), (1, 1, 2, 5, 1)]

    def extra(r):
        return [(r.randint(1, 2), r.randint(1, 3), r.randint(1, 4), r.randint(1, 7), r.randint(1, 7))
                for _ in range(3)]

    for B, C, K, H, W in cases(visible, extra):
        lstm = DiagonalLSTM(C, K).double()
        x = torch.randn(B, C, H, W, generator=gen, dtype=torch.float64)  # (B, C, H, W)
        with torch.no_grad():
            expected = lstm(x)  # (B, K, H, W)
            got = run_student(fixed_scan, lstm, x.clone(), name="fixed_scan", forbid=_PACKAGE_SCANS)
        where = f"fixed_scan on x of shape {(B, C, H, W)}"
        check_shape(where, got, expected.shape, "One output per hidden channel and pixel: (B, K, H, W).")
        if H > 1 and W > 1:
            problem = _field_problem(fixed_scan, lstm, x)
            if problem:
                raise ExerciseError(f"{where}: {problem} Measure it yourself with figures."
                                    "gradient_field(lambda x: fixed_scan(lstm, x), x, (i, j)).")
        check_close(where, got, expected, atol=1e-10,
                    hint="The receptive fields are right, the values are not: tap 0 "
                         "(state_to_state.weight[..., 0]) multiplies the state above, tap 1 the "
                         "state to the left, and the bias is added once.")
    passed("fixed_scan equals DiagonalLSTM, and every receptive field is the quadrant up and to the left.")
