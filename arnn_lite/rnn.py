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
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_features, check_positive
from .ops import anti_diagonal_mask, skew, unskew

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
        feedback_channels: ``E`` extra state channels that a step hook feeds back into
            ``K_ss`` together with ``h`` (AttentionRNN feeds back its predicted values).

    Gates are ordered ``[o, f, i, g]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, reverse: bool = False,
                 feedback_channels: int = 0):
        super().__init__()
        check_positive(in_channels, "in_channels")
        check_positive(hidden_channels, "hidden_channels")
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.reverse, self.feedback_channels = reverse, feedback_channels
        self.input_to_state = nn.Conv2d(in_channels, 4 * hidden_channels, 1)  # K_is
        # K_ss: kernel tap 0 reads row r-1 (pixel above), tap 1 reads row r (pixel left).
        self.state_to_state = nn.Conv1d(hidden_channels + feedback_channels, 4 * hidden_channels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``. Returns ``h`` of shape ``(B, hidden, H, W)``."""
        check_features(x, self.in_channels, "x")
        if self.reverse:
            x = x.flip(-2, -1)
        h = unskew(self.scan(skew(self.input_to_state(x))), x.shape[-1])  # (B, hidden, H, W)
        return h.flip(-2, -1) if self.reverse else h

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
        valid = anti_diagonal_mask(H, T - H + 1, pre.device).to(pre.dtype)  # (H, T)
        steps = pre.permute(3, 0, 1, 2).unbind(0)  # T x (B, 4*hidden, H); unbind, never index
        state = pre.new_zeros(B, self.hidden_channels + self.feedback_channels, H)
        c = pre.new_zeros(B, self.hidden_channels, H)
        weight, bias = self.state_to_state.weight, self.state_to_state.bias
        outputs = []
        for t, (pre_t, v_t) in enumerate(zip(steps, valid.t().unbind(0))):
            gates = pre_t + F.conv1d(F.pad(state, (1, 0)), weight, bias)  # (B, 4*hidden, H)
            o, f, i, g = gates.chunk(4, dim=1)  # each (B, hidden, H)
            c = (torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)) * v_t  # zero off-image
            h = torch.sigmoid(o) * torch.tanh(c)  # (B, hidden, H); zero where c is
            if self.feedback_channels:
                h = torch.cat([h, hook(t, h) * v_t], dim=1)  # (B, hidden + E, H)
            state = h.to(pre.dtype)
            outputs.append(state)
        return torch.stack(outputs, dim=-1)  # (B, hidden + E, H, T)


class DiagonalBiLSTM(nn.Module):
    """Two diagonal LSTMs, raster and inverse raster order, concatenated:
    ``(B, C, H, W) -> (B, 2*hidden, H, W)``; channels ``[:hidden]`` are the forward
    direction. Unlike PixelRNN (which flips only W and shifts rows to stay causal), the
    second direction here flips H and W, so the two quadrants together cover the image."""

    def __init__(self, in_channels: int, hidden_channels: int):
        super().__init__()
        self.forward_lstm = DiagonalLSTM(in_channels, hidden_channels)
        self.backward_lstm = DiagonalLSTM(in_channels, hidden_channels, reverse=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.forward_lstm(x), self.backward_lstm(x)], dim=1)  # (B, 2*hidden, H, W)
