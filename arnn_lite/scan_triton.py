"""A Triton kernel for the forward diagonal scan: all ``T`` steps in one launch.

Discussed in chapter 15 (``chapters/15_making_the_scan_fast.ipynb``).

On a GPU the PyTorch scan of :mod:`arnn_lite.scan` launches a dozen small kernels per
step, and their launch latency, not arithmetic, is the cost. This kernel runs the whole
forward recurrence in one launch: one program per batch element keeps its anti-diagonal's
rows in registers, loops over the steps, and writes the states, cells and gate
activations to the same buffers as the PyTorch forward, so the hand-written backward of
:class:`arnn_lite.scan._DiagonalScan` serves both.

**Status (honest).** Written without access to a GPU: it is tested against the PyTorch
path only in Triton's CPU interpreter (``TRITON_INTERPRET=1``), and never timed. So it is
*opt-in*: ``ARNN_SCAN=triton`` or ``arnn_lite.scan.use_backend("triton")``. The dot
products use IEEE fp32 (no TF32), to match the PyTorch path.
"""

from __future__ import annotations

import os

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # e.g. a CPU-only PyTorch build
    triton = None

__all__ = ["available", "scan_forward"]


def available(device) -> bool:
    """Whether the kernel can run on ``device``: Triton installed, and CUDA (or the
    interpreter, ``TRITON_INTERPRET=1``, which runs it on the CPU)."""
    if triton is None:
        return False
    return torch.device(device).type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"


if triton is not None:

    @triton.jit
    def _sigmoid(x):
        return 1.0 / (1.0 + tl.exp(-x))

    @triton.jit
    def _tanh(x):
        return 2.0 * _sigmoid(2.0 * x) - 1.0

    @triton.jit
    def _gate(x, left, up, WIN, WCAT, BIAS, gate, C, S, HID: tl.constexpr, kc, ks, j):
        """Pre-activation of one gate for all rows: ``(BH, BHID)``."""
        rows_out = gate * HID + j[None, :]  # output units of this gate
        unit = j[None, :] < HID
        w_in = tl.load(WIN + rows_out * C + kc[:, None], mask=(kc[:, None] < C) & unit, other=0.0)
        w_l = tl.load(WCAT + rows_out * (2 * S) + ks[:, None], mask=(ks[:, None] < S) & unit, other=0.0)
        w_u = tl.load(WCAT + rows_out * (2 * S) + S + ks[:, None], mask=(ks[:, None] < S) & unit, other=0.0)
        bias = tl.load(BIAS + gate * HID + j, mask=j < HID, other=0.0)
        out = tl.dot(x, w_in, input_precision="ieee") + tl.dot(left, w_l, input_precision="ieee")
        return out + tl.dot(up, w_u, input_precision="ieee") + bias[None, :]

    @triton.jit
    def _scan_forward_kernel(X, WIN, WCAT, BIAS, WF, OFFSET, GIVEN, STATES, CELLS, ACT, LOGITS,
                             T, H, W, B, C, temperature,
                             HID: tl.constexpr, S: tl.constexpr, FEEDBACK: tl.constexpr,
                             KIND: tl.constexpr, BH: tl.constexpr, BC: tl.constexpr,
                             BS: tl.constexpr, BHID: tl.constexpr):
        # Layouts (contiguous): X (T, H, B, C); STATES (T+1, S, H+1, B); CELLS (T+1, HID, H, B);
        # ACT (T, 4*HID, H, B); OFFSET, GIVEN, LOGITS (T, 1, H, B).
        b = tl.program_id(0)
        r, kc = tl.arange(0, BH), tl.arange(0, BC)
        ks, j = tl.arange(0, BS), tl.arange(0, BHID)
        for t in range(T):
            lo = tl.maximum(t - W + 1, 0)
            hi = tl.minimum(t, H - 1) + 1
            live = (r >= lo) & (r < hi)  # rows of this anti-diagonal that hold a pixel
            x = tl.load(X + ((t * H + r[:, None]) * B + b) * C + kc[None, :],
                        mask=live[:, None] & (kc[None, :] < C), other=0.0)  # (BH, BC)
            state_mask = live[:, None] & (ks[None, :] < S)
            base = (t * S + ks[None, :]) * (H + 1)
            left = tl.load(STATES + (base + r[:, None] + 1) * B + b, mask=state_mask, other=0.0)
            up = tl.load(STATES + (base + r[:, None]) * B + b, mask=state_mask, other=0.0)
            o = _sigmoid(_gate(x, left, up, WIN, WCAT, BIAS, 0, C, S, HID, kc, ks, j))
            f = _sigmoid(_gate(x, left, up, WIN, WCAT, BIAS, 1, C, S, HID, kc, ks, j))
            i = _sigmoid(_gate(x, left, up, WIN, WCAT, BIAS, 2, C, S, HID, kc, ks, j))
            g = _tanh(_gate(x, left, up, WIN, WCAT, BIAS, 3, C, S, HID, kc, ks, j))
            m = live[:, None] & (j[None, :] < HID)
            c_prev = tl.load(CELLS + ((t * HID + j[None, :]) * H + r[:, None]) * B + b, mask=m, other=0.0)
            c = f * c_prev + i * g
            h = o * _tanh(c)
            tl.store(CELLS + (((t + 1) * HID + j[None, :]) * H + r[:, None]) * B + b, c, mask=m)
            act = ACT + ((t * 4 * HID + j[None, :]) * H + r[:, None]) * B + b
            tl.store(act, o, mask=m)
            tl.store(act + HID * H * B, f, mask=m)
            tl.store(act + 2 * HID * H * B, i, mask=m)
            tl.store(act + 3 * HID * H * B, g, mask=m)
            tl.store(STATES + ((((t + 1) * S + j[None, :]) * (H + 1)) + r[:, None] + 1) * B + b, h, mask=m)
            if FEEDBACK:
                w_f = tl.load(WF + j, mask=j < HID, other=0.0)
                at = (t * H + r) * B + b
                offset = tl.load(OFFSET + at, mask=live, other=0.0)
                logit = tl.sum(h * w_f[None, :], axis=1) + offset
                if KIND == 0:  # the kinds of arnn_lite.scan.Feedback, in _KINDS' order
                    a = _sigmoid(logit)
                elif KIND == 1:
                    a = _sigmoid((logit + tl.load(GIVEN + at, mask=live, other=0.0)) / temperature)
                else:
                    a = tl.load(GIVEN + at, mask=live, other=0.0)
                tl.store(LOGITS + at, logit, mask=live)
                tl.store(STATES + ((((t + 1) * S + HID) * (H + 1)) + r + 1) * B + b, a, mask=live)
            tl.debug_barrier()  # this step's states are read by neighbouring rows next step


