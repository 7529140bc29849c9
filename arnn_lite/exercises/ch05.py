"""Checkers for chapter 05 (``chapters/05_attention_rnn.ipynb``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import ExerciseError, cases, check_close, passed, rng, run_student

__all__ = ["check_readout", "check_lstm_pixel_step"]


def _readout(h_forward, h_reverse, weight, bias):
    w = weight.reshape(1, -1, 1, 1)  # (1, 2*hidden, 1, 1)
    return F.conv2d(torch.cat([h_forward, h_reverse], 1), w, bias.reshape(1))  # (B, 1, H, W)


def check_readout(fn) -> None:
    """``fn(h_forward (B, k, H, W), h_reverse (B, k, H, W), weight (2k,), bias ())``
    -> logits ``(B, 1, H, W)`` = ``w·[hᶠ; hᵇ] + b`` at every position."""
    g = rng(5)
    for B, k, H, W in cases([(2, 3, 4, 6), (1, 5, 3, 3), (3, 2, 1, 7)], [(2, 2, 5, 2), (1, 4, 2, 3)]):
        hf, hb = torch.randn(B, k, H, W, generator=g), torch.randn(B, k, H, W, generator=g)
        weight, bias = torch.randn(2 * k, generator=g), torch.randn((), generator=g)
        got = run_student(fn, hf.clone(), hb.clone(), weight.clone(), bias.clone(), name="readout")
        swapped = _readout(hb, hf, weight, bias)
        if isinstance(got, torch.Tensor) and got.shape == swapped.shape and torch.allclose(got, swapped, atol=1e-5) \
                and not torch.allclose(swapped, _readout(hf, hb, weight, bias), atol=1e-5):
            raise ExerciseError("readout: the forward and reverse states are swapped: the first "
                                "hidden weights multiply h_forward, the last ones h_reverse.")
        check_close("readout", got, _readout(hf, hb, weight, bias), atol=1e-4,
                    hint="Concatenate [h_forward; h_reverse] along channels, then take the dot "
                         "product with weight at every (i, j) and add bias; keep the channel dim (B, 1, H, W).")
    passed("ℓ = w·[hᶠ; hᵇ] + b at every position, for non-square maps too.")


def _step(pre, above, left, c_left, weight, bias):
    gates = pre + above @ weight[:, :, 0].T + left @ weight[:, :, 1].T + bias  # (B, 4k)
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_left + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def check_lstm_pixel_step(fn) -> None:
    """``fn(pre, above, left, c_left, weight, bias) -> (h, c)``: one pixel of the forward
    diagonal LSTM with feedback (gates ``[o, f, i, g]``, tap 0 = above, tap 1 = left)."""
    g = rng(6)
    for B, k, E in cases([(2, 3, 1), (1, 4, 1), (3, 2, 2)], [(2, 5, 1), (1, 3, 3)]):
        args = (torch.randn(B, 4 * k, generator=g), torch.randn(B, k + E, generator=g),
                torch.randn(B, k + E, generator=g), torch.randn(B, k, generator=g),
                torch.randn(4 * k, k + E, 2, generator=g), torch.randn(4 * k, generator=g))
        got = run_student(fn, *(a.clone() for a in args), name="lstm_pixel_step")
        if not (isinstance(got, tuple) and len(got) == 2):
            raise ExerciseError("lstm_pixel_step: return a pair (h, c), each of shape (B, hidden).")
        h_ref, c_ref = _step(*args)
        pre, above, left, c_left, weight, bias = args
        h_taps, _ = _step(pre, left, above, c_left, weight, bias)
        if got[0].shape == h_ref.shape and torch.allclose(got[0], h_taps, atol=1e-5):
            raise ExerciseError("lstm_pixel_step: the taps are swapped: weight[:, :, 0] reads the "
                                "state ABOVE, weight[:, :, 1] the state to the LEFT.")
        check_close("lstm_pixel_step (c)", got[1], c_ref, atol=1e-5,
                    hint="c = σ(f)·c_left + σ(i)·tanh(g), with gates ordered [o, f, i, g] "
                         "(gates.chunk(4, dim=1)); the cell state comes from the left only.")
        check_close("lstm_pixel_step (h)", got[0], h_ref, atol=1e-5, hint="h = σ(o)·tanh(c).")
    passed("One pixel of the feedback diagonal LSTM: gates, cell state and hidden state agree.")
