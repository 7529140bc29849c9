"""A tiny "find the queried object" problem that trains in seconds on a CPU.

Built in chapter 01 (``chapters/01_spatial_attention.ipynb``) and reused by chapters 05
and 07. Each image holds a few small objects (a hollow square, a plus-shaped cross or a
bar) in distinct colours, on a noisy background sprinkled with clutter pixels in the same
colours. The query is the one-hot colour of one object (the *target*); the label is the
target's shape. Colour alone cannot find the target (the clutter shares its colours) and
shape alone cannot name the answer (every image has several shapes), so the network has
to look at the queried object: a spatial attention problem in miniature.

Everything here is deterministic per ``(seed, index)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .._checks import check_choice
from ..models.zoo import make_attention

__all__ = ["COLOURS", "SHAPES", "ATTENTIONS", "make_toy", "ToyNet", "train_toy", "evaluate",
           "predict", "target_at", "count_components", "mask_metrics"]

# Palette (RGB in [0, 1]); the query is a one-hot index into it.
COLOURS = {"red": (0.9, 0.15, 0.15), "green": (0.15, 0.8, 0.3),
           "blue": (0.2, 0.4, 0.95), "yellow": (0.95, 0.85, 0.15)}
_S = 5  # every object fits in a 5x5 box
_mid = np.arange(_S) == 2
SHAPES = {
    "square": np.pad(np.zeros((3, 3), bool), 1, constant_values=True),  # hollow 5x5 outline
    "cross": _mid[:, None] | _mid[None, :],  # plus sign
    "bar": np.tile(np.isin(np.arange(_S), (1, 2)), (_S, 1)),  # vertical bar, 5 tall, 2 wide
}


def _place_boxes(rng, n, size):
    """Top-left corners of ``n`` non-overlapping 5x5 boxes (1-pixel gap) in a ``size`` canvas."""
    corners, tries = [], 0
    while len(corners) < n:
        r, c = (int(v) for v in rng.integers(0, size - _S + 1, size=2))
        if all(abs(r - r2) > _S or abs(c - c2) > _S for r2, c2 in corners):
            corners.append((r, c))
        tries += 1
        if tries % 500 == 0:  # a dead end on a small canvas: start again
            corners = []
    return corners


def _one_image(rng, size, n_objects, n_clutter, noise):
    """One example: image ``(3, H, W)``, target colour, shape label, mask ``(H, W)``."""
    palette = np.array(list(COLOURS.values()), np.float32)  # (K, 3)
    image = rng.uniform(0.25, 0.45) + noise * rng.standard_normal((3, size, size))
    for _ in range(n_clutter):  # single pixels and 2x1 specks in the palette colours
        r, c = rng.integers(0, size - 1, size=2)
        h, w = (1, 1) if rng.random() < 0.5 else ((2, 1) if rng.random() < 0.5 else (1, 2))
        image[:, r:r + h, c:c + w] = palette[rng.integers(len(palette))][:, None, None]
    colours = rng.permutation(len(palette))[:n_objects]  # distinct colours
    shapes = rng.integers(len(SHAPES), size=n_objects)
    target, mask = int(rng.integers(n_objects)), np.zeros((size, size), np.float32)
    stencils = list(SHAPES.values())
    for k, (r, c) in enumerate(_place_boxes(rng, n_objects, size)):
        stencil = stencils[shapes[k]]  # (5, 5) bool
        tint = palette[colours[k]] + rng.uniform(-0.08, 0.08, size=3)
        image[:, r:r + _S, c:c + _S][:, stencil] = tint[:, None]
        if k == target:
            mask[r:r + _S, c:c + _S][stencil] = 1.0
    return np.clip(image, 0, 1), int(colours[target]), int(shapes[target]), mask


def make_toy(n: int, size: int = 24, seed: int = 0, n_objects=(3, 4), n_clutter: int = 12,
             noise: float = 0.08, start: int = 0) -> dict:
    """Generate ``n`` examples of the toy problem.

    Example ``start + k`` depends only on ``(seed, start + k)``, so a test set drawn with
    another ``seed`` never overlaps a training set.

    Args:
        n: number of examples.
        size: image height and width ``H = W`` (at least 16).
        seed: dataset seed.
        n_objects: ``(low, high)`` inclusive range of objects per image (at most 4).
        n_clutter: clutter specks per image, in the object colours.
        noise: standard deviation of the background's Gaussian noise.
        start: index of the first example.

    Returns:
        dict with ``image`` ``(n, 3, H, W)`` float in [0, 1], ``query`` ``(n, 4)`` one-hot
        colour, ``label`` ``(n,)`` shape index into :data:`SHAPES`, ``mask`` ``(n, 1, H, W)``
        (1 on the target's pixels).
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise ValueError(f"size: expected an integer >= 16, got {size!r}")
    lo, hi = n_objects
    if not 1 <= lo <= hi <= len(COLOURS):
        raise ValueError(f"n_objects: expected (low, high) with 1 <= low <= high <= {len(COLOURS)}, got {n_objects!r}")
    images, colours, labels, masks = [], [], [], []
    for index in range(start, start + n):
        rng = np.random.default_rng([seed, index])
        img, colour, label, mask = _one_image(rng, size, int(rng.integers(lo, hi + 1)), n_clutter, noise)
        images.append(img), colours.append(colour), labels.append(label), masks.append(mask)
    return {"image": torch.tensor(np.stack(images), dtype=torch.float32),  # (n, 3, H, W)
            "query": F.one_hot(torch.tensor(colours), len(COLOURS)).float(),  # (n, 4)
            "label": torch.tensor(labels),  # (n,)
            "mask": torch.tensor(np.stack(masks))[:, None]}  # (n, 1, H, W)


# The names of arnn_lite.models.zoo that ToyNet takes (chapters 01, 05 and 07 compare them).
ATTENTIONS = ("none", "noctx", "ctx", "san", "arnn", "brnn")


class _NoAttention(nn.Module):
    """The "none" baseline: a mask of ones (every position kept)."""
    normalization = "sigmoid"

    def forward(self, x, query=None):
        return x.new_ones(x.shape[0], 1, *x.shape[2:])  # (B, 1, H, W)


def _conv_block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class ToyNet(nn.Module):
    """A tiny CNN with one attention layer, for the toy problem.

    ``image (B, 3, H, W)`` → conv → 2×2 max-pool → two convs → features
    ``X (B, C, H/2, W/2)`` → mask ``A = attention(X, q)`` → ``X * A`` → conv → global
    max over space → shape logits. (Each conv is 3×3 + BatchNorm + ReLU.) The global max
    lets the answer come from wherever the mask is largest; a softmax mask (SAN) is
    multiplied by ``H/2 * W/2`` so that it has mean one, like a mask of ones.

    Args:
        attention: one of :data:`ATTENTIONS` (built by :func:`arnn_lite.models.zoo.make_attention`;
            ``"none"`` is a mask of ones), or a callable ``(channels, query_dim) -> module``.
        channels: ``C``; n_colours: query size ``D``; n_classes: number of shapes.
        hidden, context_size, block_size: the attention's sizes (ARNN state per direction,
            odd ``k`` of the local context, ``δ`` of BRNN^δ).
    """

    def __init__(self, attention="ctx", channels: int = 16, n_colours: int = len(COLOURS),
                 n_classes: int = len(SHAPES), hidden: int = 16, context_size: int = 3,
                 block_size: int = 2):
        super().__init__()
        if not callable(attention):
            check_choice(attention, ATTENTIONS, "attention")
        self.features = nn.Sequential(*_conv_block(3, channels), nn.MaxPool2d(2),
                                      *_conv_block(channels, channels), *_conv_block(channels, channels))
        if callable(attention):
            self.attention = attention(channels, n_colours)
        else:  # "none": a mask of ones, since the head always multiplies by a mask
            module = make_attention(attention, channels, n_colours, hidden=hidden,
                                    context_size=context_size, block_size=block_size)
            self.attention = _NoAttention() if module is None else module
        self.head = nn.Sequential(*_conv_block(channels, channels))
        self.classifier = nn.Linear(channels, n_classes)

    def forward(self, image: torch.Tensor, query: torch.Tensor):
        """Returns ``(logits (B, n_classes), mask (B, 1, H/2, W/2))``."""
        x = self.features(image)  # (B, C, H/2, W/2)
        mask = self.attention(x, query)  # (B, 1, H/2, W/2)
        scale = x.shape[2] * x.shape[3] if getattr(self.attention, "normalization", "") == "softmax" else 1
        z = self.head(x * mask * scale)  # (B, C, H/2, W/2)
        return self.classifier(z.amax(dim=(2, 3))), mask


def _batches(n, batch_size, generator):
    """Yield index batches of an endless stream of shuffled epochs."""
    while True:
        perm = torch.randperm(n, generator=generator)
        for k in range(0, n - batch_size + 1, batch_size):
            yield perm[k:k + batch_size]


def train_toy(model: nn.Module, data: dict, steps: int = 300, batch_size: int = 32,
              lr: float = 3e-3, seed: int = 0, device="cpu", progress: bool = True) -> dict:
    """Train ``model`` with Adam and cross-entropy on ``data`` (from :func:`make_toy`).

    Returns:
        ``{"step": [...], "loss": [...], "accuracy": [...], "seconds": float}``: the
        per-step training loss and batch accuracy, and the wall-clock time.
    """
    import time

    from ..progress import bar

    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    batches = _batches(len(data["label"]), min(batch_size, len(data["label"])),
                       torch.Generator().manual_seed(seed))
    history, start = {"step": [], "loss": [], "accuracy": []}, time.perf_counter()
    for step in bar(range(steps), desc="training", disable=not progress):
        idx = next(batches)
        image, query, label = (data[k][idx].to(device) for k in ("image", "query", "label"))
        logits, _ = model(image, query)
        loss = F.cross_entropy(logits, label)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        history["step"].append(step)
        history["loss"].append(loss.item())
        history["accuracy"].append((logits.argmax(1) == label).float().mean().item())
    history["seconds"] = time.perf_counter() - start
    return history


@torch.no_grad()
def predict(model: nn.Module, data: dict, batch_size: int = 256, device="cpu"):
    """Run ``model`` in eval mode. Returns ``(logits (n, classes), masks (n, 1, h, w))`` on CPU."""
    model.to(device).eval()
    outs = [model(data["image"][k:k + batch_size].to(device), data["query"][k:k + batch_size].to(device))
            for k in range(0, len(data["label"]), batch_size)]
    return torch.cat([o[0] for o in outs]).cpu(), torch.cat([o[1] for o in outs]).cpu()


def target_at(mask: torch.Tensor, size) -> torch.Tensor:
    """Ground-truth mask ``(B, 1, H, W)`` at the feature resolution ``size = (h, w)``:
    a cell is on if any target pixel falls in it (adaptive max-pool)."""
    return F.adaptive_max_pool2d(mask, size)  # (B, 1, h, w)


def count_components(binary: np.ndarray) -> int:
    """Number of 4-connected components of ``True`` cells in a 2-D boolean array."""
    binary = np.asarray(binary, bool)
    seen = np.zeros_like(binary)
    H, W = binary.shape
    count = 0
    for i0, j0 in zip(*np.nonzero(binary)):
        if seen[i0, j0]:
            continue
        count, stack = count + 1, [(i0, j0)]
        seen[i0, j0] = True
        while stack:  # flood fill
            i, j = stack.pop()
            for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                if 0 <= a < H and 0 <= b < W and binary[a, b] and not seen[a, b]:
                    seen[a, b] = True
                    stack.append((a, b))
    return count


def mask_metrics(masks: torch.Tensor, target: torch.Tensor, threshold: float = 0.5) -> dict:
    """Quality and coherence of attention masks.

    Each mask is first divided by its maximum (so sigmoid and softmax masks compare).

    Args:
        masks: ``(B, 1, h, w)`` non-negative masks.
        target: ground-truth ``(B, 1, H, W)``, pooled to ``(h, w)`` by :func:`target_at`.
        threshold: on the max-normalised mask, for the component count.

    Returns:
        dict of means over the batch: ``inside`` (fraction of mask mass on target cells),
        ``components`` (4-connected components of ``mask >= threshold``; 1 is ideal for
        one object), ``tv`` (total variation per cell of the normalised mask: low = smooth).
    """
    m = masks / masks.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)  # (B, 1, h, w) in [0, 1]
    t = target_at(target, masks.shape[-2:])  # (B, 1, h, w)
    inside = (masks * t).sum((1, 2, 3)) / masks.sum((1, 2, 3)).clamp_min(1e-12)
    tv = ((m[..., 1:, :] - m[..., :-1, :]).abs().sum((1, 2, 3))
          + (m[..., 1:] - m[..., :-1]).abs().sum((1, 2, 3))) / m[0].numel()
    binary = (m >= threshold)[:, 0].numpy()
    comps = np.array([count_components(b) for b in binary], dtype=np.float64)
    return {"inside": inside.mean().item(), "components": float(comps.mean()), "tv": tv.mean().item()}


def evaluate(model: nn.Module, data: dict, batch_size: int = 256, device="cpu") -> dict:
    """Accuracy and mask metrics (:func:`mask_metrics`) of ``model`` on ``data``."""
    logits, masks = predict(model, data, batch_size, device)
    out = {"accuracy": (logits.argmax(1) == data["label"]).float().mean().item()}
    out.update(mask_metrics(masks, data["mask"]))
    return out
