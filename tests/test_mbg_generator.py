"""The MBG generator's versions (DESIGN.md section 4, issue 16 section 1): version 2 draws
every digit's scale i.i.d. and queries a digit drawn uniformly among the placed ones;
version 1 (the generator the shipped results were made with) stays reproducible; every
background photo loads; and the shortcut report measures what a query-blind net can use."""

import numpy as np
import pytest
import torch

from arnn_lite.datasets import mbg
from arnn_lite.datasets.mbg import MBG, scale_bin, shortcut_report
from tests.helpers import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _layouts(ds, n):
    """Each item's placed digits ``[(class, side, x0, y0), ...]``, the queried one first."""
    return [ds.place_digits(ds.rng(i)) for i in range(n)]


# -- version 1: the old generator, bit for bit -------------------------------------------
# Recorded from the generator before version 2 existed (commit 69e9792): (split, seed,
# inverse, index) -> label, query class, box, scale, image sum and per-channel sums, pixel
# (50, 50), mask sum. Exact integers; float statistics to 1e-3 (a sum over 30,000 pixels).
V1_PINS = [
    (("train", 0, False, 0), dict(label=1, query=4, box=[19, 8, 100, 89], scale=2.892857142857143,
                                  sum=4502.4346, chan=[999.8459, 1388.2038, 2114.3849],
                                  px=[0.0859, 0.090083, 0.192336], mask=672.2721)),
    (("test", 0, False, 7), dict(label=3, query=3, box=[31, 45, 84, 98], scale=1.8928571428571428,
                                 sum=11594.8422, chan=[5067.1116, 4591.5318, 1936.1988],
                                 px=[0.591226, 0.364348, 0.161773], mask=430.366)),
    (("val", 1, True, 3), dict(label=3, query=1, box=[46, 22, 67, 43], scale=0.75,
                               sum=7886.4007, chan=[2555.5715, 3304.0832, 2026.7461],
                               px=[0.258031, 0.370496, 0.216689], mask=67.6111)),
]


@pytest.mark.parametrize("key, want", V1_PINS)
def test_version_1_reproduces_the_old_generator(key, want):
    split, seed, inverse, index = key
    it = MBG(split, size=10, seed=seed, inverse=inverse, version=1)[index]
    image = it["image"].double()
    got = (it["label"], int(it["query"].argmax()), it["box"].tolist())
    assert got == (want["label"], want["query"], want["box"])
    assert it["scale"] == want["scale"]
    assert float(image.sum()) == pytest.approx(want["sum"], abs=1e-3)
    assert image.sum((1, 2)).tolist() == pytest.approx(want["chan"], abs=1e-3)
    assert image[:, 50, 50].tolist() == pytest.approx(want["px"], abs=1e-5)
    assert float(it["mask"].double().sum()) == pytest.approx(want["mask"], abs=1e-3)


def test_version_defaults_to_the_current_generator_and_is_checked():
    assert mbg.GENERATOR_VERSION == 2 and MBG("test", size=3).version == 2
    with pytest.raises(ValueError, match=r"version: expected one of \[1, 2\], got 3"):
        MBG("test", size=3, version=3)


# -- version 2: i.i.d. scales, the query uniform among the placed digits ------------------
def test_v2_target_is_rarely_the_largest_digit():
    """With k placed digits the target is the largest about 1/k of the time (5-9 digits:
    roughly 15-20 %); version 1 made it the largest in about 59 %."""
    layouts = _layouts(MBG("test", size=300, seed=0), 300)
    largest = np.mean([p[0][1] == max(side for _, side, *_ in p) for p in layouts])
    assert largest < 0.35, f"target is the largest digit in {largest:.0%} of 300 items"


def test_v2_target_position_in_the_layout_is_uniform():
    """The target is drawn after the layout: it is the first digit laid out (the one that
    kept its drawn scale) only about 1/k of the time."""
    ds = MBG("test", size=200, seed=1)
    firsts = 0
    for i in range(200):
        rng = ds.rng(i)
        placed = ds.place_digits(rng)
        # place_digits first draws the count, then the classes in layout order: replay them
        replay = ds.rng(i)
        count = int(replay.integers(ds.num_digits[0], ds.num_digits[1] + 1))
        classes = replay.choice(10, size=count, replace=False)
        firsts += placed[0][0] == int(classes[0])
    assert firsts / 200 < 0.35, f"the target was the first digit laid out in {firsts} of 200 items"


def test_v2_target_scales_are_mostly_small():
    """Scales are i.i.d. U(0.5, 3.0) and big digits are shrunk to fit, so the bins are no
    longer balanced (version 1 forced 20 % per bin): most targets fall in the two lowest."""
    ds = MBG("test", size=300, seed=0)
    bins = np.bincount([scale_bin(p[0][1] / 28) for p in _layouts(ds, 300)], minlength=5) / 300
    assert bins[0] + bins[1] > 0.6 and bins[4] < 0.1, f"per-bin shares {bins.round(2).tolist()}"


def test_v2_placement_replays_the_item():
    """``placement(i)`` (no painting) gives the same queried digit as ``ds[i]``."""
    for inverse in (False, True):
        ds = MBG("val", size=8, seed=2, inverse=inverse)
        for i in range(8):
            it, placed = ds[i], ds.placement(i)
            digit, side, x0, y0, colour = placed[0]
            assert it["box"].tolist() == [x0, y0, x0 + side, y0 + side] and it["scale"] == side / 28
            assert it["label"] == (digit if inverse else colour)
            assert int(it["query"].argmax()) == (colour if inverse else digit)


