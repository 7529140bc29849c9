"""Receptive fields measured through input gradients, and a step counter (used by
several test modules)."""

import torch

from arnn_lite import DiagonalLSTM, scan



def receptive_field(fn, x, i, j):
    """Bool map ``(H, W)`` of the input positions that output ``(i, j)`` depends on."""
    x = x.clone().requires_grad_(True)
    out = fn(x)  # (B, K, H, W)
    out[:, :, i, j].sum().backward()
    return (x.grad.abs().sum(dim=(0, 1)) > 0)


def quadrant(H, W, i, j, reverse=False):
    r, c = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    return (r >= i) & (c >= j) if reverse else (r <= i) & (c <= j)


def count_steps(monkeypatch):
    """Record the shape of every recurrence step taken by any DiagonalLSTM (on the
    step-by-step autograd path, whose ``step`` is the one chapter 03 derives)."""
    monkeypatch.setattr(scan, "_BACKEND", "autograd")
    calls, real = [], DiagonalLSTM.step
    monkeypatch.setattr(DiagonalLSTM, "step",
                        lambda self, pre_t, *a: calls.append(tuple(pre_t.shape)) or real(self, pre_t, *a))
    return calls
