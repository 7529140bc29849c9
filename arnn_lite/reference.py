"""Slow, obviously-correct oracles: per-pixel diagonal LSTM and AttentionRNN, and the
receptive field of any layer measured from input gradients.

The per-pixel versions take the *same modules* (hence the same parameters) as the fast
implementations and loop over pixels in raster order, reading neighbours by their
``(i, j)`` index: no skewing, no scan over anti-diagonals. The tests check fast ==
reference (float64, 1e-6) for outputs and gradients; chapters 03 and 05 use them to
explain the recurrence. :func:`gradient_field` and :func:`receptive_field` say what each
output sees (chapter 03 derives them; chapters 04 and 05, the figures and the exercise
checkers use them).
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F

from .arnn import AttentionRNN, BlockAttentionRNN, logistic_noise, relaxed_bernoulli
from .attention import normalize
from .rnn import DiagonalLSTM

__all__ = ["diagonal_lstm", "attention_rnn", "teacher_forced_logits", "gradient_field",
           "receptive_field"]


def _lstm_pixel(lstm: DiagonalLSTM, x_ij, left, up, c_left):
    """One LSTM update at a pixel from its input, left/up states and left cell state."""
    w_is = lstm.input_to_state.weight[:, :, 0, 0]  # (4h, C)
    w_up, w_left = lstm.state_to_state.weight.unbind(-1)  # each (4h, h + E)
    gates = (x_ij @ w_is.T + lstm.input_to_state.bias + left @ w_left.T + up @ w_up.T
             + lstm.state_to_state.bias)  # (B, 4h)
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_left + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c  # (B, h), (B, h)


def diagonal_lstm(x: torch.Tensor, lstm: DiagonalLSTM, hook=None) -> torch.Tensor:
    """Pixel-by-pixel diagonal LSTM with ``lstm``'s parameters.

    ``h[i, j]`` is computed from ``x[i, j]``, the states at ``(i, j-1)`` and ``(i-1, j)``
    and the cell state at ``(i, j-1)`` (zeros outside the image).

    Args:
        x: ``(B, C, H, W)``.
        lstm: a :class:`~arnn_lite.DiagonalLSTM` (its ``reverse`` flag is honoured).
        hook: ``(i, j, h_ij (B, hidden)) -> (B, E)`` feedback channels, for
            ``feedback_channels = E > 0``.

    Returns:
        ``(B, hidden, H, W)``.
    """
    if lstm.reverse:
        x = x.flip(-2, -1)
    B, _, H, W = x.shape
    zeros_s = x.new_zeros(B, lstm.hidden_channels + lstm.feedback_channels)
    zeros_c = x.new_zeros(B, lstm.hidden_channels)
    state, cell = {}, {}
    for i in range(H):
        for j in range(W):
            left, c_left = state.get((i, j - 1), zeros_s), cell.get((i, j - 1), zeros_c)
            up = state.get((i - 1, j), zeros_s)
            h, cell[i, j] = _lstm_pixel(lstm, x[:, :, i, j], left, up, c_left)
            state[i, j] = torch.cat([h, hook(i, j, h)], 1) if lstm.feedback_channels else h
    rows = [torch.stack([state[i, j][:, :lstm.hidden_channels] for j in range(W)], -1)
            for i in range(H)]
    h = torch.stack(rows, -2)  # (B, hidden, H, W)
    return h.flip(-2, -1) if lstm.reverse else h


def _scan(arnn: AttentionRNN, xc, sample, temperature, generator, teacher=None):
    """Per-pixel ARNN recurrence over context features ``xc``: returns (logits, fed).
    ``teacher`` ``(B, 1, H, W)``, if given, is fed instead of the predicted values."""
    B, _, H, W = xc.shape
    hb = diagonal_lstm(xc, arnn.reverse_lstm)  # (B, hidden, H, W)
    w = arnn.readout.weight[0, :, 0, 0]  # (2*hidden,)
    noise = logistic_noise((B, 1, H, W), xc, generator) if sample and teacher is None else None
    logits, fed = {}, {}

    def feed_back(i, j, h_f):
        l_ij = torch.cat([h_f, hb[:, :, i, j]], 1) @ w[:, None] + arnn.readout.bias  # (B, 1)
        if teacher is not None:
            a = teacher[:, :, i, j]  # (B, 1)
        elif sample:
            a = relaxed_bernoulli(l_ij, noise[:, :, i, j], temperature)
        else:
            a = torch.sigmoid(l_ij)
        logits[i, j], fed[i, j] = l_ij, a
        return a

    diagonal_lstm(xc, arnn.forward_lstm, feed_back)

    def grid(d):  # {(i, j): (B, 1)} -> (B, 1, H, W)
        return torch.stack([torch.stack([d[i, j] for j in range(W)], -1) for i in range(H)], -2)

    return grid(logits), grid(fed)


def attention_rnn(arnn: AttentionRNN, x, query=None, sample=False, temperature=0.5, generator=None):
    """Per-pixel AttentionRNN (or BlockAttentionRNN) with ``arnn``'s parameters; the same
    contract as ``arnn(x, query, sample, temperature, generator)``, including the order
    in which random numbers are drawn, so a seeded generator gives the same sample."""
    arnn.check_inputs(x, query)
    xc = arnn.context(x, query)  # (B, C', H, W)
    if isinstance(arnn, BlockAttentionRNN):
        pooled = F.avg_pool2d(xc, arnn.block_size, ceil_mode=True)
        coarse, _ = _scan(arnn, pooled, sample, temperature, generator)
        logits = F.interpolate(coarse, size=xc.shape[-2:], mode="bilinear", align_corners=False)
        logits = logits + arnn.local(xc)
        fed = relaxed_bernoulli(logits, logistic_noise(logits.shape, logits, generator),
                                temperature) if sample else torch.sigmoid(logits)
    else:
        logits, fed = _scan(arnn, xc, sample, temperature, generator)
    if not sample:
        return normalize(logits, arnn.normalization)
    if arnn.normalization == "softmax":
        return fed / fed.sum(dim=(2, 3), keepdim=True).clamp_min(1e-12)
    return fed


def teacher_forced_logits(arnn: AttentionRNN, x, query, fed) -> torch.Tensor:
    """Per-pixel teacher forcing: the logits ``(B, 1, H, W)`` of ``arnn`` when the values
    ``fed`` ``(B, 1, H, W)`` are fed forward instead of predicted. A BlockAttentionRNN
    feeds each block the mean of ``fed`` over its pixels (average pooling, ceil mode)."""
    arnn.check_inputs(x, query)
    xc = arnn.context(x, query)  # (B, C', H, W)
    fed = fed.to(xc.dtype)
    if not isinstance(arnn, BlockAttentionRNN):
        return _scan(arnn, xc, False, None, None, teacher=fed)[0]
    pooled = F.avg_pool2d(xc, arnn.block_size, ceil_mode=True)  # (B, C', ⌈H/δ⌉, ⌈W/δ⌉)
    blocks = F.avg_pool2d(fed, arnn.block_size, ceil_mode=True)  # (B, 1, ⌈H/δ⌉, ⌈W/δ⌉)
    coarse, _ = _scan(arnn, pooled, False, None, None, teacher=blocks)
    logits = F.interpolate(coarse, size=xc.shape[-2:], mode="bilinear", align_corners=False)
    return logits + arnn.local(xc)  # (B, 1, H, W)


def gradient_field(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                   pixel: Tuple[int, int], channels: Optional[slice] = None) -> torch.Tensor:
    """Which input pixels an output pixel depends on, read off the input gradient.

    Sums ``model(x)[0, channels, i, j]``, backpropagates, and returns ``|∂/∂x|`` summed
    over the input channels: a pixel is in the receptive field exactly when its entry is
    non-zero (up to accidental cancellation, which random inputs make unlikely).

    Args:
        model: any callable ``(B, C, H, W) -> (B, C', H, W)``.
        x: input, shape ``(B, C, H, W)``; use float64 so tiny gradients stay non-zero.
        pixel: output position ``(i, j)``.
        channels: which output channels to sum (default: all).

    Returns:
        Tensor ``(H, W)`` of non-negative gradient magnitudes (batch element 0).
    """
    x = x.detach().clone().requires_grad_(True)
    out = model(x)  # (B, C', H, W)
    i, j = pixel
    sel = out[0, :, i, j] if channels is None else out[0, channels, i, j]  # (C'',)
    sel.sum().backward()
    return x.grad[0].abs().sum(0).detach()  # (H, W)


def receptive_field(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                    pixel: Tuple[int, int], channels: Optional[slice] = None) -> torch.Tensor:
    """The receptive field of output ``pixel``: bool ``(H, W)``, ``True`` where
    :func:`gradient_field` is non-zero (same arguments)."""
    return gradient_field(model, x, pixel, channels) > 0  # (H, W)
