"""CBAM's ``[max, mean]`` channel pooling is written once, in the layer
(:func:`arnn_lite.attention.channel_pool`): CBAM's own spatial gate and CBAM+ARNN's gate
(``arnn_lite.models.cbam``, which re-exports it) both read it from there."""

import pytest
import torch

from arnn_lite import attention
from arnn_lite.attention import CBAMSpatialGate, channel_pool
from arnn_lite.models import cbam


def test_models_cbam_uses_the_layer_s_channel_pool():
    assert cbam.channel_pool is channel_pool


def test_cbam_spatial_gate_reads_channel_pool(monkeypatch):
    calls = []

    def spy(x):
        calls.append(x.shape)
        return channel_pool(x)

    monkeypatch.setattr(attention, "channel_pool", spy)
    x = torch.randn(2, 6, 5, 7)
    torch.testing.assert_close(CBAMSpatialGate(6).context(x), channel_pool(x))
    assert calls == [x.shape]


def test_channel_pool_is_max_then_mean_over_channels():
    x = torch.randn(3, 4, 2, 5)
    got = channel_pool(x)  # (B, 2, H, W)
    assert got.shape == (3, 2, 2, 5)
    torch.testing.assert_close(got[:, 0], x.max(1).values)
    torch.testing.assert_close(got[:, 1], x.mean(1))


def test_channel_pool_names_a_wrong_rank():
    with pytest.raises(ValueError, match=r"^x: .*got"):
        channel_pool(torch.randn(4, 5, 6))