_KINDS = {"deterministic": 0, "sample": 1, "teacher": 2}  # Feedback.kind -> KIND


def _block(n: int) -> int:
    return max(16, triton.next_power_of_2(n))  # tl.dot needs every dimension >= 16


def scan_forward(X, w_in, w_cat, bias, feedback, W):
    """Run the forward scan kernel; returns the buffers of the PyTorch forward:
    ``states (T+1, S, H+1, B), cells (T+1, hidden, H, B), act (T, 4*hidden, H, B),
    logits (T, 1, H, B) or None``. ``feedback``: an :class:`arnn_lite.scan.Feedback` whose
    per-pixel tensors are ``(T, 1, H, B)``, or ``None``."""
    T, H, B, C = X.shape
    hidden, has_feedback = w_in.shape[0] // 4, feedback is not None
    S = hidden + int(has_feedback)
    states = X.new_zeros(T + 1, S, H + 1, B)
    cells = X.new_zeros(T + 1, hidden, H, B)
    act = X.new_zeros(T, 4 * hidden, H, B)
    logits = X.new_zeros(T, 1, H, B) if has_feedback else None
    dummy = X.new_zeros(1)
    given = feedback.given if has_feedback else None
    _scan_forward_kernel[(B,)](
        X.contiguous(), w_in.contiguous(), w_cat.contiguous(), bias.contiguous(),
        feedback.weight.contiguous() if has_feedback else dummy,
        feedback.offset.contiguous() if has_feedback else dummy,
        given.contiguous() if given is not None else dummy, states, cells, act,
        logits if has_feedback else dummy, T, H, W, B, C,
        float(feedback.temperature) if has_feedback else 1.0,
        HID=hidden, S=S, FEEDBACK=has_feedback, KIND=_KINDS[feedback.kind] if has_feedback else 0,
        BH=_block(H), BC=_block(C), BS=_block(S), BHID=_block(hidden))
    return states, cells, act, logits
