"""Checks on the built book: sliders are precomputed frames, progress is a line of text.

A saved ipywidgets view has no kernel behind it in the static site: a slider's readout moves
while its figure stays, and a tqdm bar stays frozen (or leaves a blank gap). So no page may
embed a widget view; each chapter with a slider carries the frames of :mod:`arnn_lite.book.slider`
instead (tests/test_browser.py moves them in Chromium)."""

import json
import math
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.built_book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SLIDER_PAGES = {"01_spatial_attention": 1, "02_skew": 1, "03_diagonal_lstm": 1,
                "04_diagonal_bilstm": 1, "06_sampling_mode": 1, "08_mbg_dataset": 1}
MAX_PAGE_MB = 3.0  # frames are palette PNGs; a page with sliders must still load on a phone
WIDGET_MIME = re.compile(r"application/vnd\.jupyter\.widget-(view|state)\+json")
TQDM_TEXT = re.compile(r"\d+(\.\d+)?(it|s)/(s|it)\]")  # "12.3it/s]": tqdm's text fallback


def pages() -> list[Path]:
    found = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)
    assert found, f"no pages under {HTML}: build the book first (make test / make book)"
    return found


def chapter(name: str) -> str:
    path = HTML / "chapters" / f"{name}.html"
    assert path.exists(), f"{path} missing: build the book first"
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name, count", SLIDER_PAGES.items())
def test_slider_chapters_carry_precomputed_frames(name, count):
    text = chapter(name)
    roots = re.findall(r'<div class="arnn-slider" id="([^"]+)"', text)
    assert len(roots) == count, f"{name}: {len(roots)} static sliders, expected {count}"
    for uid in roots:
        payload = re.search(rf'<script type="application/json" id="{uid}-data">(.*?)</script>',
                            text, re.S)
        data = json.loads(payload.group(1).replace("<\\/", "</"))
        sizes = [len(labels) for labels in data["labels"]]
        assert len(data["index"]) == math.prod(sizes) and len(data["frames"]) > 1
        assert all(alt.strip() for alt in data["alts"]), f"{name}: a frame without alt text"
    ids = re.findall(r'\bid="(arnn-slider[^"]*)"', text)
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"{name}: slider ids used twice {dupes}"


@pytest.mark.parametrize("name", SLIDER_PAGES)
def test_slider_pages_stay_small(name):
    size = (HTML / "chapters" / f"{name}.html").stat().st_size / 1e6
    assert size <= MAX_PAGE_MB, f"{name}.html is {size:.1f} MB, expected at most {MAX_PAGE_MB}"


def test_no_page_embeds_a_widget_view_or_a_tqdm_bar():
    bad = []
    for path in pages():
        text = path.read_text(encoding="utf-8")
        if WIDGET_MIME.search(text):
            bad.append(f"{path.relative_to(HTML)}: saved ipywidgets view/state (frozen without a kernel)")
        if TQDM_TEXT.search(text):
            bad.append(f"{path.relative_to(HTML)}: tqdm progress text")
    assert not bad, "\n".join(bad)


def test_training_progress_is_one_summary_line():
    text = chapter("01_spatial_attention")
    assert re.search(r"training: \d+ steps in \d+\.\d s", text), (
        "chapter 01 trains with train_toy: its page should show the summary line")