def test_v2_inverse_target_colour_is_unique_among_placed_digits():
    ds = MBG("test", size=150, seed=0, inverse=True)
    largest = 0
    for i in range(150):
        placed = ds.placement(i)
        colours = [c for *_, c in placed]
        assert colours.count(colours[0]) == 1, f"item {i}: colours {colours}"
        largest += placed[0][1] == max(side for _, side, *_ in placed)
    assert largest / 150 < 0.35


# -- background photos ------------------------------------------------------------------
class _NoDownloads:
    """Stands in for scikit-image's pooch fetcher: an empty cache, and any download fails."""

    def __init__(self, path):
        self.abspath = path

    def fetch(self, name):
        raise AssertionError(f"scikit-image tried to download {name}")


def test_every_listed_photo_loads_without_a_download(tmp_path, monkeypatch):
    from skimage.data import _fetchers
    monkeypatch.setattr(_fetchers, "_image_fetcher", _NoDownloads(tmp_path))
    mbg._photo.cache_clear(), mbg._photos.cache_clear()
    try:
        assert len(mbg.PHOTOS[2]) == 20 and len(set(mbg.PHOTOS[2])) == 20
        assert mbg.PHOTOS[1] == tuple(p for p in mbg.PHOTOS[2] if p != "stereo_motorcycle")
        photos = mbg._photos(mbg.PHOTOS[2])
        assert len(photos) == 20
        for name, photo in zip(mbg.PHOTOS[2], photos):
            assert photo.dim() == 3 and photo.shape[0] == 3 and min(photo.shape[1:]) >= 100, name
            assert photo.dtype == torch.float32 and 0 <= photo.min() and 1 < photo.max() <= 255, name
    finally:
        mbg._photo.cache_clear(), mbg._photos.cache_clear()


def test_a_photo_that_does_not_load_is_an_error(monkeypatch):
    monkeypatch.setitem(mbg.PHOTOS, 2, mbg.PHOTOS[2] + ("motorcycle_left",))
    with pytest.raises(RuntimeError, match="background photo 'motorcycle_left'.*scikit-image"):
        MBG("test", size=2)[0]


# -- the shortcut report ----------------------------------------------------------------
class _Fixed(MBG):
    """An MBG whose placements are given: ``(class, side, x0, y0, colour)``, target first."""

    def __init__(self, placements, **kwargs):
        super().__init__("test", size=len(placements), **kwargs)
        self.placements = placements

    def placement(self, index):
        return self.placements[index]


def test_shortcut_report_by_hand():
    red, green, blue = 0, 1, 2
    ds = _Fixed([
        [(3, 84, 0, 0, red), (1, 20, 0, 0, green), (2, 30, 0, 0, green)],  # largest, bin 4
        [(3, 14, 0, 0, red), (1, 56, 0, 0, blue), (2, 14, 0, 0, red)],  # smallest, bin 0
        [(3, 42, 0, 0, red), (1, 42, 0, 0, blue), (2, 20, 0, 0, red)],  # tied, other colour
        [(3, 42, 0, 0, red), (1, 42, 0, 0, red), (2, 20, 0, 0, red), (4, 14, 0, 0, red)],  # tied, same
    ])
    r = shortcut_report(ds)
    assert r["items"] == 4 and r["version"] == 2 and r["chance"] == 0.2
    assert r["bin_shares"] == [0.25, 0.0, 0.5, 0.0, 0.25]
    assert r["target_is_largest"] == pytest.approx((1 + 0 + 0.5 + 0.5) / 4)
    assert r["largest_baseline"] == pytest.approx((1 + 0 + 0.5 + 1) / 4)
    assert r["target_is_largest_by_bin"] == [0.0, None, 0.5, None, 1.0]
    assert r["digits_kept"] == {3: 0.75, 4: 0.25}
    inv = shortcut_report(_Fixed(ds.placements, inverse=True))  # answers: digit classes
    assert inv["chance"] == 0.1 and inv["largest_baseline"] == pytest.approx((1 + 0 + 0.5 + 0.5) / 4)


def test_shortcut_report_on_a_real_split_matches_its_items():
    ds = MBG("val", size=12, seed=4, version=1)
    r = shortcut_report(ds)
    bins = np.bincount([scale_bin(ds[i]["scale"]) for i in range(12)], minlength=5) / 12
    assert r["items"] == 12 and r["version"] == 1 and r["bin_shares"] == pytest.approx(bins.tolist())
    assert sum(r["digits_kept"].values()) == pytest.approx(1.0)
    assert 0 <= r["largest_baseline"] <= 1 and 0 <= r["target_is_largest"] <= 1
    assert shortcut_report(ds, size=5)["items"] == 5
    with pytest.raises(ValueError, match="size: expected 1 <= size <= 12, got 13"):
        shortcut_report(ds, size=13)


def test_versions_constant_matches_the_photo_lists():
    from arnn_lite.datasets.mbg import GENERATOR_VERSIONS, PHOTOS
    assert tuple(sorted(PHOTOS)) == GENERATOR_VERSIONS and max(GENERATOR_VERSIONS) == mbg.GENERATOR_VERSION


def test_cache_key_names_the_generator(tmp_path):
    """A changed generator never reuses a stale cached split: version and parameters are in
    the cache file's name."""
    from arnn_lite.experiments.mbg import mbg_split
    with torch_threads(1):
        mbg_split(MBG("test", size=2, seed=0, version=1), tmp_path)
        mbg_split(MBG("test", size=2, seed=0, version=2), tmp_path)
        mbg_split(MBG("test", size=2, seed=0, distractors=3), tmp_path)
    names = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert len(names) == 3 and any("-v1-" in n for n in names) and any("-x3-" in n for n in names)
