"""The MBG network (supplement Table 2, PAN's base net) with a pluggable attention.

Base net (PAN's published code): 4 × [3×3 conv, 32 channels, valid padding, ReLU →
2×2 max-pool → attention → BatchNorm]; on a 100×100 input the maps are 49, 23, 10 and
4 pixels wide. Then pooling over space → BatchNorm → dropout 0.5 → linear classifier.
¬CTX, CTX, UNet, ARNN and BRNN^δ variants attend after every pool (sigmoid masks after
pools 1–3, softmax after pool 4); SAN attends once, after the last pool; NONE never.
**Our choice:** after a softmax mask the features are *summed* over space (a weighted
average); otherwise they are averaged.

The scalability variant (supplement Table 3) puts a fifth conv+pool stack in front,
followed by NONE, ARNN or BRNN^δ (``front=...``), then the ARNN network above. The
attention modules come from :mod:`arnn_lite.models.zoo`, by name.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .._checks import check_choice, check_features, check_positive, check_positive_number, check_query
from ..arnn import sequential_steps
from .zoo import make_attention

__all__ = ["MBGNet", "ATTENTIONS", "FRONTS"]

# The names of arnn_lite.models.zoo this network takes: in every stage (SAN: the last only),
# or, for the scalability study, after its fifth stack (``front``; None: no fifth stack).
ATTENTIONS = ("none", "noctx", "ctx", "ctx_wide", "san", "arnn", "arnn_sample", "brnn",
              "unet2", "unet3", "unet2_arnn", "unet3_arnn")
FRONTS = (None, "none", "arnn", "brnn")


class Stage(nn.Module):
    """3×3 valid conv → ReLU → 2×2 max-pool → (attention) → BatchNorm."""

    def __init__(self, cin, cout, attention=None):
        super().__init__()
        self.conv, self.attention = nn.Conv2d(cin, cout, 3), attention
        self.pool, self.bn = nn.MaxPool2d(2), nn.BatchNorm2d(cout)

    def forward(self, x, query, sample=False, temperature=0.5, generator=None):
        x = self.pool(torch.relu(self.conv(x)))  # (B, C, H', W')
        mask = None
        if self.attention is not None:
            extra = dict(sample=True, temperature=temperature, generator=generator) if sample else {}
            mask = self.attention(x, query, **extra)  # (B, 1, H', W')
            x = x * mask
        return self.bn(x), mask


class MBGNet(nn.Module):
    """Attribute prediction on MBG: ``image (B, 3, H, W), query (B, D) -> logits, masks``.

    Args:
        attention: one of :data:`ATTENTIONS` (names of :mod:`arnn_lite.models.zoo`);
            ``"brnn"`` puts BRNN^δ in every stage (the benchmark's network).
        num_classes: 5 (colours, MBG) or 10 (digits, MBG^inv).
        query_dim: 10 (digit query) or 5 (colour query, MBG^inv).
        channels: conv width (32 in the paper); hidden: ARNN state size.
        front: ``None`` (Table 2 networks) or the scalability study's fifth stack
            attention ``"none" | "arnn" | "brnn"`` (Table 3; the rest is ARNN).
        block_size: δ of BRNN^δ.
    """

    def __init__(self, attention="arnn", num_classes=5, query_dim=10, channels=32, hidden=16,
                 front=None, block_size=2, temperature=0.5):
        super().__init__()
        check_choice(attention, ATTENTIONS, "attention")
        check_choice(front, FRONTS, "front")
        for value, name in ((channels, "channels"), (num_classes, "num_classes"),
                            (hidden, "hidden"), (block_size, "block_size")):
            check_positive(value, name)
        if query_dim is not None:
            check_positive(query_dim, "query_dim")
        check_positive_number(temperature, "temperature")
        self.query_dim = query_dim
        self.attention, self.front, self.temperature = attention, front, temperature
        if front is not None:
            attention = "arnn"
        names = (["none"] * 3 + ["san"]) if attention == "san" else [attention] * 4
        sizes = dict(hidden=hidden, block_size=block_size)
        stages = [Stage(3 if k == 0 else channels, channels, make_attention(
            name, channels, query_dim, normalization="softmax" if k == 3 else "sigmoid", **sizes))
            for k, name in enumerate(names)]
        if front is not None:
            stages.insert(0, Stage(3, channels, make_attention(front, channels, query_dim, **sizes)))
            stages[1].conv = nn.Conv2d(channels, channels, 3)
        self.stages = nn.ModuleList(stages)
        self.min_size = 1
        for _ in stages:  # each stage: 3×3 valid conv (-2), then 2×2 max-pool (halves, floor)
            self.min_size = 2 * self.min_size + 2
        self.head = nn.Sequential(nn.BatchNorm1d(channels), nn.Dropout(0.5),
                                  nn.Linear(channels, num_classes))

    def forward(self, image, query, sample=None, generator=None):
        """Returns ``logits (B, num_classes)`` and the list of masks (``None`` where a
        stage does not attend). ``sample`` defaults to True for ``"arnn_sample"`` in
        training mode (ARNN~ trains on its samples) and False otherwise; ``generator``
        (a ``torch.Generator``) makes ARNN~ samples reproducible (chapter 10).

        ``image`` must be at least :attr:`min_size` pixels on each side (46 for the four
        stages of Table 2, 94 with the scalability study's fifth)."""
        check_features(image, 3, "image", self.min_size,
                       f"{len(self.stages)} stages of a valid 3×3 conv and a 2×2 pool")
        check_query(query, self.query_dim, image.shape[0])
        if sample is None:
            sample = self.attention == "arnn_sample" and self.training
        x, masks = image, []
        for stage in self.stages:
            x, mask = stage(x, query, sample, self.temperature, generator)
            masks.append(mask)
        last = masks[-1]
        if last is not None and self.stages[-1].attention.normalization == "softmax":
            pooled = x.sum(dim=(2, 3))  # the softmax mask already weights the positions
        else:
            pooled = x.mean(dim=(2, 3))  # (B, C)
        return self.head(pooled), masks


def map_sizes(canvas: int, stacks: int = 5) -> list[int]:
    """Side of the map after each valid 3×3 conv + 2×2 max-pool stack: ``(s - 2) // 2``.
    Raises ``ValueError`` if a map would be smaller than 1 pixel."""
    sizes, side = [], canvas
    for k in range(stacks):
        side = (side - 2) // 2
        if side < 1:
            raise ValueError(f"canvas: expected a side that survives {stacks} conv+pool stacks, "
                             f"got {canvas} (stack {k + 1} leaves {side} pixels)")
        sizes.append(side)
    return sizes


def network_sequential_steps(canvas: int, front: str, block_size: int = 2) -> int:
    """Sequential steps of one scan direction summed over every attention of the
    scalability network (chapter 11): the front attention after stack 1 (0 for
    ``"none"``) plus the ARNN after each of stacks 2-5."""
    check_choice(front, FRONTS[1:], "front")
    sizes = map_sizes(canvas)
    first = {"none": 0, "arnn": sequential_steps(sizes[0], sizes[0]),
             "brnn": sequential_steps(sizes[0], sizes[0], block_size)}[front]
    return first + sum(sequential_steps(s, s) for s in sizes[1:])
