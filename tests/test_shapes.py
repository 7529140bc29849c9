"""Tests of the toy "find the queried object" problem (arnn_lite.toys.shapes)."""

import numpy as np
import pytest
import torch

from arnn_lite.datasets.tensors import TensorDict
from arnn_lite.toys.shapes import (
    ATTENTIONS,
    COLOURS,
    SHAPES,
    ToyNet,
    count_components,
    evaluate,
    make_toy,
    mask_metrics,
    target_at,
    train_toy,
)


@pytest.fixture(scope="module")
def data():
    return make_toy(16, size=24, seed=3)


def test_shapes_and_types(data):
    assert data["image"].shape == (16, 3, 24, 24) and data["image"].dtype == torch.float32
    assert data["query"].shape == (16, len(COLOURS))
    assert torch.all(data["query"].sum(1) == 1)
    assert data["label"].shape == (16,) and data["label"].dtype == torch.int64
    assert data["mask"].shape == (16, 1, 24, 24)
    assert 0 <= data["image"].min() and data["image"].max() <= 1


def test_deterministic_per_seed_and_index():
    a, b = make_toy(6, seed=5), make_toy(6, seed=5)
    for k in a:
        assert torch.equal(a[k], b[k])
    tail = make_toy(2, seed=5, start=4)  # examples 4 and 5 alone
    assert torch.equal(tail["image"], a["image"][4:])
    other = make_toy(6, seed=6)
    assert not torch.equal(other["image"], a["image"])


def test_mask_is_the_target_shape_in_the_query_colour(data):
    palette = torch.tensor(list(COLOURS.values()))  # (K, 3)
    stencils = list(SHAPES.values())
    for img, q, label, mask in zip(data["image"], data["query"], data["label"], data["mask"]):
        on = mask[0] > 0  # (H, W)
        rows, cols = torch.nonzero(on, as_tuple=True)
        r0, c0 = rows.min().item(), cols.min().item()
        # The mask's pixels are exactly the label's stencil, somewhere in the image.
        stencil = torch.from_numpy(stencils[label.item()])
        box = on[r0:r0 + 5, c0 - _left(stencil):c0 - _left(stencil) + 5]
        assert torch.equal(box, stencil)
        assert on.sum().item() == stencil.sum().item()
        # Its pixels carry the queried colour (up to the small tint jitter).
        colour = palette[q.argmax()]
        assert torch.all((img[:, on] - colour[:, None]).abs() <= 0.081)


def _left(stencil):
    """Column of the stencil's first set pixel in its top row."""
    return int(torch.nonzero(stencil.any(0))[0])


def test_labels_are_balanced_and_queries_vary():
    d = make_toy(300, seed=0)
    counts = torch.bincount(d["label"], minlength=len(SHAPES))
    assert counts.min() > 60
    assert torch.all(d["query"].sum(0) > 40)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="size"):
        make_toy(2, size=8)
    with pytest.raises(ValueError, match="n_objects"):
        make_toy(2, n_objects=(2, 9))
    with pytest.raises(ValueError, match="attention: expected one of"):
        ToyNet("nope", channels=8)


def test_the_toy_is_a_tensor_dataset():
    ds = TensorDict(make_toy(5, seed=1))
    item = ds[2]
    assert len(ds) == 5 and item["image"].shape == (3, 24, 24) and item["mask"].shape == (1, 24, 24)
    assert torch.equal(item["image"], make_toy(5, seed=1)["image"][2])


@pytest.mark.parametrize("kind", ATTENTIONS)
def test_toynet_shapes(kind, data):
    torch.manual_seed(0)
    logits, mask = ToyNet(kind, channels=8)(data["image"][:3], data["query"][:3])
    assert logits.shape == (3, len(SHAPES))
    assert mask.shape == (3, 1, 12, 12)
    if kind == "san":
        torch.testing.assert_close(mask.sum((1, 2, 3)), torch.ones(3))


def test_toynet_accepts_a_factory(data):
    from arnn_lite.attention import ContextAttention
    net = ToyNet(lambda c, d: ContextAttention(c, 5, d), channels=8)
    assert net.attention.context_net.conv.kernel_size == (5, 5)
    assert net(data["image"][:2], data["query"][:2])[1].shape == (2, 1, 12, 12)


def test_a_few_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    d = make_toy(64, seed=0)
    net = ToyNet("ctx", channels=8)
    hist = train_toy(net, d, steps=40, batch_size=64, lr=1e-2, progress=False)
    assert len(hist["loss"]) == 40 and hist["seconds"] > 0
    assert np.mean(hist["loss"][-5:]) < np.mean(hist["loss"][:5])
    out = evaluate(net, d)
    assert set(out) == {"accuracy", "inside", "components", "tv"}
    assert 0 <= out["accuracy"] <= 1 and 0 <= out["inside"] <= 1


def test_count_components():
    grid = np.array([[1, 1, 0, 0],
                     [0, 1, 0, 1],
                     [0, 0, 0, 1],
                     [1, 0, 1, 0]], bool)
    assert count_components(grid) == 4  # diagonal neighbours are not connected
    assert count_components(np.zeros((3, 5), bool)) == 0
    assert count_components(np.ones((3, 5), bool)) == 1


def test_mask_metrics_on_known_masks():
    target = torch.zeros(1, 1, 8, 8)
    target[..., 2:4, 2:4] = 1
    perfect = target.clone()
    m = mask_metrics(perfect, target)
    assert m["inside"] == pytest.approx(1.0) and m["components"] == 1
    speckled = torch.zeros(1, 1, 8, 8)
    speckled[..., ::3, ::3] = 1  # 9 isolated dots
    m2 = mask_metrics(speckled, target)
    assert m2["components"] == 9 and m2["tv"] > m["tv"]
    # Target pooled to a coarser grid: any covered cell is on.
    assert target_at(target, (4, 4))[0, 0].sum() == 1
