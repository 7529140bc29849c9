"""Checkers for chapter 12, CBAM and CBAM+ARNN (``chapters/12_cbam_classification.ipynb``)."""

from __future__ import annotations

import torch

from ..attention import channel_pool
from ..models.cbam import ChannelGate
from . import ExerciseError, cases, check_close, check_shape, passed, rng, run_student, seed

__all__ = ["check_channel_pool", "check_channel_attention", "channel_attention_reference"]

SHAPES = [(3, 5, 4, 4), (2, 8, 5, 7), (1, 16, 1, 6)]  # incl. non-square and a 1-row map


def _inputs(shape, seed):
    return torch.randn(*shape, generator=rng(seed))


def check_channel_pool(channel_pool_fn) -> None:
    """Exercise ex-12-channel-pool: ``(B, C, H, W) -> (B, 2, H, W)``, ``[max, mean]`` over C."""
    for k, shape in enumerate(cases(SHAPES, [(2, 6, 3, 5)])):
        x = _inputs(shape, k)
        got = run_student(channel_pool_fn, x.clone(), name="channel_pool", forbid=[channel_pool])
        expected = channel_pool(x)
        check_shape(f"channel_pool on {tuple(shape)}", got, expected.shape,
                    hint="Pool over the channel dimension (dim 1) and keep it (keepdim=True), "
                         "then concatenate the two maps along dim 1.")
        swapped = torch.allclose(got.float(), expected.flip(1), atol=1e-6)
        if swapped and not torch.allclose(got.float(), expected, atol=1e-6):
            raise ExerciseError("channel_pool: the two channels are swapped. CBAM's order is "
                                "[max, mean]: channel 0 the maximum over C, channel 1 the mean.")
        check_close(f"channel_pool on {tuple(shape)}", got, expected, atol=1e-5,
                    hint="Channel 0: x.amax(1) (the maximum over channels, not the sum); "
                         "channel 1: x.mean(1).")
    passed("channel_pool gives CBAM's [max, mean] map; it is arnn_lite.attention.channel_pool.")


def channel_attention_reference(x, mlp):
    """Known-correct answer: ``σ(mlp(avgpool x) + mlp(maxpool x))`` as ``(B, C, 1, 1)``."""
    return torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))[:, :, None, None]


def _mistake_hint(got, x, mlp):
    """A specific hint when ``got`` equals a known wrong formula, else ``""``."""
    avg, mx = mlp(x.mean(dim=(2, 3))), mlp(x.amax(dim=(2, 3)))  # (B, C) each
    wrong = {
        "Only the average-pooled descriptor went through the MLP (that is SE's gate): CBAM "
        "adds the MLP outputs of the average- AND the max-pooled descriptors.": torch.sigmoid(avg),
        "Only the max-pooled descriptor went through the MLP: CBAM adds the MLP outputs of "
        "the average- AND the max-pooled descriptors.": torch.sigmoid(mx),
        "Add the two MLP outputs first, then apply ONE sigmoid (your values can exceed 1).":
            torch.sigmoid(avg) + torch.sigmoid(mx),
    }
    flat = got.detach().float().reshape(avg.shape) if got.numel() == avg.numel() else None
    for hint, value in wrong.items():
        if flat is not None and torch.allclose(flat, value, atol=1e-5):
            return hint
    return ""


def check_channel_attention(channel_attention) -> None:
    """Exercise ex-12-channel-gate: CBAM's channel attention with a given shared MLP."""
    for k, (shape, reduction) in enumerate(zip(cases(SHAPES, [(2, 8, 3, 5)]), (2, 4, 16, 4))):
        x = _inputs(shape, 10 + k)
        seed(k)
        mlp = ChannelGate(shape[1], reduction).mlp
        with torch.no_grad():
            got = run_student(channel_attention, x.clone(), mlp, name="channel_attention",
                              forbid=[ChannelGate.forward])
            expected = channel_attention_reference(x, mlp)
            hint = _mistake_hint(got, x, mlp) if isinstance(got, torch.Tensor) else ""
        if hint:
            raise ExerciseError(f"channel_attention on {tuple(shape)}: {hint}")
        check_shape(f"channel_attention on {tuple(shape)}", got, expected.shape,
                    hint="Return one weight per channel, shaped (B, C, 1, 1) so that it "
                         "broadcasts over H and W.")
        check_close(f"channel_attention on {tuple(shape)}", got, expected, atol=1e-5,
                    hint="Pool over space (dims 2 and 3), run both descriptors through the "
                         "same MLP, add, sigmoid.")
    passed("channel_attention matches CBAM's channel gate (arnn_lite.models.cbam.ChannelGate).")
