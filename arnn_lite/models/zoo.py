"""One registry: an attention's name -> the module that computes its mask.

Every model of the book and every experiment CLI (``--attention NAME``) spells an
attention the same way; each model accepts the subset of :data:`ATTENTIONS` that fits it
(its own ``ATTENTIONS`` tuple) and builds the module with :func:`make_attention`. The names
are the ones the shipped results files record (``config.model``, ``config.attention``,
``config.spatial``, ``config.front``), so the registry never renames one. Chapter 01
introduces ¬CTX, CTX and SAN; chapters 05-07 the AttentionRNN and BRNN^δ; chapters 12-14
the CBAM, MCB+ATT and ModularGAN masks.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .._checks import NORMALIZATIONS, check_choice, check_odd, check_positive
from ..arnn import AttentionRNN, BlockAttentionRNN
from ..attention import CBAMSpatialGate, ContextAttention, NoContextAttention, SANAttention, UNet, UNetAttention

__all__ = ["ATTENTIONS", "NO_QUERY", "make_attention", "matched_context_channels", "ModularGANGate"]

ATTENTIONS = {
    "none": "no attention: the features pass unchanged (no module)",
    "noctx": "¬CTX (PAN): a 1×1 convolution of the features and the query to one logit",
    "ctx": "CTX (PAN): a k×k local context, then a 1×1 convolution to one logit",
    "ctx_wide": "CTX with a wider context: the AttentionRNN's parameter count (capacity-matched)",
    "san": "SAN (Yang et al., 2016): tanh(Wx + Wq), one logit per position, softmax over space",
    "att": "MCB+ATT (Fukui et al., 2016): two 1×1 convolutions, ReLU between (¬CTX's module)",
    "cbam": "CBAM's spatial gate (Woo et al., 2018): k×k conv over [channel max, mean], BatchNorm",
    "mgan": "ModularGAN's mask (Zhao et al., 2018): a k×k convolution to ℓ, g = (1 + tanh ℓ) / 2",
    "arnn": "AttentionRNN: a k×k context, then two diagonal LSTM scans (chapters 05-06)",
    "arnn_sample": "ARNN~: the AttentionRNN, trained on its own relaxed samples (chapter 10)",
    "brnn": "BRNN^δ: the AttentionRNN's scans on a δ-pooled grid (chapter 07)",
    "unet2": "UNet^2 attention: a 2-level U-Net, 1×1 conv (supplement Table 1)",
    "unet3": "UNet^3 attention: a 3-level U-Net, 1×1 conv (supplement Table 1)",
    "unet2_arnn": "AttentionRNN whose context is a 2-level U-Net (supplement Eq. 1)",
    "unet3_arnn": "AttentionRNN whose context is a 3-level U-Net (supplement Eq. 1)",
}
NO_QUERY = ("cbam", "mgan")  # masks from the features alone


class ModularGANGate(nn.Conv2d):
    """ModularGAN's transformer mask: ``g = (1 + tanh(conv(x))) / 2``, ``(B, C, H, W) -> (B, 1, H, W)``.

    A convolution itself (not a module holding one), so its weights keep the names
    ``weight`` and ``bias`` that the shipped ModularGAN checkpoints use."""

    def __init__(self, in_channels: int, kernel_size: int = 3):
        check_positive(in_channels, "in_channels")
        check_odd(kernel_size, "kernel_size")
        super().__init__(in_channels, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x, query=None):
        return (1 + torch.tanh(super().forward(x))) / 2  # (B, 1, H, W) in [0, 1]


def _parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def matched_context_channels(channels: int, query_dim=None, hidden: int = 16, context_size: int = 3) -> int:
    """The narrowest context width ``C'`` at which CTX has at least as many parameters as the
    AttentionRNN with the same ``channels``, query, state size and ``k`` ("ctx_wide"): the
    capacity-matched baseline that tells "more parameters" apart from "structure"."""
    target = _parameters(AttentionRNN(channels, hidden, context_size=context_size, query_dim=query_dim))
    width = channels
    while _parameters(ContextAttention(channels, context_size, query_dim, width)) < target:
        width += 1
    return width


def make_attention(name: str, channels: int, query_dim=None, *, normalization: str = "sigmoid",
                   hidden: int = 16, context_size: int = 3, context_channels=None,
                   block_size: int = 2):
    """The attention module called ``name`` (a key of :data:`ATTENTIONS`), or ``None`` for
    ``"none"``.

    Args:
        name: a key of :data:`ATTENTIONS`.
        channels: ``C`` of the features ``(B, C, H, W)`` the mask is computed from.
        query_dim: ``D`` of the query ``(B, D)``, or ``None`` (no query; the only choice
            for :data:`NO_QUERY`).
        normalization: ``"sigmoid"`` or ``"softmax"`` (over space). SAN is always softmax;
            the CBAM and ModularGAN gates have their own.
        hidden: the AttentionRNN's state size per direction.
        context_size: odd ``k`` of the local context (ctx, arnn, brnn, cbam, mgan).
        context_channels: ``C'`` of the context (default ``C``; the U-Nets' base width;
            "ctx_wide" sets its own, :func:`matched_context_channels`).
        block_size: ``δ`` of BRNN^δ.

    Returns:
        a module ``(x (B, C, H, W), query (B, D) or None) -> mask (B, 1, H, W)``, or ``None``.
    """
    check_choice(name, ATTENTIONS, "attention")
    check_choice(normalization, NORMALIZATIONS, "normalization")
    if name in NO_QUERY and query_dim is not None:
        raise ValueError(f"query_dim: expected None for {name!r}, which takes no query, got {query_dim!r}")
    common = dict(query_dim=query_dim, normalization=normalization)
    if name == "none":
        return None
    if name in ("noctx", "att"):
        return NoContextAttention(channels, context_channels=context_channels, **common)
    if name == "ctx":
        return ContextAttention(channels, context_size, context_channels=context_channels, **common)
    if name == "ctx_wide":
        width = matched_context_channels(channels, query_dim, hidden, context_size)
        return ContextAttention(channels, context_size, context_channels=width, **common)
    if name == "san":
        return SANAttention(channels, query_dim, context_channels)
    if name == "cbam":
        return CBAMSpatialGate(channels, kernel_size=context_size)
    if name == "mgan":
        return ModularGANGate(channels, context_size)
    if name in ("arnn", "arnn_sample"):
        return AttentionRNN(channels, hidden, context_size=context_size,
                            context_channels=context_channels, **common)
    if name == "brnn":
        return BlockAttentionRNN(channels, hidden, block_size=block_size, context_size=context_size,
                                 context_channels=context_channels, **common)
    depth, base = int(name[4]), context_channels or channels  # "unet2", "unet3_arnn", ...
    if name.endswith("_arnn"):
        unet = UNet(channels, depth=depth, query_dim=query_dim, base_channels=base)
        return AttentionRNN(channels, hidden, context_net=unet, **common)  # supplement Eq. 1
    return UNetAttention(channels, depth=depth, base_channels=base, **common)
