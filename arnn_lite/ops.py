"""Pure tensor operations of the diagonal scan: ``skew`` and ``unskew``.

Derived step by step in chapter 02 (``chapters/02_skew.ipynb``).

Skewing shifts row ``i`` of a feature map ``i`` places to the right, so that every
anti-diagonal ``i + j = t`` of the original map becomes column ``t`` of the skewed map.
A scan over the columns of the skewed map is then a scan over anti-diagonals, and every
position of one anti-diagonal can be computed in parallel.

Both functions are written without any Python loop over rows: padding the width by ``H``
and re-reading the flat buffer with a row length one shorter shifts row ``i`` by exactly
``i`` (because ``i * (W + H) + j == i * (W + H - 1) + (i + j)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._checks import check_positive, check_rank

__all__ = ["skew", "unskew"]


def skew(x: torch.Tensor) -> torch.Tensor:
    """Shift row ``i`` of ``x`` right by ``i`` places, padding with zeros.

    ``skew(x)[b, c, i, j + i] == x[b, c, i, j]``; every other entry is zero.

    Args:
        x: feature map, shape ``(B, C, H, W)``.

    Returns:
        Skewed map, shape ``(B, C, H, H + W - 1)``; column ``t`` holds the anti-diagonal
        ``i + j = t`` of ``x``.
    """
    check_rank(x, 4, "x", "(B, C, H, W)")
    B, C, H, W = x.shape
    T = H + W - 1
    padded = F.pad(x, (0, H))  # (B, C, H, W+H)
    flat = padded.reshape(B, C, H * (W + H))  # (B, C, H*(W+H))
    return flat[..., : H * T].reshape(B, C, H, T)  # (B, C, H, H+W-1)


def unskew(y: torch.Tensor, width: int) -> torch.Tensor:
    """Exact inverse of :func:`skew`: read row ``i`` back from column ``i`` on.

    Args:
        y: skewed map, shape ``(B, C, H, H + width - 1)``.
        width: ``W``, the width of the map before skewing.

    Returns:
        The unskewed map, shape ``(B, C, H, W)``; ``unskew(skew(x), x.shape[-1]) == x``.
    """
    check_rank(y, 4, "y", "(B, C, H, H + width - 1)")
    check_positive(width, "width")
    B, C, H, T = y.shape
    if T != H + width - 1:
        raise ValueError(
            f"y: expected last dimension H + width - 1 = {H + width - 1} "
            f"(H={H}, width={width}), got {T}"
        )
    flat = F.pad(y.reshape(B, C, H * T), (0, H))  # (B, C, H*(W+H))
    return flat.reshape(B, C, H, width + H)[..., :width]  # (B, C, H, W)
