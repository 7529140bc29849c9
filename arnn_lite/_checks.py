"""Input validation shared by every module: errors name the argument, what was
expected and what came (STYLE.md)."""

from __future__ import annotations

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


def check_positive(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


def check_odd(value, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is a positive odd integer ('same' padding)."""
    check_positive(value, name)
    if value % 2 == 0:
        raise ValueError(f"{name}: expected a positive odd integer (same padding), got {value}")


def check_features(x, channels: int, name: str = "x") -> None:
    """Raise ``ValueError`` unless ``x`` is ``(B, channels, H, W)``."""
    check_rank(x, 4, name, f"(B, {channels}, H, W)")
    if x.shape[1] != channels:
        raise ValueError(
            f"{name}: expected {channels} channels, shape (B, {channels}, H, W), "
            f"got {x.shape[1]} channels, shape {tuple(x.shape)}"
        )


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


def check_choice(value, choices, name: str) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}: expected one of {list(choices)}, got {value!r}")
