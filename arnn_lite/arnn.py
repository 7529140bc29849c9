"""AttentionRNN (ARNN), its sampling mode (ARNN~) and the block-wise BRNN^δ.

Derived in chapters 05 (layer), 06 (sampling mode) and 07 (block ARNN).

**Reconstruction.** The paper's main text is not available to us; this follows its
abstract and supplement (DESIGN.md §2): a context δ (k×k conv + query, or any network,
supplement Eq. 1), a diagonal LSTM in inverse raster order (the *reverse* direction,
states ``hᵇ``), then a raster-order diagonal LSTM (states ``hᶠ``) whose state carries the
attention values already predicted for the pixels to the left and above. The logit of
pixel ``(i, j)`` reads both directions' hidden states:
``ℓ[i, j] = w·[hᶠ[i, j]; hᵇ[i, j]] + b``. Through the fed-back values every ``a[i, j]``
depends on every input position, even with a 1×1 context.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import check_positive, check_positive_number
from .attention import QueryContext, SpatialAttention, normalize
from .ops import skew, unskew
from .rnn import DiagonalLSTM, rename_reverse_keys
from .scan import Feedback, fused_enabled

__all__ = ["AttentionRNN", "BlockAttentionRNN", "logistic_noise"]


def logistic_noise(shape, like: torch.Tensor, generator=None) -> torch.Tensor:
    """Standard logistic noise ``log u - log(1 - u)``, ``u ~ U(0, 1)``, drawn with
    ``generator`` so that the same seed gives the same sample. Drawn in float32 at least,
    whatever precision autocast runs ``like`` in: half-precision draws are too coarse for the
    clamp below and differ between torch versions (float64 stays float64)."""
    dtype = torch.promote_types(like.dtype, torch.float32)
    u = torch.rand(shape, generator=generator, device=like.device, dtype=dtype)
    u = u.clamp(1e-6, 1 - 1e-6)
    return torch.log(u) - torch.log1p(-u)


def relaxed_bernoulli(logits: torch.Tensor, noise: torch.Tensor, temperature: float) -> torch.Tensor:
    """Binary-concrete sample ``σ((ℓ + L) / τ)``: differentiable in ``ℓ``; hard as ``τ → 0``."""
    return torch.sigmoid((logits + noise) / temperature)


def _check_temperature(temperature) -> None:
    """``τ`` must be a finite number > 0: a NaN or infinite ``τ`` gives an all-NaN mask."""
    check_positive_number(temperature, "temperature")


class AttentionRNN(SpatialAttention):
    """Structured spatial attention: ``(B, C, H, W)``, ``(B, D)`` -> mask ``(B, 1, H, W)``.

    Args:
        in_channels: ``C``.
        hidden_channels: LSTM state size of each direction.
        query_dim: ``D`` of the query, or ``None``.
        context_size: odd ``k`` of the default context ``relu(conv_kxk(x) + Linear(q))``.
        normalization: ``"sigmoid"`` (element-wise) or ``"softmax"`` (over all positions).
        context_net: optional network δ with ``(x, query) -> (B, C', H, W)``; an attention
            module (e.g. :class:`~arnn_lite.attention.UNetAttention`) contributes its
            ``context``. Overrides ``context_size``.
        context_channels: ``C'`` (default: ``context_net.out_channels``, else ``in_channels``).
    """

    def __init__(self, in_channels: int, hidden_channels: int = 16, query_dim=None,
                 context_size: int = 3, normalization: str = "sigmoid", context_net=None,
                 context_channels=None):
        super().__init__(in_channels, query_dim, normalization)
        check_positive(hidden_channels, "hidden_channels")
        if context_channels is not None:
            check_positive(context_channels, "context_channels")
        if context_net is None:
            context_net = QueryContext(in_channels, context_channels or in_channels,
                                       context_size, query_dim)
        context_channels = context_channels or getattr(context_net, "out_channels", None)
        if context_channels is None:
            raise ValueError("context_channels: expected a positive integer for a context_net "
                             "without an out_channels attribute, got None")
        self.context_net, self.hidden_channels = context_net, hidden_channels
        self.reverse_lstm = DiagonalLSTM(context_channels, hidden_channels, reverse=True)
        self.forward_lstm = DiagonalLSTM(context_channels, hidden_channels, feedback_channels=1)
        self.readout = nn.Conv2d(2 * hidden_channels, 1, 1)  # ℓ = w·[hᶠ; hᵇ] + b

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        rename_reverse_keys(state_dict, prefix)  # checkpoints that call it backward_lstm
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def context(self, x, query=None):
        """Local spatial context δ(x, q): ``(B, C', H, W)``."""
        net = self.context_net
        return net.context(x, query) if isinstance(net, SpatialAttention) else net(x, query)

    def logits(self, x, query=None):
        """Deterministic logits ``ℓ`` of shape ``(B, 1, H, W)``."""
        return self.scan(self.context(x, query))[0]

    def forward(self, x, query=None, sample: bool = False, temperature: float = 0.5,
                generator=None) -> torch.Tensor:
        """Args:
            x: ``(B, C, H, W)``; query: ``(B, D)`` or ``None``.
            sample: ARNN~: draw each value from a relaxed Bernoulli and feed the
                *sample* forward, giving a joint sample in raster order.
            temperature: ``τ`` of the relaxed Bernoulli (``τ → 0``: hard masks).
            generator: ``torch.Generator`` for reproducible samples.

        Returns:
            Mask ``(B, 1, H, W)``: ``σ(ℓ)`` or softmax of ``ℓ`` over space; in sample
            mode the samples (for ``"softmax"`` rescaled to sum to one).
        """
        self.check_inputs(x, query)
        if not sample:
            return normalize(self.logits(x, query), self.normalization)
        _check_temperature(temperature)
        _, a = self.scan(self.context(x, query), True, temperature, generator)
        if self.normalization == "softmax":
            return a / a.sum(dim=(2, 3), keepdim=True).clamp_min(1e-12)
        return a

    def scan(self, xc, sample=False, temperature=0.5, generator=None, teacher=None):
        """The two diagonal scans over context features ``xc`` ``(B, C', H, W)``.

        ``teacher`` ``(B, 1, H, W)``, if given, is fed forward instead of the predicted
        values (teacher forcing): the logits are then those of the autoregressive model
        ``p(a) = Π p(a[i, j] | earlier values, x, q)`` at that mask (chapter 06).

        Returns:
            ``(logits, a)``, both ``(B, 1, H, W)``: ``a`` is what was fed forward
            (``σ(ℓ)``, the relaxed-Bernoulli samples when ``sample``, or ``teacher``).
        """
        B, _, H, W = xc.shape
        hidden = self.hidden_channels
        hb = self.reverse_lstm(xc)  # (B, hidden, H, W)
        w_f = self.readout.weight[:, :hidden, 0, 0]  # (1, hidden): readout weights of hᶠ
        # (B, 1, H, W): hᵇ's part of ℓ, bias included
        lb = F.conv2d(hb, self.readout.weight[:, hidden:], self.readout.bias)
        if teacher is not None:
            feedback = Feedback(w_f, lb, teacher.to(xc.dtype), "teacher")
        elif sample:
            feedback = Feedback(w_f, lb, logistic_noise((B, 1, H, W), xc, generator), "sample",
                                temperature)
        else:
            feedback = Feedback(w_f, lb)
        if fused_enabled():  # same recurrence, hand-written backward (chapter 15)
            states, logits = self.forward_lstm.fused(xc, feedback)
            return logits, states[:, hidden:]  # (B, 1, H, W) each
        pre = skew(self.forward_lstm.input_to_state(xc))  # (B, 4*hidden, H, T)
        return self._scan_steps(pre, feedback.per_pixel(skew), W)  # per pixel: (B, 1, H, T)

    def _scan_steps(self, pre, feedback, W):
        """The readable autograd path of :meth:`scan`: a hook feeds each value back.
        ``pre`` ``(B, 4*hidden, H, T)`` and the feedback's per-pixel tensors are skewed."""
        lb_steps = feedback.offset.permute(3, 0, 1, 2).unbind(0)  # T x (B, 1, H)
        given = feedback.given
        given_steps = given.permute(3, 0, 1, 2).unbind(0) if given is not None else None
        logits, fed = [], []

        def feed_back(t, h):  # h: (B, hidden, H), column t of hᶠ
            l_t = torch.matmul(feedback.weight, h) + lb_steps[t]  # (1, h) @ (B, h, H) -> (B, 1, H)
            if feedback.kind == "teacher":
                a_t = given_steps[t]
            elif feedback.kind == "sample":
                a_t = relaxed_bernoulli(l_t, given_steps[t], feedback.temperature)
            else:
                a_t = torch.sigmoid(l_t)
            logits.append(l_t)
            fed.append(a_t)
            return a_t

        self.forward_lstm.scan(pre, feed_back)
        return (unskew(torch.stack(logits, -1), W),  # (B, 1, H, W)
                unskew(torch.stack(fed, -1), W))


class BlockAttentionRNN(AttentionRNN):
    """BRNN^δ (reconstruction): the ARNN recurrence on a ``δ``-pooled grid.

    Context features are average-pooled by ``block_size`` (ceil mode), the ARNN scan
    runs on the ``⌈H/δ⌉ × ⌈W/δ⌉`` grid, its logits are upsampled bilinearly to ``H × W``
    and a 1×1 local logit from the full-resolution context is added. Sequential steps
    fall from ``H + W - 1`` to about ``(H + W) / δ``. Same options as AttentionRNN.
    """

    def __init__(self, in_channels: int, hidden_channels: int = 16, block_size: int = 2, **kwargs):
        super().__init__(in_channels, hidden_channels, **kwargs)
        check_positive(block_size, "block_size")
        self.block_size = block_size
        self.local = nn.Conv2d(self.reverse_lstm.in_channels, 1, 1)

    def scan(self, xc, sample=False, temperature=0.5, generator=None, teacher=None):
        """:meth:`AttentionRNN.scan` on the block grid, then logits at full resolution.

        The scan feeds one value per block forward, so a full-resolution ``teacher``
        ``(B, 1, H, W)`` is average-pooled onto the block grid like the context (ceil mode:
        an edge block averages the pixels it covers). A block is fed the fraction of its
        pixels the teacher sets, a probability like the ``σ(ℓ)`` of the untaught scan, and
        feeding the scan's own block values back reproduces its logits (tested).

        Returns:
            ``(logits, a)``, both ``(B, 1, H, W)``: ``a`` is ``teacher`` when given, else
            ``σ(ℓ)``, or relaxed-Bernoulli samples of the full-resolution logits when
            ``sample``.
        """
        H, W = xc.shape[-2:]
        pooled = F.avg_pool2d(xc, self.block_size, ceil_mode=True)  # (B, C', ⌈H/δ⌉, ⌈W/δ⌉)
        if teacher is not None:
            teacher = teacher.to(xc.dtype)
            blocks = F.avg_pool2d(teacher, self.block_size, ceil_mode=True)  # (B, 1, H/δ, W/δ)
            coarse, _ = super().scan(pooled, teacher=blocks)  # (B, 1, ⌈H/δ⌉, ⌈W/δ⌉)
        else:
            coarse, _ = super().scan(pooled, sample, temperature, generator)  # (B, 1, H/δ, W/δ)
        logits = F.interpolate(coarse, size=(H, W), mode="bilinear", align_corners=False)
        logits = logits + self.local(xc)  # (B, 1, H, W)
        if teacher is not None:
            return logits, teacher
        if not sample:
            return logits, torch.sigmoid(logits)
        noise = logistic_noise(logits.shape, logits, generator)
        return logits, relaxed_bernoulli(logits, noise, temperature)


def sequential_steps(height: int, width: int, block_size: int | None = None) -> int:
    """Sequential steps of one diagonal scan: ``H + W - 1`` (ARNN), or on the
    ``⌈H/δ⌉ × ⌈W/δ⌉`` grid of BRNN^δ, ``⌈H/δ⌉ + ⌈W/δ⌉ - 1``."""
    if block_size is not None:
        height, width = math.ceil(height / block_size), math.ceil(width / block_size)
    return height + width - 1
