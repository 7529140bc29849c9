"""The diagonal scan with a hand-written backward pass (the fast path).

Derived in chapter 15 (``chapters/15_making_the_scan_fast.ipynb``).

:meth:`arnn_lite.rnn.DiagonalLSTM.scan` is the readable version: skew the whole
input-to-state map, then one anti-diagonal per Python step with every operation
recorded by autograd. For the small tensors of an attention layer the time goes into
overhead and memory traffic, not arithmetic. :func:`diagonal_scan` computes the same
function differently:

* **Scan order, pixels as rows.** The input is gathered once, by a precomputed index,
  into ``(T, H, B, C)``: step ``t``, row ``r`` of the skewed map, batch, channel. A step
  is then a ``(H·B, C)`` matrix, its state-to-state product one ``addmm``, and the "pixel
  above" shift a copy of a contiguous block. Flipping (inverse raster order) and
  unskewing are folded into the gather indices: no skewed copy of anything.
* **No precomputed gates.** ``K_is ⊛ x_t`` is computed inside the step (a second
  ``addmm``), so the ``(B, 4·hidden, H, T)`` tensor of the readable path never exists.
* **No autograd graph.** One ``autograd.Function`` for the whole scan; its backward loop
  is written out by hand (the LSTM derivatives, in place), and every weight gradient is
  one large matrix product after the loop.

With ``feedback`` it is AttentionRNN's forward scan: the predicted value ``a`` (or the
relaxed-Bernoulli sample, or the teacher's value) is an extra state channel. Tests check
that it equals the autograd path and the per-pixel reference, values and gradients.
``use_fused(False)`` or the environment variable ``ARNN_SCAN=autograd`` switch back.
"""

from __future__ import annotations

import contextlib
import os

import torch

from . import scan_triton

__all__ = ["diagonal_scan", "to_scan_order", "from_scan_order", "use_fused", "use_backend",
           "fused_enabled", "backend"]

BACKENDS = ("fused", "autograd", "triton")
_BACKEND = os.environ.get("ARNN_SCAN", "fused")
_INDEX_CACHE: dict = {}


def backend() -> str:
    """The scan in use: ``"fused"`` (default), ``"autograd"`` (the readable loop) or
    ``"triton"`` (fused, with the forward as one Triton kernel; opt-in, see
    :mod:`arnn_lite.scan_triton`). Set by ``ARNN_SCAN`` or :func:`use_backend`."""
    if _BACKEND not in BACKENDS:
        raise ValueError(f"ARNN_SCAN: expected one of {list(BACKENDS)}, got {_BACKEND!r}")
    return _BACKEND


def fused_enabled() -> bool:
    """Whether DiagonalLSTM and AttentionRNN use :func:`diagonal_scan` (the default)."""
    return backend() != "autograd"


@contextlib.contextmanager
def use_backend(name: str):
    """Context manager: run the scans inside with backend ``name`` (see :func:`backend`)."""
    global _BACKEND
    if name not in BACKENDS:
        raise ValueError(f"name: expected one of {list(BACKENDS)}, got {name!r}")
    old, _BACKEND = _BACKEND, name
    try:
        yield
    finally:
        _BACKEND = old


def use_fused(enabled: bool = True):
    """Context manager: the fused (``True``) or the readable autograd path."""
    return use_backend("fused" if enabled else "autograd")


def scan_indices(H: int, W: int, reverse: bool, device):
    """Gather indices between image order and scan order (cached).

    Returns:
        ``(to_scan (T*H,), from_scan (H*W,))``: ``to_scan[t*H + r]`` is the flat image
        position ``i*W + j`` read at step ``t``, row ``r`` (``H*W``, a zero row, where that
        is no pixel); ``from_scan[i*W + j]`` is where pixel ``(i, j)`` sits in scan order.
        ``reverse`` scans the image flipped in H and W.
    """
    key = (H, W, reverse, str(device))
    if key not in _INDEX_CACHE:
        T = H + W - 1
        t, r = torch.arange(T)[:, None], torch.arange(H)[None, :]  # (T, 1), (1, H)
        i, j = r, t - r  # scan (t, r) reads pixel (i, j) of the (flipped) image
        valid = (j >= 0) & (j < W)
        if reverse:
            i, j = H - 1 - i, W - 1 - j
        to_scan = torch.where(valid, i * W + j, H * W).reshape(-1)  # (T*H,)
        from_scan = torch.empty(H * W, dtype=torch.long)
        from_scan[to_scan[valid.reshape(-1)]] = torch.arange(T * H)[valid.reshape(-1)]
        _INDEX_CACHE[key] = (to_scan.to(device), from_scan.to(device))
    return _INDEX_CACHE[key]


