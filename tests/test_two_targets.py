"""The two-mode toy of chapter 06 (arnn_lite.toys.two_targets)."""

import numpy as np
import pytest
import torch

from arnn_lite import AttentionRNN, BlockAttentionRNN
from arnn_lite.toys import two_targets


def test_deterministic_per_seed_and_index():
    a = two_targets.make_two_targets(5, seed=3)
    b = two_targets.make_two_targets(2, seed=3, start=3)
    torch.testing.assert_close(a["image"][3:], b["image"])
    torch.testing.assert_close(a["targets"][3:], b["targets"])
    c = two_targets.make_two_targets(5, seed=4)
    assert not torch.equal(a["image"], c["image"])


@pytest.mark.parametrize("size", [6, 10, 13])
def test_two_targets_of_the_queried_colour(size):
    d = two_targets.make_two_targets(20, size=size, seed=0)
    assert d["image"].shape == (20, 3, size, size) and d["targets"].shape == (20, 2, size, size)
    assert torch.equal(d["query"].argmax(1), d["colour"])
    for image, colour, targets in zip(d["image"], d["colour"], d["targets"]):
        assert targets.sum((1, 2)).tolist() == [two_targets.SIDE ** 2] * 2
        assert not (targets[0] * targets[1]).any()
        # both targets have the queried colour; target 1 lies below-right of target 0
        assert (image[colour][targets.bool().any(0)] > 0.5).all()
        r0, c0 = targets[0].nonzero().max(0).values
        r1, c1 = targets[1].nonzero().min(0).values
        assert r1 > r0 and c1 > c0
        # exactly two squares of the queried colour (distractors use the others)
        assert two_targets.count_components((image[colour] > 0.5).numpy()) == 2


def test_size_validation():
    with pytest.raises(ValueError, match="size"):
        two_targets.make_two_targets(1, size=5)


def test_which_mode_and_counts():
    t = two_targets.make_two_targets(1, seed=0)["targets"][0]
    assert two_targets.which_target(t[0], t) == 0 and two_targets.which_target(0.9 * t[1], t) == 1
    assert two_targets.which_target(t[0] + t[1], t) == -1  # both: no commitment
    assert two_targets.which_target(torch.zeros_like(t[0]), t) == -1
    masks = torch.stack([t[0], t[1], t[1], t[0] + t[1]])
    assert two_targets.target_counts(masks, t) == {0: 1, 1: 2, -1: 1}


def test_count_components():
    b = np.zeros((5, 5), bool)
    b[0, 0] = b[0, 1] = b[2, 2] = b[4, 4] = b[3, 4] = True
    b[1, 3] = True
    assert two_targets.count_components(b) == 4
    assert two_targets.count_components(np.zeros((3, 4), bool)) == 0


def test_teacher_forcing_reproduces_the_sampler():
    torch.manual_seed(0)
    arnn = AttentionRNN(3, hidden_channels=4, query_dim=3)
    d = two_targets.make_two_targets(2, size=7, seed=1)
    g = torch.Generator().manual_seed(0)
    logits, fed = arnn.scan(arnn.context(d["image"], d["query"]), True, 0.5, g)
    tf = two_targets.teacher_forced_logits(arnn, d["image"], d["query"], fed)
    torch.testing.assert_close(tf, logits)
    det_logits, det_fed = arnn.scan(arnn.context(d["image"], d["query"]))
    torch.testing.assert_close(two_targets.teacher_forced_logits(arnn, d["image"], d["query"], det_fed),
                               det_logits)


@pytest.mark.parametrize("make", [
    lambda: AttentionRNN(3, hidden_channels=4, query_dim=3),
    lambda: BlockAttentionRNN(3, hidden_channels=4, query_dim=3, block_size=2),
    lambda: BlockAttentionRNN(3, hidden_channels=4, query_dim=3, block_size=3),
], ids=["arnn", "block2", "block3"])
def test_every_arnn_variant_is_teacher_forced(make):
    """Every variant takes a full-resolution teacher mask and is trained by it (the block
    variant average-pools it onto its grid): logits of the mask's shape that depend on it."""
    torch.manual_seed(0)
    arnn = make()
    d = two_targets.make_two_targets(2, size=7, seed=1)
    targets = d["targets"][:, :1]  # (B, 1, H, W)
    logits = two_targets.teacher_forced_logits(arnn, d["image"], d["query"], targets)
    assert logits.shape == targets.shape
    other = two_targets.teacher_forced_logits(arnn, d["image"], d["query"], d["targets"][:, 1:])
    assert not torch.allclose(logits, other)  # the fed values reach the logits
    assert two_targets.train_two_targets(arnn, d, steps=2, batch_size=2, progress=False)


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    arnn = AttentionRNN(3, hidden_channels=4, query_dim=3)
    losses = two_targets.train_two_targets(arnn, two_targets.make_two_targets(64, size=7), steps=15,
                                   batch_size=16, progress=False)
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
