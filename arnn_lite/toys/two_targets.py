"""A toy with two right answers, for the sampling mode ARNN~ (chapter 06,
``chapters/06_sampling_mode.ipynb``).

Each image holds two squares of the queried colour, either of which is a correct
attention target, plus distractor squares of other colours. The second target lies
entirely below and to the right of the first, so a raster-order scan that has decided
for (or against) the first square knows it when it reaches the second: the two targets
are the two *modes* of the distribution of correct masks.

Everything is deterministic per ``(seed, index)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .shapes import count_components  # noqa: F401  (re-exported: chapter 06 uses it)

__all__ = ["COLOURS", "make_two_targets", "teacher_forced_logits", "which_target",
           "count_components", "target_counts"]

COLOURS = ("red", "green", "blue")  # channel c of an image is colour c (one-hot, plus noise)
SIDE = 3  # every square is SIDE x SIDE


def _one_example(rng: np.random.Generator, size: int, n_distractors: int, noise: float):
    colour = int(rng.integers(len(COLOURS)))
    half = size // 2
    # target A in the top-left half-block, B strictly below and right of A (same spans: no overlap)
    ai, aj = rng.integers(0, half - SIDE + 1, size=2)
    bi, bj = rng.integers(half, size - SIDE + 1, size=2)
    image = np.zeros((len(COLOURS), size, size), np.float32)
    targets = np.zeros((2, size, size), np.float32)
    taken = np.zeros((size, size), bool)
    for k, (i, j) in enumerate([(ai, aj), (bi, bj)]):
        image[colour, i:i + SIDE, j:j + SIDE] = 1.0
        targets[k, i:i + SIDE, j:j + SIDE] = 1.0
        taken[max(i - 1, 0):i + SIDE + 1, max(j - 1, 0):j + SIDE + 1] = True
    others = [c for c in range(len(COLOURS)) if c != colour]
    for _ in range(n_distractors):
        for _attempt in range(50):  # rejection sampling of a free spot (with a 1-pixel gap)
            i, j = rng.integers(0, size - SIDE + 1, size=2)
            if not taken[i:i + SIDE, j:j + SIDE].any():
                image[rng.choice(others), i:i + SIDE, j:j + SIDE] = 1.0
                taken[max(i - 1, 0):i + SIDE + 1, max(j - 1, 0):j + SIDE + 1] = True
                break
    image += noise * rng.standard_normal(image.shape).astype(np.float32)
    return image, colour, targets


def make_two_targets(n: int, size: int = 10, seed: int = 0, n_distractors: int = 2,
                   noise: float = 0.1, start: int = 0) -> dict:
    """``n`` examples of the two-mode toy.

    Args:
        n: number of examples; size: ``H = W`` (at least ``2 * SIDE``).
        seed, start: example ``k`` is drawn from ``(seed, start + k)`` only.
        n_distractors: squares in the other colours; noise: std of added Gaussian noise.

    Returns:
        dict with ``image`` ``(n, 3, H, W)``, ``query`` ``(n, 3)`` (one-hot colour),
        ``colour`` ``(n,)`` and ``targets`` ``(n, 2, H, W)``: target 0 comes first in
        raster order, target 1 lies below and right of it.
    """
    if size < 2 * SIDE:
        raise ValueError(f"size: expected at least {2 * SIDE}, got {size}")
    images, colours, targets = [], [], []
    for index in range(start, start + n):
        rng = np.random.default_rng([seed, index])
        image, colour, target = _one_example(rng, size, n_distractors, noise)
        images.append(image), colours.append(colour), targets.append(target)
    colour = torch.tensor(colours)
    return {"image": torch.from_numpy(np.stack(images)),  # (n, 3, H, W)
            "query": F.one_hot(colour, len(COLOURS)).float(),  # (n, 3)
            "colour": colour,
            "targets": torch.from_numpy(np.stack(targets))}  # (n, 2, H, W)


def teacher_forced_logits(arnn, x, query, fed):
    """Logits of an :class:`~arnn_lite.AttentionRNN` when the values fed forward are
    given (``fed``, ``(B, 1, H, W)``) instead of predicted: *teacher forcing*.

    Why: with a mask ``a`` fed back, the ARNN is an autoregressive model
    ``p(a) = Π p(a[i, j] | earlier values, x, q)``; its log-likelihood of a target mask
    is the BCE of these logits against that mask. Feeding the values the sampler drew
    reproduces the sampler's own logits (tested).

    Returns:
        Logits ``(B, 1, H, W)``.
    """
    return arnn.scan(arnn.context(x, query), teacher=fed)[0]  # (B, 1, H, W)


def which_target(mask, targets, threshold: float = 0.5, min_iou: float = 0.5) -> int:
    """Which target a mask picked: ``0`` or ``1``, or ``-1`` for neither.

    The mask ``(H, W)`` is binarised at ``threshold``; it picks the target of higher
    intersection-over-union (IoU) if that IoU is above ``min_iou`` (a mask covering both
    squares has IoU ½ with each: it picked neither)."""
    binary = torch.as_tensor(mask).reshape(targets.shape[-2:]) > threshold  # (H, W)
    ious = []
    for target in torch.as_tensor(targets).bool():  # 2 x (H, W)
        union = (binary | target).sum().item()
        ious.append((binary & target).sum().item() / union if union else 0.0)
    best = int(np.argmax(ious))
    return best if ious[best] > min_iou else -1


def target_counts(masks, targets) -> dict:
    """How often masks ``(N, H, W)`` pick target 0, target 1 or neither (``targets``
    ``(N, 2, H, W)`` or one ``(2, H, W)`` shared by all)."""
    counts = {0: 0, 1: 0, -1: 0}
    for k, mask in enumerate(masks):
        counts[which_target(mask, targets if targets.dim() == 3 else targets[k])] += 1
    return counts


def train_two_targets(arnn, data: dict, steps: int = 300, batch_size: int = 64, lr: float = 0.01,
                    seed: int = 0, progress: bool = True) -> list[float]:
    """Maximum-likelihood training on a *random* correct target per example and step.

    Each step picks, for every example, target 0 or 1 with a fair coin and minimises the
    BCE of :func:`teacher_forced_logits` against it. Both targets are equally likely, so
    the best model gives each mode probability ½ and, once it has chosen, keeps to it.

    Returns:
        The loss of every step.
    """
    from ..progress import bar
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(arnn.parameters(), lr=lr)
    n, losses = len(data["image"]), []
    for _ in bar(range(steps), desc="training", disable=not progress, leave=True):
        idx = torch.randint(n, (batch_size,), generator=g)
        pick = torch.randint(2, (batch_size,), generator=g)
        target = data["targets"][idx, pick].unsqueeze(1)  # (B, 1, H, W)
        logits = teacher_forced_logits(arnn, data["image"][idx], data["query"][idx], target)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
