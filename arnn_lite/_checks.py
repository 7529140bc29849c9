"""Input validation shared by every module: errors name the argument, what was
expected and what came (STYLE.md).

Only shapes, dtypes and Python values are checked, never tensor *values* on a device:
reading a GPU tensor's values would wait for the GPU (a sync on every forward). A NaN or
inf input therefore still flows through; the training loop stops on a non-finite loss.
"""

from __future__ import annotations

import math
import numbers

import torch

NORMALIZATIONS = ("sigmoid", "softmax")


def check_rank(x, rank: int, name: str, shape: str) -> None:
    """Raise ``ValueError`` unless ``x`` is a tensor with ``rank`` dimensions."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a tensor of shape {shape}, got {type(x).__name__}")
    if x.dim() != rank:
        raise ValueError(
            f"{name}: expected a {rank}-d tensor of shape {shape}, "
            f"got {x.dim()}-d tensor of shape {tuple(x.shape)}"
        )


def check_float(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` holds floating-point numbers (not ints or bools)."""
    if not x.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point tensor, got {x.dtype} "
                         f"(convert with .float())")


def check_positive(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def check_nonnegative(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer ``>= 0`` (a count or a seed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name}: expected a non-negative integer, got {value!r}")


def check_positive_number(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite real number ``> 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name}: expected a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a positive number, got {value!r} (not finite)")


def check_odd(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive odd integer ('same' padding)."""
    check_positive(value, name)
    if value % 2 == 0:
        raise ValueError(f"{name}: expected a positive odd integer (same padding), got {value}")


def check_features(x, channels=None, name: str = "x", min_size: int = 1, why: str = "") -> None:
    """Raise ``ValueError`` unless ``x`` is a floating-point ``(B, channels, H, W)`` tensor
    with ``H, W >= min_size`` (``channels=None``: any ``C``; ``why``: the reason for
    ``min_size``, shown in the message).

    Every public ``forward`` that takes feature maps or images calls this first, so a
    wrong rank, channel count, dtype or an empty map never reaches a torch layer."""
    if isinstance(x, torch.Tensor) and x.dim() == 4 and x.is_floating_point():
        _, C, H, W = x.shape
        if (channels is None or C == channels) and H >= min_size and W >= min_size:
            return  # the common case: a few attribute reads, no tensor values (every forward)
    shape = f"(B, {'C' if channels is None else channels}, H, W)"
    check_rank(x, 4, name, shape)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name}: expected {channels} channels, shape {shape}, "
            f"got {x.shape[1]} channels, shape {tuple(x.shape)}"
        )
    check_float(x, name)
    if min(x.shape[-2:]) < min_size:
        raise ValueError(f"{name}: expected height and width of at least {min_size}"
                         f"{f' ({why})' if why else ''}, got shape {tuple(x.shape)}")


def check_query(query, query_dim, batch: int) -> None:
    """Raise ``ValueError`` unless ``query`` matches ``query_dim`` (``None``: no query)."""
    if query_dim is None:
        if query is not None:
            raise ValueError(
                "query: this module was built with query_dim=None and takes no query, "
                f"got a tensor of shape {tuple(query.shape)}"
            )
        return
    if query is None:
        raise ValueError(f"query: expected a tensor of shape (B, {query_dim}), got None")
    check_rank(query, 2, "query", f"(B, {query_dim})")
    if query.shape != (batch, query_dim):
        raise ValueError(
            f"query: expected shape ({batch}, {query_dim}), got {tuple(query.shape)}"
        )
    check_float(query, "query")


def check_choice(value, choices, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
