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
  accumulated by one matrix product per step.

With a :class:`Feedback` it is AttentionRNN's forward scan: a scalar read out of each new
state (``σ`` of it, a relaxed-Bernoulli sample, or the teacher's value) is an extra state
channel. Tests check that it equals the autograd path and the per-pixel reference, values
and gradients.
``use_fused(False)`` or the environment variable ``ARNN_SCAN=autograd`` switch back.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from typing import Callable, Optional

import torch

from . import scan_triton
from ._checks import check_positive_number

__all__ = ["Feedback", "FEEDBACK_KINDS", "diagonal_scan", "to_scan_order", "from_scan_order",
           "use_fused", "use_backend", "fused_enabled", "backend"]

BACKENDS = ("fused", "autograd", "triton")
FEEDBACK_KINDS = ("deterministic", "sample", "teacher")
_BACKEND = os.environ.get("ARNN_SCAN", "fused")
_INDEX_CACHE: dict = {}


@dataclass(frozen=True, eq=False)
class Feedback:
    """A scalar read out of each new state and fed back as one extra state channel.

    At every pixel the scan reads out ``ℓ = weight · h + offset`` and feeds a value ``a``
    forward with ``h``; the pixels to the right and below read it through ``K_ss``. ``kind``
    says which value:

    * ``"deterministic"``: ``a = σ(ℓ)``;
    * ``"sample"``: ``a = σ((ℓ + given) / temperature)``, a relaxed-Bernoulli draw with the
      logistic noise ``given``;
    * ``"teacher"``: ``a = given`` (teacher forcing: ``ℓ`` is still read out, ``a`` is fixed).

    AttentionRNN's forward scan is the one user (chapters 05 and 06): ``weight`` reads its
    ``hᶠ`` and ``offset`` is the reverse direction's share of the logit, bias included.

    Attributes:
        weight: readout weights ``(1, hidden)``.
        offset: per pixel, ``(B, 1, H, W)`` in image order for
            :meth:`arnn_lite.rnn.DiagonalLSTM.fused`; :func:`diagonal_scan` takes every
            per-pixel tensor in scan order, ``(T, H, B, 1)`` (see :meth:`per_pixel`).
        given: per pixel like ``offset``: the noise or the teacher's values; ``None`` for
            ``"deterministic"``.
        kind: one of :data:`FEEDBACK_KINDS`.
        temperature: ``τ > 0`` of ``"sample"``.
    """

    weight: torch.Tensor
    offset: torch.Tensor
    given: Optional[torch.Tensor] = None
    kind: str = "deterministic"
    temperature: float = 1.0

    def __post_init__(self):
        if self.kind not in FEEDBACK_KINDS:
            raise ValueError(f"kind: expected one of {list(FEEDBACK_KINDS)}, got {self.kind!r}")
        needs_given = self.kind != "deterministic"
        if needs_given != (self.given is not None):
            expected = "a tensor shaped like offset" if needs_given else "None"
            raise ValueError(f"given: expected {expected} for kind={self.kind!r}, "
                             f"got {type(self.given).__name__}")
        if self.kind == "sample":
            check_positive_number(self.temperature, "temperature")

    def per_pixel(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "Feedback":
        """The same feedback with ``fn`` applied to the per-pixel tensors ``offset`` and
        ``given`` (to move them from image to scan order, or to another dtype)."""
        return replace(self, offset=fn(self.offset),
                       given=fn(self.given) if self.given is not None else None)


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
    ``[t, :, r + 1]`` and the pixel above at ``[t, :, r]`` without any copy. Below, ``n`` is
    ``rows * B``, ``h`` is ``hidden`` and the per-pixel feedback tensors are ``(T, 1, H, B)``.
    """

    @staticmethod
    def forward(ctx, X, w_in, w_cat, bias, w_f, offset, feedback, W, kernel=False):
        ctx.feedback, ctx.W = feedback, W
        if kernel:  # the Triton forward writes the same buffers (scan_triton.py)
            buffers = scan_triton.scan_forward(X, w_in, w_cat, bias, feedback, W)
            states, cells, act, logits = buffers
            ctx.save_for_backward(X, w_in, w_cat, w_f, states, cells)
            ctx.saved = _StepsFromBuffers(states, cells, act, W)
            return states[1:, :, 1:], logits
        T, H, B, _ = X.shape
        hidden = w_in.shape[0] // 4
        S = hidden + int(feedback is not None)  # state channels: h (and the fed-back value a)
        states = X.new_zeros(T + 1, S, H + 1, B)
        cells = X.new_zeros(T + 1, hidden, H, B)  # cells[t + 1, :, r]: c of step t, row r
        logits = X.new_zeros(T, 1, H, B) if feedback is not None else None
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
            if feedback is not None:
                l_t = logits[t, :, lo:hi]  # (1, rows, B)
                h_t = out[:hidden].reshape(hidden, n)  # (h, n)
                torch.addmm(offset[t, :, lo:hi].reshape(1, n), w_f, h_t,
                            out=l_t.view(1, n))  # ℓ = w_f · h + offset: (1, n)
                _feed(out[hidden:], l_t, feedback, t, lo, hi)
            saved.append((z, act, tc))
        ctx.save_for_backward(X, w_in, w_cat, w_f, states, cells)
        ctx.saved = saved
        return states[1:, :, 1:], logits

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_states, g_logits):
        # g_states (T, S, H, B) and g_logits (T, 1, H, B): gradients of the two outputs (or None)
        X, w_in, w_cat, w_f, states, cells = ctx.saved_tensors  # X (T, H, B, C), w_f (1, h)
        T, S, H, B = states.shape[0] - 1, states.shape[1], states.shape[2] - 1, states.shape[3]
        hidden, feedback, W = w_in.shape[0] // 4, ctx.feedback, ctx.W
        d_x = torch.zeros_like(X)  # (T, H, B, C)
        d_w_in, d_w_cat = torch.zeros_like(w_in), torch.zeros_like(w_cat)  # (4h, C), (4h, 2S)
        d_bias = w_in.new_zeros(w_in.shape[0])  # (4h,)
        d_wf = torch.zeros_like(w_f) if feedback is not None else None  # (1, h)
        d_offset = X.new_zeros(T, 1, H, B) if feedback is not None else None  # (T, 1, H, B)
        d_prev = X.new_zeros(S, H + 1, B)  # gradient of the states of step t (padded rows)
        d_cells = [X.new_zeros(hidden, H, B) for _ in range(2)]  # 2 x (h, H, B): ping-pong
        for t in reversed(range(T)):
            lo, hi = _rows(t, H, W)
            n, (z, act, tc) = (hi - lo) * B, ctx.saved[t]  # (2S, rows, B), (4h, n), (h, rows, B)
            d_out = d_prev[:, lo + 1:hi + 1]  # (S, rows, B): from the steps that read this state
            if g_states is not None:
                d_out = d_out + g_states[t, :, lo:hi]  # (S, rows, B)
            dh = d_out[:hidden].reshape(hidden, n)  # (h, n)
            if feedback is not None:
                h_t = states[t + 1, :hidden, lo + 1:hi + 1].reshape(hidden, n)  # (h, n)
                dl = _feed_backward(d_out[hidden:], states[t + 1, hidden:, lo + 1:hi + 1], g_logits,
                                    t, lo, hi, feedback).reshape(1, n)  # (1, n): d ℓ
                d_offset[t, :, lo:hi] = dl.view(1, hi - lo, B)  # (1, rows, B): ℓ = w_f·h + offset
                d_wf.addmm_(dl, h_t.t())  # (1, h) += (1, n) @ (n, h)
                dh = torch.addmm(dh, w_f.t(), dl)  # (h, n) += (h, 1) @ (1, n)
            dh = dh.view(hidden, hi - lo, B)  # (h, rows, B)
            o, f, i, g = act.view(-1, hi - lo, B).split(hidden)  # (h, rows, B) each, activated
            # (h, rows, B): the cell's gradient, from step t + 1 and through h = o · tanh(c)
            dc = torch.addcmul(d_cells[t % 2][:, lo:hi], dh * o, 1 - tc * tc)
            s = act[:3 * hidden]  # (3h, n): σ of o, f, i
            d_act = torch.cat([dh * tc, dc * cells[t, :, lo:hi], dc * g, dc * i])  # (4h, rows, B)
            d_act = d_act.view(-1, n)  # (4h, n): d[o, f, i, g], after the activations
            d_act[:3 * hidden].mul_(s - s * s)  # (3h, n): σ' = σ (1 - σ)
            d_act[3 * hidden:].mul_(1 - g.reshape(hidden, n) ** 2)  # (h, n): tanh' = 1 - tanh²
            # Cells of step t - 1. Row ranges only grow with t, so every row step t - 1 reads
            # is written here, and the other buffer's stale rows are never read: no zeroing.
            torch.mul(dc, f, out=d_cells[(t - 1) % 2][:, lo:hi])  # (h, rows, B)
            torch.mm(d_act.t(), w_in, out=d_x[t, lo:hi].view(n, -1))  # (n, C) = (n, 4h) @ (4h, C)
            d_w_in.addmm_(d_act, X[t, lo:hi].reshape(n, -1))  # (4h, C) += (4h, n) @ (n, C)
            d_w_cat.addmm_(d_act, z.view(2 * S, n).t())  # (4h, 2S) += (4h, n) @ (n, 2S)
            d_bias.add_(d_act.sum(1))  # (4h,)
            dz = torch.mm(w_cat.t(), d_act).view(2 * S, hi - lo, B)  # (2S, rows, B): d[left; up]
            d_prev.zero_()  # (S, H + 1, B)
            d_prev[:, lo + 1:hi + 1] = dz[:S]  # (S, rows, B): row r's "left" was its own state
            d_prev[:, lo:hi] += dz[S:]  # (S, rows, B): row r's "up" was row r-1's state
        return d_x, d_w_in, d_w_cat, d_bias, d_wf, d_offset, None, None, None


class _StepsFromBuffers:
    """``(z, act, tc)`` of step ``t`` as the backward reads them, from full-size buffers."""

    def __init__(self, states, cells, act, W):
        # states (T+1, S, H+1, B), cells (T+1, h, H, B), act (T, 4h, H, B)
        self.states, self.cells, self.act, self.W = states, cells, act, W

    def __getitem__(self, t):
        H = self.cells.shape[2]
        lo, hi = _rows(t, H, self.W)
        z = torch.cat([self.states[t, :, lo + 1:hi + 1], self.states[t, :, lo:hi]])  # (2S, rows, B)
        act = self.act[t, :, lo:hi].reshape(self.act.shape[1], -1)  # (4h, rows*B)
        return z, act, torch.tanh(self.cells[t + 1, :, lo:hi])  # tc: (h, rows, B)


def _feed(a, logits, feedback, t, lo, hi):
    """Write the value fed forward at step ``t`` into ``a`` ``(1, rows, B)``, from the step's
    readout ``logits`` ``(1, rows, B)``; ``feedback.kind`` says which (:class:`Feedback`)."""
    if feedback.kind == "teacher":
        a.copy_(feedback.given[t, :, lo:hi])  # (1, rows, B)
    elif feedback.kind == "sample":  # relaxed Bernoulli
        torch.sigmoid((logits + feedback.given[t, :, lo:hi]) / feedback.temperature, out=a)
    else:
        torch.sigmoid(logits, out=a)


def _feed_backward(da, a, g_logits, t, lo, hi, feedback):
    """Gradient of the readout of step ``t`` ``(1, rows, B)`` from that of the fed values
    ``da`` ``(1, rows, B)`` (``a``: the fed values) and of the returned logits ``g_logits``
    ``(T, 1, H, B)`` or ``None``. A teacher's values do not depend on the readout."""
    if feedback.kind == "teacher":
        dl = torch.zeros_like(da)  # (1, rows, B)
    else:
        dl = da * (a - a * a)  # (1, rows, B): σ' = a (1 - a)
    if feedback.kind == "sample":
        dl = dl / feedback.temperature
    if g_logits is not None:
        dl = dl + g_logits[t, :, lo:hi]
    return dl  # (1, rows, B)


def diagonal_scan(X, w_in, w_cat, bias, feedback: Optional[Feedback] = None):
    """The diagonal LSTM recurrence in scan order (see the module docstring).

    Args:
        X: input in scan order ``(T, H, B, C)`` (:func:`to_scan_order`).
        w_in: ``K_is`` as a matrix ``(4*hidden, C)``; gates ordered ``[o, f, i, g]``.
        w_cat: ``K_ss`` over ``[left | up]`` states ``(4*hidden, 2S)``; bias ``(4*hidden,)``.
        feedback: a :class:`Feedback` whose per-pixel tensors are in scan order
            ``(T, H, B, 1)``, or ``None`` for a plain LSTM.

    Returns:
        ``(states, logits)`` in scan order: ``(T, H, B, S)`` with ``S = hidden`` (plus the
        fed value with feedback) and the readout ``ℓ`` ``(T, H, B, 1)`` (``None`` without
        feedback).
    """
    W = X.shape[0] - X.shape[1] + 1  # T = H + W - 1
    kernel = backend() == "triton"
    if kernel and not scan_triton.available(X.device):
        raise ValueError(f"ARNN_SCAN: 'triton' needs a CUDA device (or TRITON_INTERPRET=1) and "
                         f"Triton installed, got a {X.device.type} tensor")
    device_type = X.device.type
    autocast = torch.is_autocast_enabled(device_type)
    dtype = torch.float32 if autocast else X.dtype  # under autocast the recurrence runs in float32
    X, w_in, w_cat, bias = (a.to(dtype) for a in (X, w_in, w_cat, bias))
    w_f = offset = None
    if feedback is not None:
        feedback = feedback.per_pixel(lambda a: _channels_first(a).to(dtype))  # (T, 1, H, B)
        feedback = replace(feedback, weight=feedback.weight.to(dtype))  # (1, hidden)
        w_f, offset = feedback.weight, feedback.offset
    with torch.autocast(device_type, enabled=False) if autocast else contextlib.nullcontext():
        # autograd differentiates only the tensors among apply()'s own arguments, so the
        # feedback's two learned inputs travel next to it (the same tensors, not copies).
        out = _DiagonalScan.apply(X, w_in, w_cat, bias, w_f, offset, feedback, W, kernel)
    return tuple(_channels_last(a) for a in out)  # (T, S, H, B) -> (T, H, B, S)


def _channels_first(a):
    return a.permute(0, 3, 1, 2).contiguous()  # (T, H, B, C) -> (T, C, H, B)


def _channels_last(a):
    return a.permute(0, 2, 3, 1) if a is not None else None  # (T, C, H, B) -> (T, H, B, C), a view
