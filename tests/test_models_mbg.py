"""The MBG network: every attention variant, the scalability variant, masks per stage."""

import pytest
import torch

from arnn_lite.models.mbg import ATTENTIONS, MBGNet


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_every_variant_trains_one_step(attention, one_thread):
    net = MBGNet(attention, channels=8, hidden=4)
    image, query = torch.rand(3, 3, 70, 70), torch.eye(10)[:3]
    logits, masks = net(image, query)
    assert logits.shape == (3, 5) and len(masks) == 4
    attending = [m is not None for m in masks]
    expected = {"none": [False] * 4, "san": [False] * 3 + [True]}.get(attention, [True] * 4)
    assert attending == expected
    for m, size in zip(masks, (34, 16, 7, 2)):
        if m is not None:
            assert m.shape == (3, 1, size, size)
    if masks[-1] is not None:
        torch.testing.assert_close(masks[-1].sum(dim=(1, 2, 3)), torch.ones(3))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2])).backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_sampling_variant_samples_only_in_training():
    net = MBGNet("arnn_sample", channels=8, hidden=4)
    image, query = torch.rand(2, 3, 70, 70), torch.eye(10)[:2]
    net.train()
    torch.manual_seed(0)
    a = net(image, query)[1][0]
    torch.manual_seed(1)
    b = net(image, query)[1][0]
    assert not torch.allclose(a, b)
    net.eval()
    torch.testing.assert_close(net(image, query)[1][0], net(image, query)[1][0])


@pytest.mark.parametrize("front", ["none", "arnn", "brnn"])
def test_scalability_variant_has_a_fifth_stage(front):
    net = MBGNet(front=front, channels=8, hidden=4, block_size=3)
    logits, masks = net(torch.rand(2, 3, 140, 140), torch.eye(10)[:2])
    assert logits.shape == (2, 5) and len(masks) == 5
    assert (masks[0] is None) == (front == "none")
    assert masks[1].shape[-1] == 33


@pytest.mark.parametrize("kwargs, match", [
    ({"attention": "cbam"}, "attention: expected one of"),
    ({"front": "ctx"}, "front: expected one of"),
    ({"channels": 0}, "channels: expected a positive integer, got 0"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MBGNet(**kwargs)
