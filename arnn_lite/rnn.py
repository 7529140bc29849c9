"""Diagonal LSTMs (PixelRNN, van den Oord et al. 2016) over a skewed feature map.

Derived in chapter 03 (``chapters/03_diagonal_lstm.ipynb``) and chapter 04
(``chapters/04_diagonal_bilstm.ipynb``).

The scan runs over the ``T = H + W - 1`` columns of ``skew(x)``: one Python step per
anti-diagonal, every pixel of that anti-diagonal computed at once. At column ``t`` the
gates are ``K_is ⊛ x̂_t + K_ss ⊛ h_{t-1}`` with ``K_is`` a 1×1 convolution (precomputed
for all columns before the loop) and ``K_ss`` a 2×1 convolution along the column, whose
two taps read rows ``r - 1`` and ``r`` of the previous column, i.e. the pixels *above*
and *to the left* of ``(r, t - r)``. States outside the image are held at zero, so the
output at ``(i, j)`` sees exactly the quadrant ``{i' <= i, j' <= j}``.

That loop (:meth:`DiagonalLSTM.scan`) is the readable version the chapters derive. By
default ``forward`` runs the same function through :func:`arnn_lite.scan.diagonal_scan`
(chapter 15: no skewed copies, only the pixels of each anti-diagonal, a hand-written
backward); ``arnn_lite.scan.use_fused(False)`` switches back, and tests check both agree.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_features, check_nonnegative, check_positive
from .ops import skew, unskew
from .scan import Feedback, diagonal_scan, from_scan_order, fused_enabled, scan_indices, to_scan_order

__all__ = ["DiagonalLSTM", "DiagonalBiLSTM"]

# A per-step hook: (t, h_t (B, hidden, H)) -> extra state channels (B, E, H).
StepHook = Callable[[int, torch.Tensor], torch.Tensor]


class DiagonalLSTM(nn.Module):
    """Diagonal LSTM: ``(B, C, H, W) -> (B, hidden, H, W)``.

    Args:
        in_channels: ``C``.
        hidden_channels: size of ``h`` and ``c``.
        reverse: scan in inverse raster order (flip H and W, scan, flip back); the
            output at ``(i, j)`` then sees ``{i' >= i, j' >= j}``.
        feedback_channels: ``E`` extra state channels fed back into ``K_ss`` together
            with ``h``: by a step hook on the readable path (:meth:`scan`), by a
            :class:`~arnn_lite.scan.Feedback` (``E = 1``) on the fused one (:meth:`fused`).

    Gates are ordered ``[o, f, i, g]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, reverse: bool = False,
                 feedback_channels: int = 0):
        super().__init__()
        check_positive(in_channels, "in_channels")
        check_positive(hidden_channels, "hidden_channels")
        check_nonnegative(feedback_channels, "feedback_channels")
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.reverse, self.feedback_channels = reverse, feedback_channels
        self.input_to_state = nn.Conv2d(in_channels, 4 * hidden_channels, 1)  # K_is
        # K_ss: kernel tap 0 reads row r-1 (pixel above), tap 1 reads row r (pixel left).
        self.state_to_state = nn.Conv1d(hidden_channels + feedback_channels, 4 * hidden_channels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``h`` of shape ``(B, hidden, H, W)``."""
        check_features(x, self.in_channels, "x")
        if fused_enabled():  # same function, hand-written backward (chapter 15)
            return self.fused(x)[0]
        if self.reverse:
            x = x.flip(-2, -1)
        h = unskew(self.scan(skew(self.input_to_state(x))), x.shape[-1])  # (B, hidden, H, W)
        return h.flip(-2, -1) if self.reverse else h

    def state_weights(self):
        """``K_ss`` as one matrix over ``[left; up]`` states ``(4*hidden, 2S)``, and its bias."""
        w = self.state_to_state.weight  # (4*hidden, S, 2); tap 1: left (row r), tap 0: up (row r-1)
        return torch.cat([w[..., 1], w[..., 0]], dim=1), self.state_to_state.bias

    def fused(self, x: torch.Tensor, feedback: Optional[Feedback] = None):
        """The whole layer through :func:`~arnn_lite.scan.diagonal_scan` (chapter 15).

        Args:
            x: ``(B, C, H, W)``.
            feedback: an optional :class:`~arnn_lite.scan.Feedback`, its per-pixel
                tensors ``(B, 1, H, W)``; needs ``feedback_channels = 1``.

        Returns:
            ``(states (B, S, H, W), logits (B, 1, H, W) or None)``: ``h`` (and the fed-back
            value), and the feedback's readout ``ℓ``.
        """
        if self.feedback_channels != (0 if feedback is None else 1):
            raise ValueError(f"feedback: the fused scan feeds back one channel (a Feedback) or "
                             f"none, and this DiagonalLSTM has feedback_channels="
                             f"{self.feedback_channels}; got {type(feedback).__name__}")
        H, W = x.shape[-2:]
        to_scan, from_scan = scan_indices(H, W, self.reverse, x.device)
        w_cat, b_ss = self.state_weights()
        w_in, b_is = self.input_to_state.weight[:, :, 0, 0], self.input_to_state.bias  # (4h, C)
        if feedback is not None:
            feedback = feedback.per_pixel(lambda a: to_scan_order(a, to_scan))  # (T, H, B, 1)
        states, logits = diagonal_scan(to_scan_order(x, to_scan), w_in, w_cat, b_is + b_ss,
                                       feedback)  # (T, H, B, S), (T, H, B, 1)
        return (from_scan_order(states, from_scan, W),
                from_scan_order(logits, from_scan, W) if logits is not None else None)

    def scan(self, pre: torch.Tensor, hook: Optional[StepHook] = None) -> torch.Tensor:
        """Run the recurrence over precomputed, skewed input-to-state terms.

        Args:
            pre: ``K_is ⊛ x`` skewed, shape ``(B, 4*hidden, H, T)`` with ``T = H + W - 1``.
            hook: called after each step with ``(t, h_t)``; returns the ``E`` feedback
                channels for that column (required when ``feedback_channels > 0``).

        Returns:
            Skewed hidden states ``(B, hidden + E, H, T)``; zero outside the image.
        """
        B, _, H, T = pre.shape
        hidden = self.hidden_channels
        # Rows with t < r hold no pixel yet; their states must stay zero (the left
        # neighbour of column j = 0). Only the first H - 1 steps have such rows.
        upper = (torch.arange(H, device=pre.device)[:, None] <= torch.arange(T, device=pre.device))
        upper = upper.to(pre.dtype).t().unbind(0)  # T x (H,): 1 where row r <= t
        steps = pre.permute(3, 0, 1, 2).unbind(0)  # T x (B, 4*hidden, H); unbind, never index
        w_cat, bias = self.state_weights()  # (4*hidden, 2S), (4*hidden,)
        bias = bias[:, None]  # (4*hidden, 1)
        state = pre.new_zeros(B, hidden + self.feedback_channels, H)
        c = pre.new_zeros(B, hidden, H)
        outputs = []
        for t, pre_t in enumerate(steps):
            keep = upper[t] if t < H - 1 else None  # rows that have started, or all
            h, c = self.step(pre_t, state, c, w_cat, bias, keep)
            if self.feedback_channels:
                feedback = hook(t, h)  # (B, E, H)
                h = torch.cat([h, feedback if keep is None else feedback * keep], dim=1)
            state = h.to(pre.dtype)
            outputs.append(state)
        return torch.stack(outputs, dim=-1)  # (B, hidden + E, H, T)


    def step(self, pre_t, state, c, w_cat, bias, keep=None):
        """One anti-diagonal: ``(B, 4*hidden, H)`` inputs, previous ``(B, S, H)`` state
        and ``(B, hidden, H)`` cell -> new ``h``, ``c``. ``keep`` ``(H,)`` zeroes rows
        that hold no pixel yet."""
        up = F.pad(state[..., :-1], (1, 0))  # (B, S, H): row r holds the state of row r-1
        both = torch.cat([state, up], dim=1)  # (B, 2S, H): [left; up]
        gates = torch.baddbmm(pre_t + bias, w_cat.expand(len(both), -1, -1), both)  # (B, 4*hidden, H)
        hidden = self.hidden_channels
        o, f, i = torch.sigmoid(gates[:, :3 * hidden]).chunk(3, dim=1)  # one call for 3 gates
        c = f * c + i * torch.tanh(gates[:, 3 * hidden:])  # (B, hidden, H)
        if keep is not None:
            c = c * keep
        return o * torch.tanh(c), c  # h is zero wherever c is


class DiagonalBiLSTM(nn.Module):
    """Two diagonal LSTMs, raster and inverse raster order, concatenated:
    ``(B, C, H, W) -> (B, 2*hidden, H, W)``; channels ``[:hidden]`` are the forward
    direction, ``[hidden:]`` the reverse one. Unlike PixelRNN (which flips only W and shifts
    rows to stay causal), the reverse direction here flips H and W, so the two quadrants
    together cover the image."""

    def __init__(self, in_channels: int, hidden_channels: int):
        super().__init__()
        self.forward_lstm = DiagonalLSTM(in_channels, hidden_channels)
        self.reverse_lstm = DiagonalLSTM(in_channels, hidden_channels, reverse=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.forward_lstm(x), self.reverse_lstm(x)], 1)  # (B, 2*hidden, H, W)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        rename_reverse_keys(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def rename_reverse_keys(state_dict, prefix: str) -> None:
    """Rename, in place, the keys ``<prefix>backward_lstm.*`` of a state dict to
    ``<prefix>reverse_lstm.*``: checkpoints written before the inverse-raster direction was
    called "reverse" (its old name, "backward", is autograd's) load unchanged."""
    old, new = prefix + "backward_lstm", prefix + "reverse_lstm"
    for key in [k for k in state_dict if k == old or k.startswith(old + ".")]:
        state_dict[new + key[len(old):]] = state_dict.pop(key)
    metadata = getattr(state_dict, "_metadata", None)  # per-module versions, keyed by name
    for key in [k for k in metadata or () if k == old or k.startswith(old + ".")]:
        metadata[new + key[len(old):]] = metadata.pop(key)
