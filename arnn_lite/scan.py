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

__all__ = ["diagonal_scan", "to_scan_order", "from_scan_order", "use_fused", "fused_enabled"]

_FUSED = os.environ.get("ARNN_SCAN", "fused") != "autograd"
_INDEX_CACHE: dict = {}


def fused_enabled() -> bool:
    """Whether DiagonalLSTM and AttentionRNN use :func:`diagonal_scan` (the default)."""
    return _FUSED


@contextlib.contextmanager
def use_fused(enabled: bool = True):
    """Context manager: run the scans inside on the fused (``True``) or autograd path."""
    global _FUSED
    old, _FUSED = _FUSED, bool(enabled)
    try:
        yield
    finally:
        _FUSED = old


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


def _keep_masks(H, T, like):
    """``keep[t]`` ``(H, 1)``: 1 for rows ``r <= t``; only steps ``t < H - 1`` need one."""
    rows = torch.arange(H, device=like.device)
    return [(rows <= t).to(like.dtype).view(H, 1) for t in range(min(H - 1, T))]


class _DiagonalScan(torch.autograd.Function):
    """Forward and hand-written backward of the scan in scan order, see the module doc.

    Inside, every per-step tensor is channels-first, ``(channels, H, B)``, so that the
    gates ``[o, f, i, g]`` and the states are contiguous blocks for the element-wise maths.
    """

    @staticmethod
    def forward(ctx, X, w_in, w_cat, bias, w_f, lb, given, mode, temperature):
        T, H, B, _ = X.shape
        G4, N = w_in.shape[0], H * B
        hidden, feedback = G4 // 4, w_f is not None
        S = hidden + int(feedback)  # state channels: h (and the fed-back value a)
        Z = X.new_zeros(T + 1, 2 * S, H, B)  # Z[t]: [left; up] states read by step t
        C = X.new_zeros(T + 1, hidden, H, B)  # cell states, C[0] = 0
        A = X.new_empty(T, G4, H, B)  # gate activations [σ(o); σ(f); σ(i); tanh(g)]
        TC = X.new_empty(T, hidden, H, B)  # tanh(c_t)
        L = X.new_empty(T, 1, H, B) if feedback else None  # logits ℓ
        keep = _keep_masks(H, T, X)
        bias = bias[:, None]  # (4h, 1)
        for t in range(T):
            act = A[t].view(G4, N)
            torch.addmm(bias, w_in, X[t].view(N, -1).t(), out=act)  # K_is ⊛ x_t: (4h, N)
            act.addmm_(w_cat, Z[t].view(2 * S, N))  # + K_ss ⊛ [left; up]
            act[:3 * hidden].sigmoid_()
            act[3 * hidden:].tanh_()
            o, f, i, g = A[t].split(hidden)  # (hidden, H, B) each
            c = torch.mul(f, C[t], out=C[t + 1]).addcmul_(i, g)
            if t < len(keep):
                c.mul_(keep[t])  # rows that hold no pixel yet stay zero
            torch.tanh(c, out=TC[t])
            state = Z[t + 1]
            h = torch.mul(o, TC[t], out=state[:hidden])
            if feedback:
                torch.addmm(lb[t].view(1, N), w_f, h.view(hidden, N), out=L[t].view(1, N))
                _feed(state[hidden:S], L[t], given, t, mode, temperature)
                if t < len(keep):
                    state[hidden:S].mul_(keep[t])
            state[S:, 1:].copy_(state[:S, :-1])  # up: row r holds row r-1's state
        ctx.save_for_backward(X, w_in, w_cat, w_f, Z, C, A, TC)
        ctx.mode, ctx.temperature = mode, temperature
        return Z[1:, :S], L

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g_states, g_logits):
        X, w_in, w_cat, w_f, Z, C, A, TC = ctx.saved_tensors
        T, G4, H, B = A.shape
        hidden, feedback, N = G4 // 4, w_f is not None, H * B
        S = hidden + int(feedback)
        dG = A.new_empty(T, G4, H, B)  # gradient of the gate pre-activations
        dL = A.new_zeros(T, 1, H, B) if feedback else None
        dS = A.new_zeros(S, H, B)  # gradient of state t, from step t + 1 and the output
        dc = A.new_zeros(hidden, H, B)
        keep = _keep_masks(H, T, A)
        for t in reversed(range(T)):
            if g_states is not None:
                dS.add_(g_states[t])
            dh = dS[:hidden]
            if feedback:
                _feed_backward(dS[hidden:], dL[t], Z[t + 1][hidden:S], g_logits, t,
                               keep[t] if t < len(keep) else None, ctx.mode, ctx.temperature)
                dh.view(hidden, N).addmm_(w_f.t(), dL[t].view(1, N))
            o, f, i, g = A[t].split(hidden)
            d_o, d_f, d_i, d_g = dG[t].split(hidden)
            tc = TC[t]
            torch.mul(dh, tc, out=d_o)
            dc.addcmul_(dh * o, 1 - tc * tc)
            if t < len(keep):
                dc.mul_(keep[t])
            torch.mul(dc, C[t], out=d_f)
            torch.mul(dc, g, out=d_i)
            torch.mul(dc, i, out=d_g)
            dc.mul_(f)  # carried to step t - 1
            s = A[t][:3 * hidden]
            dG[t][:3 * hidden].mul_(s - s * s)  # σ' = σ (1 - σ)
            d_g.mul_(1 - g * g)  # tanh' = 1 - tanh²
            dz = torch.mm(w_cat.t(), dG[t].view(G4, N)).view(2 * S, H, B)  # d[left; up]
            dS = dz[:S].clone()
            dS[:, :-1].add_(dz[S:, 1:])  # row r's "up" was row r-1's state
        dG_t = dG.view(T, G4, N)
        Xf = X.view(T, N, -1)  # (T, N, C)
        d_x = torch.matmul(dG_t.transpose(1, 2), w_in).view(X.shape)  # (T, H, B, C)
        d_w_in = torch.bmm(dG_t, Xf).sum(0)  # (4h, C)
        d_w_cat = torch.bmm(dG_t, Z[:T].view(T, 2 * S, N).transpose(1, 2)).sum(0)  # (4h, 2S)
        d_wf = None
        if feedback:
            h_all = Z[1:, :hidden].reshape(T, hidden, N)
            d_wf = torch.bmm(dL.view(T, 1, N), h_all.transpose(1, 2)).sum(0)  # (1, hidden)
        return d_x, d_w_in, d_w_cat, dG_t.sum((0, 2)), d_wf, dL, None, None, None


