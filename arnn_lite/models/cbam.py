"""CIFAR-style ResNet with CBAM in every residual block, and CBAM+ARNN (supplement §2.2).

Derived in chapter 12 (``chapters/12_cbam_classification.ipynb``).

CBAM (Woo et al., 2018) refines the output of a block's residual branch twice, *before*
the addition to the shortcut: a channel gate (a shared MLP with reduction ``r`` over the
average- and max-pooled descriptors, summed, sigmoid) and then a spatial gate (a
``k×k`` convolution over the ``[channel-max, channel-mean]`` map, BatchNorm, sigmoid).
CBAM+ARNN replaces only the spatial gate by an AttentionRNN; the supplement uses a 3×3
local context for both (CBAM's official code uses 7×7: ``context_size=7``).

**Our choices** (the main paper's text is not available to us): the ARNN gate reads the
same 2-channel ``[max, mean]`` map as CBAM's gate, so the two gates differ only in how
they turn that map into a mask; the network is the CIFAR ResNet of He et al. (2016) with
basic blocks, depth ``6n + 2``, widths ``w, 2w, 4w`` and 1×1 projection shortcuts when
the shape changes.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .._checks import check_choice, check_features, check_odd, check_positive
from ..attention import channel_pool
from .zoo import make_attention

__all__ = ["SPATIAL", "ChannelGate", "ARNNSpatialGate", "CBAM", "BasicBlock", "CBAMResNet",
           "cbam_resnet", "channel_pool"]

SPATIAL = ("none", "cbam", "arnn")  # the spatial gates (names of arnn_lite.models.zoo)


class ChannelGate(nn.Module):
    """CBAM's channel attention: ``σ(MLP(avgpool x) + MLP(maxpool x))``, ``(B, C, 1, 1)``.

    Args:
        channels: ``C``; reduction: ``r`` (hidden size ``max(1, C // r)``; CBAM uses 16).
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        check_positive(channels, "channels")
        check_positive(reduction, "reduction")
        hidden = max(1, channels // reduction)
        self.channels = channels
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, self.channels, "x")
        avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))  # (B, C) each
        return torch.sigmoid(self.mlp(avg) + self.mlp(mx))[:, :, None, None]  # (B, C, 1, 1)


class ARNNSpatialGate(nn.Module):
    """CBAM+ARNN's spatial gate: AttentionRNN over the ``[max, mean]`` map.

    ``(B, C, H, W) -> (B, 1, H, W)``: the ARNN's context is a ``k×k`` convolution of the
    2-channel pooled map to ``context_channels`` (ReLU), followed by the two diagonal
    scans (chapter 05); sigmoid mask.
    """

    def __init__(self, context_size: int = 3, hidden_channels: int = 8, context_channels: int = 8):
        super().__init__()
        self.arnn = make_attention("arnn", 2, hidden=hidden_channels, context_size=context_size,
                                   context_channels=context_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, None, "x")  # any C: the gate reads the [max, mean] map
        return self.arnn(channel_pool(x))  # (B, 2, H, W) -> (B, 1, H, W)


class CBAM(nn.Module):
    """Channel gate, then spatial gate (``"cbam"``, ``"arnn"`` or ``"none"``).

    ``forward(x)`` returns ``(x', mask)``: refined features ``(B, C, H, W)`` and the
    spatial mask ``(B, 1, H, W)`` (``None`` without a spatial gate).
    """

    def __init__(self, channels, spatial="cbam", reduction=16, context_size=3, channel=True,
                 arnn_hidden=8, arnn_context=8):
        super().__init__()
        check_choice(spatial, SPATIAL, "spatial")
        check_odd(context_size, "context_size")
        for value, name in ((channels, "channels"), (reduction, "reduction"),
                            (arnn_hidden, "arnn_hidden"), (arnn_context, "arnn_context")):
            check_positive(value, name)
        self.channels = channels
        self.channel = ChannelGate(channels, reduction) if channel else None
        if spatial == "arnn":  # the zoo's ARNN, on the [max, mean] map
            self.spatial = ARNNSpatialGate(context_size, arnn_hidden, arnn_context)
        else:
            self.spatial = make_attention(spatial, channels, context_size=context_size)

    def forward(self, x):
        check_features(x, self.channels, "x")
        if self.channel is not None:
            x = x * self.channel(x)  # (B, C, H, W) * (B, C, 1, 1)
        if self.spatial is None:
            return x, None
        mask = self.spatial(x)  # (B, 1, H, W)
        return x * mask, mask