def to_scan_order(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (T, H, B, C)`` by ``index`` (:func:`scan_indices`); zeros off-image."""
    B, C, H, W = x.shape
    rows = x.permute(2, 3, 0, 1).reshape(H * W, B, C)  # (H*W, B, C): one row per pixel
    rows = torch.cat([rows, rows.new_zeros(1, B, C)])  # (H*W + 1, B, C): last row = no pixel
    return rows.index_select(0, index).view(-1, H, B, C)  # (T, H, B, C)


def from_scan_order(y: torch.Tensor, index: torch.Tensor, W: int) -> torch.Tensor:
    """``(T, H, B, C) -> (B, C, H, W)`` by ``index`` (:func:`scan_indices`)."""
    T, H, B, C = y.shape
    pixels = y.reshape(T * H, B, C).index_select(0, index)  # (H*W, B, C)
    return pixels.view(H, W, B, C).permute(2, 3, 0, 1).contiguous()  # (B, C, H, W)


def _rows(t, H, W):
    """Rows ``[lo, hi)`` of step ``t`` that hold a pixel: started (``r <= t``), not
    finished (``t - r < W``). Only these are computed; the other ~half of the skewed
    grid never is."""
    return max(0, t - W + 1), min(t, H - 1) + 1


class _DiagonalScan(torch.autograd.Function):
    """Forward and hand-written backward of the scan, see the module docstring.

    Per step, tensors are channels-first over the step's pixel rows, ``(channels, rows,
    B)``, so gates and states are contiguous blocks. States live in ``states``
    ``(T + 1, S, H + 1, B)``: step ``t``'s state of pixel row ``r`` at ``[t + 1, :, r + 1]``,
    with a zero step 0 and a zero row 0, so that row ``r`` reads its left neighbour at
    ``[t, :, r + 1]`` and the pixel above at ``[t, :, r]`` without any copy.
    """

    @staticmethod
    def forward(ctx, X, w_in, w_cat, bias, w_f, lb, given, mode, temperature, W, kernel=False):
        ctx.mode, ctx.temperature, ctx.W = mode, temperature, W
        if kernel:  # the Triton forward writes the same buffers (scan_triton.py)
            states, cells, act, logits = scan_triton.scan_forward(X, w_in, w_cat, bias, w_f, lb, given,
                                                                  mode, temperature, W)
            ctx.save_for_backward(X, w_in, w_cat, w_f, states, cells)
            ctx.saved = _StepsFromBuffers(states, cells, act, W)
            return states[1:, :, 1:], logits
        T, H, B, _ = X.shape
        hidden, feedback = w_in.shape[0] // 4, w_f is not None
        S = hidden + int(feedback)  # state channels: h (and the fed-back value a)
        states = X.new_zeros(T + 1, S, H + 1, B)
        cells = X.new_zeros(T + 1, hidden, H, B)  # cells[t + 1, :, r]: c of step t, row r
        logits = X.new_zeros(T, 1, H, B) if feedback else None
        saved = []
        for t in range(T):
            lo, hi = _rows(t, H, W)
            n = (hi - lo) * B
            z = torch.cat([states[t, :, lo + 1:hi + 1], states[t, :, lo:hi]])  # (2S, rows, B): [left; up]
            act = torch.addmm(bias[:, None], w_in, X[t, lo:hi].reshape(n, -1).t())  # K_is ⊛ x_t
            act.addmm_(w_cat, z.view(2 * S, n))  # + K_ss ⊛ [left; up]: (4h, n)
            act[:3 * hidden].sigmoid_()
            act[3 * hidden:].tanh_()
            o, f, i, g = act.view(-1, hi - lo, B).split(hidden)  # (hidden, rows, B) each
            c = torch.mul(f, cells[t, :, lo:hi], out=cells[t + 1, :, lo:hi]).addcmul_(i, g)
            tc = torch.tanh(c)
            out = states[t + 1, :, lo + 1:hi + 1]  # (S, rows, B)
            torch.mul(o, tc, out=out[:hidden])
            if feedback:
                l_t = logits[t, :, lo:hi]  # (1, rows, B)
                torch.addmm(lb[t, :, lo:hi].reshape(1, n), w_f, out[:hidden].reshape(hidden, n),
                            out=l_t.view(1, n))
                _feed(out[hidden:], l_t, given, t, lo, hi, mode, temperature)
            saved.append((z, act, tc))
        ctx.save_for_backward(X, w_in, w_cat, w_f, states, cells)
        ctx.saved = saved
        return states[1:, :, 1:], logits

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_states, g_logits):
        X, w_in, w_cat, w_f, states, cells = ctx.saved_tensors
        T, S, H, B = states.shape[0] - 1, states.shape[1], states.shape[2] - 1, states.shape[3]
        hidden, feedback, W = w_in.shape[0] // 4, w_f is not None, ctx.W
        d_x = torch.zeros_like(X)  # (T, H, B, C)
        d_w_in, d_w_cat = torch.zeros_like(w_in), torch.zeros_like(w_cat)
        d_bias = w_in.new_zeros(w_in.shape[0])
        d_wf = torch.zeros_like(w_f) if feedback else None
        d_lb = X.new_zeros(T, 1, H, B) if feedback else None
        d_prev = X.new_zeros(S, H + 1, B)  # gradient of the states of step t (padded rows)
        d_cells = [X.new_zeros(hidden, H, B), X.new_zeros(hidden, H, B)]  # ping-pong, see below
        for t in reversed(range(T)):
            lo, hi = _rows(t, H, W)
            n, (z, act, tc) = (hi - lo) * B, ctx.saved[t]
            d_out = d_prev[:, lo + 1:hi + 1]  # (S, rows, B)
            if g_states is not None:
                d_out = d_out + g_states[t, :, lo:hi]
            dh = d_out[:hidden].reshape(hidden, n)
            if feedback:
                h_t = states[t + 1, :hidden, lo + 1:hi + 1].reshape(hidden, n)
                dl = _feed_backward(d_out[hidden:], states[t + 1, hidden:, lo + 1:hi + 1], g_logits,
                                    t, lo, hi, ctx.mode, ctx.temperature).reshape(1, n)
                d_lb[t, :, lo:hi] = dl.view(1, hi - lo, B)
                d_wf.addmm_(dl, h_t.t())
                dh = torch.addmm(dh, w_f.t(), dl)
            dh = dh.view(hidden, hi - lo, B)
            o, f, i, g = act.view(-1, hi - lo, B).split(hidden)
            dc = torch.addcmul(d_cells[t % 2][:, lo:hi], dh * o, 1 - tc * tc)
            s = act[:3 * hidden]
            d_act = torch.cat([dh * tc, dc * cells[t, :, lo:hi], dc * g, dc * i]).view(-1, n)  # d[o, f, i, g]
            d_act[:3 * hidden].mul_(s - s * s)  # σ' = σ (1 - σ)
            d_act[3 * hidden:].mul_(1 - g.reshape(hidden, n) ** 2)  # tanh' = 1 - tanh²
            # Cells of step t - 1. Row ranges only grow with t, so every row step t - 1 reads
            # is written here, and the other buffer's stale rows are never read: no zeroing.
            torch.mul(dc, f, out=d_cells[(t - 1) % 2][:, lo:hi])
            torch.mm(d_act.t(), w_in, out=d_x[t, lo:hi].view(n, -1))
            d_w_in.addmm_(d_act, X[t, lo:hi].reshape(n, -1))
            d_w_cat.addmm_(d_act, z.view(2 * S, n).t())
            d_bias.add_(d_act.sum(1))
            dz = torch.mm(w_cat.t(), d_act).view(2 * S, hi - lo, B)  # d[left; up]
            d_prev.zero_()
            d_prev[:, lo + 1:hi + 1] = dz[:S]
            d_prev[:, lo:hi] += dz[S:]  # row r's "up" was row r-1's state
        return d_x, d_w_in, d_w_cat, d_bias, d_wf, d_lb, None, None, None, None, None


class _StepsFromBuffers:
    """``(z, act, tc)`` of step ``t`` as the backward reads them, from full-size buffers."""

    def __init__(self, states, cells, act, W):
        self.states, self.cells, self.act, self.W = states, cells, act, W

    def __getitem__(self, t):
        H = self.cells.shape[2]
        lo, hi = _rows(t, H, self.W)
        z = torch.cat([self.states[t, :, lo + 1:hi + 1], self.states[t, :, lo:hi]])  # (2S, rows, B)
        act = self.act[t, :, lo:hi].reshape(self.act.shape[1], -1)  # (4h, rows*B)
        return z, act, torch.tanh(self.cells[t + 1, :, lo:hi])


def _feed(a, logits, given, t, lo, hi, mode, temperature):
    """The value fed forward at step ``t`` (written into ``a``, ``(1, rows, B)``)."""
    if mode == "teacher":
        a.copy_(given[t, :, lo:hi])
    elif mode == "sample":
        torch.sigmoid((logits + given[t, :, lo:hi]) / temperature, out=a)  # relaxed Bernoulli
    else:
        torch.sigmoid(logits, out=a)


def _feed_backward(da, a, g_logits, t, lo, hi, mode, temperature):
    """Gradient of the logits of step ``t`` from that of the fed values ``da``."""
    dl = da * (a - a * a) if mode != "teacher" else torch.zeros_like(da)  # σ' = a (1 - a)
    if mode == "sample":
        dl = dl / temperature
    if g_logits is not None:
        dl = dl + g_logits[t, :, lo:hi]
    return dl


def diagonal_scan(X, w_in, w_cat, bias, w_f=None, lb=None, given=None, mode="deterministic",
                  temperature=1.0):
    """The diagonal LSTM recurrence in scan order (see the module docstring).

    Args:
        X: input in scan order ``(T, H, B, C)`` (:func:`to_scan_order`).
        w_in: ``K_is`` as a matrix ``(4*hidden, C)``; gates ordered ``[o, f, i, g]``.
        w_cat: ``K_ss`` over ``[left | up]`` states ``(4*hidden, 2S)``; bias ``(4*hidden,)``.
        w_f, lb: AttentionRNN feedback: readout weights ``(1, hidden)`` and the other
            direction's logit in scan order ``(T, H, B, 1)``; ``None`` for a plain LSTM.
        given: ``(T, H, B, 1)`` logistic noise (``mode="sample"``) or teacher values
            (``mode="teacher"``).
        mode: ``"deterministic"`` (feed back ``σ(ℓ)``), ``"sample"`` or ``"teacher"``.

    Returns:
        ``(states, logits)`` in scan order: ``(T, H, B, S)`` with ``S = hidden`` (plus the
        fed value with feedback) and ``(T, H, B, 1)`` (``None`` without feedback).
    """
    W = X.shape[0] - X.shape[1] + 1  # T = H + W - 1
    kernel = backend() == "triton"
    if kernel and not scan_triton.available(X.device):
        raise ValueError(f"ARNN_SCAN: 'triton' needs a CUDA device (or TRITON_INTERPRET=1) and "
                         f"Triton installed, got a {X.device.type} tensor")
    lb, given = (_channels_first(a) for a in (lb, given))  # (T, 1, H, B)
    tensors = (X, w_in, w_cat, bias, w_f, lb, given)
    device_type = X.device.type
    if torch.is_autocast_enabled(device_type):  # the recurrence runs in float32
        with torch.autocast(device_type, enabled=False):
            out = _DiagonalScan.apply(*(_as(a, torch.float32) for a in tensors), mode, temperature,
                                      W, kernel)
    else:
        out = _DiagonalScan.apply(*(_as(a, X.dtype) for a in tensors), mode, temperature, W, kernel)
    return tuple(_channels_last(a) for a in out)  # (T, S, H, B) -> (T, H, B, S)


def _channels_first(a):
    return a.permute(0, 3, 1, 2).contiguous() if a is not None else None  # (T, C, H, B)


def _channels_last(a):
    return a.permute(0, 2, 3, 1) if a is not None else None  # (T, H, B, C), a view


def _as(tensor, dtype):
    return tensor.to(dtype) if tensor is not None else None
