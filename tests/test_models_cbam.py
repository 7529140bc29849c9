"""CBAM / CBAM+ARNN ResNets: shapes, where the gates sit, what they read, bad arguments."""

import pytest
import torch

from arnn_lite import AttentionRNN, CBAMSpatialGate
from arnn_lite.models.cbam import SPATIAL, ARNNSpatialGate, ChannelGate, cbam_resnet, channel_pool


@pytest.mark.parametrize("spatial", SPATIAL)
def test_logits_and_one_mask_per_block(spatial):
    net = cbam_resnet(14, num_classes=7, spatial=spatial, width=4).eval()
    logits, masks = net(torch.randn(3, 3, 20, 12))
    assert logits.shape == (3, 7)
    assert len(masks) == 6  # (14 - 2) / 6 = 2 blocks in each of 3 stages
    if spatial == "none":
        assert masks == [None] * 6
    else:
        sides = [m.shape[-2:] for m in masks]
        assert sides == [(20, 12)] * 2 + [(10, 6)] * 2 + [(5, 3)] * 2
        assert all(m.shape[:2] == (3, 1) and 0 <= m.min() and m.max() <= 1 for m in masks)


def test_spatial_gates_are_the_package_modules_with_the_chosen_context():
    cbam = cbam_resnet(8, 10, "cbam", context_size=7, width=4)
    gate = cbam.blocks[0].cbam.spatial
    assert isinstance(gate, CBAMSpatialGate) and gate.conv.kernel_size == (7, 7)
    arnn = cbam_resnet(8, 10, "arnn", context_size=3, width=4)
    gate = arnn.blocks[0].cbam.spatial
    assert isinstance(gate, ARNNSpatialGate) and isinstance(gate.arnn, AttentionRNN)
    assert gate.arnn.context_net.conv.kernel_size == (3, 3)


def test_arnn_gate_reads_the_max_mean_map():
    gate = ARNNSpatialGate()
    seen = []
    gate.arnn.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    x = torch.randn(2, 6, 5, 4)
    mask = gate(x)
    assert mask.shape == (2, 1, 5, 4)
    torch.testing.assert_close(seen[0], channel_pool(x))
    torch.testing.assert_close(channel_pool(x), CBAMSpatialGate(6).context(x))


@pytest.mark.parametrize("spatial", ["cbam", "arnn"])
def test_gate_refines_the_residual_branch_before_the_addition(spatial):
    torch.manual_seed(0)
    block = cbam_resnet(8, 10, spatial, width=4).blocks[1].eval()  # stride 2, projection shortcut
    x = torch.randn(2, 4, 8, 8)
    block.cbam.spatial.forward = lambda feats: torch.zeros_like(feats[:, :1])  # mask = 0
    out, mask = block(x)
    torch.testing.assert_close(out, torch.relu(block.shortcut(x)))  # only the shortcut is left
    assert out.shape == (2, 8, 4, 4) and mask.abs().sum() == 0


def test_mask_multiplies_the_channel_refined_branch():
    torch.manual_seed(0)
    block = cbam_resnet(8, 10, "cbam", width=4).blocks[0].eval()
    x = torch.randn(2, 4, 6, 6)
    branch = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    refined = branch * block.cbam.channel(branch)
    out, mask = block(x)
    torch.testing.assert_close(mask, block.cbam.spatial(refined))
    torch.testing.assert_close(out, torch.relu(refined * mask + x))


def test_channel_gate_shape_range_and_reduction():
    gate = ChannelGate(32, reduction=16)
    assert gate.mlp[0].out_features == 2
    assert ChannelGate(8, 16).mlp[0].out_features == 1  # never zero hidden units
    w = gate(torch.randn(3, 32, 5, 7))
    assert w.shape == (3, 32, 1, 1) and 0 < w.min() and w.max() < 1


def test_parameter_overhead_and_plain_resnet():
    counts = {s: sum(p.numel() for p in cbam_resnet(20, 100, s).parameters()) for s in SPATIAL}
    assert counts["none"] < counts["cbam"] < counts["arnn"]
    plain = cbam_resnet(20, 100, "none", channel=False)
    assert all(b.cbam.channel is None and b.cbam.spatial is None for b in plain.blocks)


def test_gradients_reach_the_arnn_gates():
    net = cbam_resnet(8, 10, "arnn", width=4)
    logits, _ = net(torch.randn(2, 3, 8, 8))
    logits.sum().backward()
    grads = [p.grad for n, p in net.named_parameters() if ".arnn." in n]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("kwargs, match", [
    (dict(depth=10), "6n \\+ 2"), (dict(depth=2), "6n \\+ 2"), (dict(spatial="sam"), "spatial"),
    (dict(context_size=4), "context_size"), (dict(width=0), "width"), (dict(reduction=0), "reduction"),
])
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cbam_resnet(**{"depth": 8, **kwargs})