class BasicBlock(nn.Module):
    """``relu(shortcut(x) + CBAM(bn(conv(relu(bn(conv(x)))))))``: the attention refines
    the residual branch before the addition (CBAM's placement)."""

    def __init__(self, cin, cout, stride=1, **cbam):
        super().__init__()
        for value, name in ((cin, "cin"), (cout, "cout"), (stride, "stride")):
            check_positive(value, name)
        self.cin = cin
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.cbam = CBAM(cout, **cbam)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:  # projection shortcut (1×1 conv + BN)
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        check_features(x, self.cin, "x")
        out = torch.relu(self.bn1(self.conv1(x)))  # (B, C', H', W')
        out, mask = self.cbam(self.bn2(self.conv2(out)))
        return torch.relu(out + self.shortcut(x)), mask


class CBAMResNet(nn.Module):
    """``images (B, in_channels, H, W) -> (logits (B, num_classes), masks)``.

    ``masks`` holds one spatial mask ``(B, 1, h, w)`` per residual block (``None``
    entries without a spatial gate). Built by :func:`cbam_resnet`.
    """

    def __init__(self, blocks_per_stage, num_classes, width=16, in_channels=3, **cbam):
        super().__init__()
        for value, name in ((blocks_per_stage, "blocks_per_stage"), (num_classes, "num_classes"),
                            (width, "width"), (in_channels, "in_channels")):
            check_positive(value, name)
        self.in_channels = in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        blocks, cin = [], width
        for stage, cout in enumerate((width, 2 * width, 4 * width)):
            for k in range(blocks_per_stage):
                blocks.append(BasicBlock(cin, cout, 2 if stage > 0 and k == 0 else 1, **cbam))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, images):
        check_features(images, self.in_channels, "images")
        x, masks = self.stem(images), []  # (B, w, H, W)
        for block in self.blocks:
            x, mask = block(x)
            masks.append(mask)
        return self.fc(x.mean(dim=(2, 3))), masks  # global average pool -> (B, classes)


def cbam_resnet(depth=20, num_classes=100, spatial="cbam", context_size=3, width=16,
                reduction=16, channel=True, in_channels=3, arnn_hidden=8, arnn_context=8):
    """A CIFAR ResNet (He et al., 2016) with CBAM in every block.

    Args:
        depth: ``6n + 2`` (8, 14, 20, 32, 56, ...): ``n`` basic blocks per stage.
        num_classes: 100 for CIFAR-100, 10 for digits.
        spatial: ``"cbam"`` (conv over [max, mean] + BN), ``"arnn"`` (CBAM+ARNN) or
            ``"none"`` (channel gate only).
        context_size: odd ``k`` of the spatial gate's local context (supplement: 3;
            CBAM's official code: 7).
        width: channels of the first stage (16 in He et al.; smaller for CPU).
        reduction: channel-MLP reduction ``r`` (CBAM: 16).
        channel: keep CBAM's channel gate; ``channel=False, spatial="none"`` is a plain ResNet.
        arnn_hidden, arnn_context: ARNN state size and context channels.
    """
    check_positive(depth, "depth")
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth: expected 6n + 2 with n >= 1 (8, 14, 20, 32, 56, ...), got {depth}")
    return CBAMResNet((depth - 2) // 6, num_classes, width, in_channels, spatial=spatial,
                      reduction=reduction, context_size=context_size, channel=channel,
                      arnn_hidden=arnn_hidden, arnn_context=arnn_context)
