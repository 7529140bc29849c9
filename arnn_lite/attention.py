"""Spatial attention modules behind one small interface.

Every module maps features ``x`` of shape ``(B, C, H, W)`` (and an optional query of
shape ``(B, D)``) to a mask of shape ``(B, 1, H, W)``, applied as ``x * mask``. Each is
split into two steps so that any of them can serve as the *context network* of
:class:`~arnn_lite.AttentionRNN` (supplement Eq. 1):

* ``context(x, query)`` -> features ``(B, C', H, W)`` (the local spatial context δ),
* ``logits(x, query)``  -> ``(B, 1, H, W)``, normalised by ``forward``.

The baselines (¬CTX, CTX, SAN, U-Net) are introduced in chapter 01
(``chapters/01_spatial_attention.ipynb``); AttentionRNN lives in :mod:`arnn_lite.arnn`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ._checks import NORMALIZATIONS, check_choice, check_features, check_odd, check_positive, check_query, check_rank

__all__ = [
    "SpatialAttention", "QueryContext", "NoContextAttention", "ContextAttention",
    "SANAttention", "UNet", "UNetAttention", "CBAMSpatialGate", "channel_pool", "normalize",
]


def normalize(logits: torch.Tensor, normalization: str) -> torch.Tensor:
    """Turn logits ``(B, 1, H, W)`` into a mask: element-wise sigmoid, or a softmax over
    all ``H * W`` positions (each mask then sums to one)."""
    check_choice(normalization, NORMALIZATIONS, "normalization")
    check_rank(logits, 4, "logits", "(B, 1, H, W)")
    if normalization == "sigmoid":
        return torch.sigmoid(logits)
    B, _, H, W = logits.shape
    return torch.softmax(logits.reshape(B, 1, H * W), dim=-1).reshape(B, 1, H, W)


class SpatialAttention(nn.Module):
    """Base class: validates inputs, calls ``logits``, normalises.

    Args:
        in_channels: ``C`` of the features.
        query_dim: ``D`` of the query, or ``None`` for an unconditional mask.
        normalization: ``"sigmoid"`` or ``"softmax"``.
    """

    def __init__(self, in_channels: int, query_dim=None, normalization: str = "sigmoid"):
        super().__init__()
        check_positive(in_channels, "in_channels")
        if query_dim is not None:
            check_positive(query_dim, "query_dim")
        check_choice(normalization, NORMALIZATIONS, "normalization")
        self.in_channels, self.query_dim, self.normalization = in_channels, query_dim, normalization

    def check_inputs(self, x, query) -> None:
        """Raise ``ValueError`` for a wrongly shaped ``x`` or ``query``."""
        check_features(x, self.in_channels, "x")
        check_query(query, self.query_dim, x.shape[0])

    def context(self, x, query=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def logits(self, x, query=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor, query=None) -> torch.Tensor:
        """Args: x ``(B, C, H, W)``, query ``(B, D)`` or ``None``. Returns ``(B, 1, H, W)``."""
        self.check_inputs(x, query)
        return normalize(self.logits(x, query), self.normalization)


class QueryContext(nn.Module):
    """PAN-style local context: ``relu(conv_kxk(x) + Linear(q))``, query broadcast over space.

    Args:
        in_channels: ``C``; out_channels: ``C'``; context_size: odd ``k``;
        query_dim: ``D`` or ``None``; activation: ``"relu"`` (PAN) or ``"tanh"`` (SAN).

    Shapes: ``(B, C, H, W)``, ``(B, D)`` -> ``(B, C', H, W)``.
    """

    def __init__(self, in_channels, out_channels, context_size=3, query_dim=None, activation="relu"):
        super().__init__()
        check_positive(in_channels, "in_channels")
        check_positive(out_channels, "out_channels")
        check_odd(context_size, "context_size")
        check_choice(activation, ("relu", "tanh"), "activation")
        if query_dim is not None:
            check_positive(query_dim, "query_dim")
        self.in_channels, self.query_dim, self.out_channels = in_channels, query_dim, out_channels
        self.conv = nn.Conv2d(in_channels, out_channels, context_size, padding=context_size // 2)
        self.query = nn.Linear(query_dim, out_channels, bias=False) if query_dim else None
        self.act = torch.relu if activation == "relu" else torch.tanh

    def forward(self, x, query=None):
        check_features(x, self.in_channels, "x")
        check_query(query, self.query_dim, x.shape[0])
        z = self.conv(x)  # (B, C', H, W)
        if self.query is not None:
            z = z + self.query(query)[:, :, None, None]  # (B, C', 1, 1) broadcast
        return self.act(z)


class ContextAttention(SpatialAttention):
    """CTX: a k×k local context followed by a 1×1 convolution to one logit per position.

    Args:
        in_channels: ``C``; context_size: odd ``k`` (1 gives ¬CTX); query_dim: ``D``/None;
        context_channels: ``C'`` (default ``in_channels``); normalization: sigmoid/softmax.
    """

    def __init__(self, in_channels, context_size=3, query_dim=None, context_channels=None,
                 normalization="sigmoid", activation="relu"):
        super().__init__(in_channels, query_dim, normalization)
        if context_channels is None:
            context_channels = in_channels
        check_positive(context_channels, "context_channels")
        self.context_net = QueryContext(in_channels, context_channels, context_size,
                                        query_dim, activation)
        self.out_channels = context_channels
        self.head = nn.Conv2d(context_channels, 1, 1)

    def context(self, x, query=None):
        return self.context_net(x, query)  # (B, C', H, W)

    def logits(self, x, query=None):
        return self.head(self.context(x, query))  # (B, 1, H, W)


class NoContextAttention(ContextAttention):
    """¬CTX: each position's logit sees only its own feature vector (1×1 context)."""

    def __init__(self, in_channels, query_dim=None, context_channels=None, normalization="sigmoid"):
        super().__init__(in_channels, 1, query_dim, context_channels, normalization)


class SANAttention(ContextAttention):
    """SAN-style global attention (Yang et al., 2016): ``tanh(W x + W q)``, one logit
    per position, softmax over all positions. In the MBG network it attends once, after
    the last convolution."""

    def __init__(self, in_channels, query_dim=None, context_channels=None, normalization="softmax"):
        super().__init__(in_channels, 1, query_dim, context_channels, normalization, "tanh")


def _double_conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    """A small U-Net (Ronneberger et al., 2015) of ``depth`` down/up levels, query added
    at the bottleneck. Works on any ``H, W`` (skip connections are cropped/padded).

    **Our choice:** every 3×3 conv is followed by BatchNorm (the original U-Net has none;
    the supplement does not say). Without it, RMSprop's first steps at the MBG learning
    rate blew the mask logits up: sigmoid masks went to exactly 1, the last softmax to one
    position, and UNet d=2 stayed at chance.

    Shapes: ``(B, C, H, W)``, ``(B, D)`` -> ``(B, base_channels, H, W)``.
    """

    def __init__(self, in_channels, depth=2, query_dim=None, base_channels=32):
        super().__init__()
        check_positive(in_channels, "in_channels")
        check_positive(depth, "depth")
        check_positive(base_channels, "base_channels")
        if query_dim is not None:
            check_positive(query_dim, "query_dim")
        self.in_channels, self.query_dim = in_channels, query_dim
        widths = [base_channels * 2 ** k for k in range(depth + 1)]
        self.down = nn.ModuleList([_double_conv(in_channels, widths[0])] +
                                  [_double_conv(widths[k], widths[k + 1]) for k in range(depth)])
        self.up = nn.ModuleList([nn.Conv2d(widths[k + 1], widths[k], 1) for k in reversed(range(depth))])
        self.merge = nn.ModuleList([_double_conv(2 * widths[k], widths[k]) for k in reversed(range(depth))])
        self.query = nn.Linear(query_dim, widths[-1], bias=False) if query_dim else None
        self.out_channels = base_channels

    def forward(self, x, query=None):
        check_features(x, self.in_channels, "x")
        check_query(query, self.query_dim, x.shape[0])
        skips = []
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else F.max_pool2d(x, 2, ceil_mode=True))
            skips.append(x)
        if self.query is not None:
            x = x + self.query(query)[:, :, None, None]  # bottleneck (B, C_d, h, w)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            x = F.interpolate(up(x), size=skip.shape[-2:], mode="nearest")  # (B, C_k, h_k, w_k)
            x = merge(torch.cat([x, skip], 1))
        return x


