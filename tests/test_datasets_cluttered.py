"""Cluttered coloured MNIST (chapter 12's offline data): deterministic, digit intact."""

import torch

from arnn_lite.datasets.cluttered import cluttered_mnist
from arnn_lite.datasets.mnist import load_mnist


def test_deterministic_shapes_and_boxes():
    a = cluttered_mnist("test", size=12, seed=3)
    b = cluttered_mnist("test", size=12, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.shape == (12, 3, 32, 32) and a.images.dtype == torch.uint8
    x0, y0, x1, y1 = a.boxes.unbind(1)
    assert ((x1 - x0) == 20).all() and ((y1 - y0) == 20).all() and (x0 >= 0).all() and (x1 <= 32).all()
    assert not torch.equal(a.images, cluttered_mnist("test", size=12, seed=4).images)
    item = a[0]
    assert item["image"].shape == (3, 32, 32) and item["box"].shape == (4,)


def test_label_is_the_digit_in_the_box_and_clutter_stays_off_its_ink():
    ds = cluttered_mnist("test", size=30, seed=0, clutter=0)
    clean = cluttered_mnist("test", size=30, seed=0)
    _, labels = load_mnist("test")
    assert set(ds.labels.tolist()) <= set(range(10))
    for i in range(30):
        x0, y0, x1, y1 = ds.boxes[i].tolist()
        inner = (slice(None), slice(y0 + 3, y1 - 3), slice(x0 + 3, x1 - 3))
        assert ds.images[i][inner].float().max() > 100  # the digit's ink is there
        # same digit, same place: clutter may not touch the digit's inner box
        assert torch.equal(ds.labels[i], clean.labels[i]) and torch.equal(ds.boxes[i], clean.boxes[i])
        assert torch.equal(ds.images[i][inner], clean.images[i][inner])
