"""Receptive fields measured through input gradients (used by several test modules)."""

import torch


def receptive_field(fn, x, i, j):
    """Bool map ``(H, W)`` of the input positions that output ``(i, j)`` depends on."""
    x = x.clone().requires_grad_(True)
    out = fn(x)  # (B, K, H, W)
    out[:, :, i, j].sum().backward()
    return (x.grad.abs().sum(dim=(0, 1)) > 0)


def quadrant(H, W, i, j, reverse=False):
    r, c = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    return (r >= i) & (c >= j) if reverse else (r <= i) & (c <= j)