class UNetAttention(SpatialAttention):
    """UNet^d attention (supplement Table 1): a depth-``d`` U-Net, 1×1 conv, sigmoid.
    Its ``context`` (the U-Net features) can serve as AttentionRNN's context network."""

    def __init__(self, in_channels, depth=2, query_dim=None, base_channels=32, normalization="sigmoid"):
        super().__init__(in_channels, query_dim, normalization)
        self.unet = UNet(in_channels, depth, query_dim, base_channels)
        self.out_channels = base_channels
        self.head = nn.Conv2d(base_channels, 1, 1)

    def context(self, x, query=None):
        return self.unet(x, query)  # (B, base, H, W)

    def logits(self, x, query=None):
        return self.head(self.context(x, query))


def channel_pool(x: torch.Tensor) -> torch.Tensor:
    """CBAM's spatial descriptor: ``(B, C, H, W) -> (B, 2, H, W)``, ``[max, mean]`` over C.

    What CBAM's spatial gate (:class:`CBAMSpatialGate`) and CBAM+ARNN's
    (:class:`arnn_lite.models.cbam.ARNNSpatialGate`) read; derived in chapter 12."""
    check_features(x, None, "x")
    return torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)  # (B, 2, H, W)


class CBAMSpatialGate(SpatialAttention):
    """CBAM's spatial attention (Woo et al., 2018): conv over [channel-max, channel-mean]
    + BatchNorm, sigmoid. ``kernel_size`` 7 in the official code, 3 in the AttentionRNN
    supplement. Takes no query."""

    def __init__(self, in_channels, kernel_size=7):
        super().__init__(in_channels, None, "sigmoid")
        check_odd(kernel_size, "kernel_size")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)
        self.out_channels = 2

    def context(self, x, query=None):
        return channel_pool(x)  # (B, 2, H, W)

    def logits(self, x, query=None):
        return self.bn(self.conv(self.context(x, query)))