def _feed(a, logits, given, t, mode, temperature):
    """The value fed forward at step ``t`` (written into ``a``, ``(1, H, B)``)."""
    if mode == "teacher":
        a.copy_(given[t])
    elif mode == "sample":
        torch.sigmoid((logits + given[t]) / temperature, out=a)  # relaxed Bernoulli
    else:
        torch.sigmoid(logits, out=a)


def _feed_backward(da, dl, a, g_logits, t, keep, mode, temperature):
    """Gradient of the logit at step ``t`` (into ``dl``) from that of the fed value ``da``."""
    if keep is not None:
        da.mul_(keep)
    if mode != "teacher":
        torch.mul(da, a - a * a, out=dl)  # σ' = a (1 - a)
        if mode == "sample":
            dl.div_(temperature)
    if g_logits is not None:
        dl.add_(g_logits[t])


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
    lb, given = (_channels_first(a) for a in (lb, given))  # (T, 1, H, B)
    tensors = (X, w_in, w_cat, bias, w_f, lb, given)
    device_type = X.device.type
    if torch.is_autocast_enabled(device_type):  # the recurrence runs in float32
        with torch.autocast(device_type, enabled=False):
            out = _DiagonalScan.apply(*(_as(a, torch.float32) for a in tensors), mode, temperature)
    else:
        out = _DiagonalScan.apply(*(_as(a, X.dtype) for a in tensors), mode, temperature)
    return tuple(_channels_last(a) for a in out)  # (T, S, H, B) -> (T, H, B, S)


def _channels_first(a):
    return a.permute(0, 3, 1, 2).contiguous() if a is not None else None  # (T, C, H, B)


def _channels_last(a):
    return a.permute(0, 2, 3, 1) if a is not None else None  # (T, H, B, C), a view


def _as(tensor, dtype):
    return tensor.to(dtype) if tensor is not None else None
