"""The baseline attention modules: interface, receptive fields, normalisation, bad input."""

import pytest
import torch

import arnn_lite
from arnn_lite.attention import CBAMSpatialGate, ContextAttention, NoContextAttention, SANAttention, UNetAttention
from tests.helpers import receptive_field

MODULES = [
    lambda: NoContextAttention(4, query_dim=3),
    lambda: ContextAttention(4, context_size=5, query_dim=3),
    lambda: SANAttention(4, query_dim=3),
    lambda: UNetAttention(4, depth=2, query_dim=3, base_channels=8),
    lambda: UNetAttention(4, depth=3, query_dim=3, base_channels=8),
    lambda: arnn_lite.AttentionRNN(4, 6, query_dim=3),
    lambda: arnn_lite.BlockAttentionRNN(4, 6, block_size=2, query_dim=3),
]


@pytest.mark.parametrize("make", MODULES)
@pytest.mark.parametrize("H, W", [(7, 5), (10, 10), (3, 1)])
def test_common_interface(make, H, W):
    module = make()
    x, q = torch.randn(2, 4, H, W), torch.randn(2, 3)
    mask = module(x, q)
    assert mask.shape == (2, 1, H, W)
    assert (mask >= 0).all() and (mask <= 1).all()
    assert module.context(x, q).shape[:1] == (2,)
    assert module.logits(x, q).shape == (2, 1, H, W)


def test_san_is_softmax_over_space():
    mask = SANAttention(4, query_dim=3)(torch.randn(2, 4, 5, 6), torch.randn(2, 3))
    torch.testing.assert_close(mask.sum(dim=(1, 2, 3)), torch.ones(2))


def test_no_context_sees_only_its_own_position():
    att = NoContextAttention(2, context_channels=8).double()
    field = receptive_field(att, torch.randn(4, 2, 5, 5, dtype=torch.float64), 2, 3)
    assert field.sum() == 1 and field[2, 3]


def test_cbam_gate_pools_channels_and_takes_no_query():
    gate = CBAMSpatialGate(6, kernel_size=3).eval()
    x = torch.randn(2, 6, 5, 5)
    assert gate.context(x).shape == (2, 2, 5, 5)
    assert gate(x).shape == (2, 1, 5, 5)
    with pytest.raises(ValueError, match="query: this module was built with query_dim=None"):
        gate(x, torch.zeros(2, 3))


@pytest.mark.parametrize("make, match", [
    (lambda: ContextAttention(0), "in_channels: expected a positive integer, got 0"),
    (lambda: ContextAttention(3, context_size=4), "context_size: expected a positive odd integer"),
    (lambda: ContextAttention(3, normalization="tanh"), "normalization: expected one of"),
    (lambda: UNetAttention(3, depth=0), "depth: expected a positive integer, got 0"),
    (lambda: CBAMSpatialGate(3, kernel_size=6), "kernel_size: expected a positive odd integer"),
    (lambda: SANAttention(3, query_dim=2)(torch.zeros(1, 3, 4, 4)), r"query: expected a tensor of shape \(B, 2\)"),
    (lambda: NoContextAttention(3)(torch.zeros(1, 4, 4, 4)), "x: expected 3 channels"),
])
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_public_names_are_reexported():
    for name in ["skew", "unskew", "DiagonalLSTM", "DiagonalBiLSTM", "AttentionRNN",
                 "BlockAttentionRNN"]:
        assert hasattr(arnn_lite, name)
    from arnn_lite.arnn import AttentionRNN
    assert AttentionRNN is arnn_lite.AttentionRNN


def test_unet_masks_survive_the_first_rmsprop_steps():
    # Regression: without BatchNorm inside the U-Net, RMSprop's large first steps (lr 3e-3,
    # the MBG recipe) blew the logits up within five steps: every sigmoid mask went to
    # exactly 1 and training stopped at chance (UNet d=2 book run, 19.9%).
    torch.manual_seed(0)
    gate = UNetAttention(8, depth=2, query_dim=5, base_channels=16)
    opt = torch.optim.RMSprop(gate.parameters(), lr=3e-3)
    x, q = torch.randn(16, 8, 23, 23).relu(), torch.eye(5)[torch.arange(16) % 5]
    target = (torch.rand(16, 1, 23, 23) > 0.5).float()
    for _ in range(5):
        loss = torch.nn.functional.binary_cross_entropy(gate(x, q), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    mask = gate(x, q).detach()
    assert 0.05 < float(mask.mean()) < 0.95
    assert float(mask.std()) > 1e-2
