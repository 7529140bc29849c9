"""arnn_lite.book.slider: the live widget with a kernel, precomputed frames without one.

The static widget is driven in headless Chromium: each slider is moved and the picture must
change, with no kernel and no network (as in the built book)."""

import html
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from arnn_lite import progress  # noqa: E402
from arnn_lite.book.slider import MAX_FRAMES, StaticSlider, slider  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _live_by_default(monkeypatch):
    monkeypatch.delenv(progress.STATIC_ENV, raising=False)
    yield
    plt.close("all")


def draw(a=2, b="x"):
    """A tiny figure whose picture depends on both parameters."""
    fig, ax = plt.subplots(figsize=(1.6, 1.2))
    ax.plot([0, 1], [0, a], color="tab:blue" if b == "x" else "tab:orange")
    ax.set_title(f"a={a} b={b}")
    return fig


class Tags(HTMLParser):
    """Every start tag (name, attributes) of an HTML string."""

    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def frames_of(text):
    """The JSON payload of a static slider's HTML."""
    payload = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S)
    return json.loads(payload.group(1).replace("<\\/", "</"))


def test_live_is_interactive_with_sliders_from_the_grid():
    w = slider(draw, a=range(0, 5), b=["x", "y"], static=False)
    assert isinstance(w, ipywidgets.interactive)
    a, b = w.children[:2]
    assert (type(a).__name__, a.min, a.max, a.step, a.value) == ("IntSlider", 0, 4, 1, 2)
    assert type(b).__name__ == "SelectionSlider" and b.value == "x"
    w = slider(draw, live={"a": (0, 100)}, a=range(3), b=["x"], static=False)
    assert (w.children[0].max, w.children[0].value) == (100, 2)  # live range, draw's default


def test_static_html_has_every_frame_ranges_and_unique_ids():
    w = slider(draw, "line of slope {a}, colour {b}", a=range(0, 5), b=["x", "y"], static=True)
    assert isinstance(w, StaticSlider)
    text = w._repr_html_()
    data = frames_of(text)
    assert len(data["index"]) == 10 and len(data["frames"]) == 10  # 5 x 2 distinct pictures
    assert data["alts"][0] == "line of slope 0, colour x" and data["labels"] == [
        ["0", "1", "2", "3", "4"], ["x", "y"]]
    tags = Tags(text).tags
    ranges = [a for t, a in tags if t == "input"]
    assert [(r["type"], r["min"], r["max"], r["value"]) for r in ranges] == [
        ("range", "0", "4", "2"), ("range", "0", "1", "0")]  # starts at draw's defaults
    ids = [a["id"] for _, a in tags if "id" in a]
    assert len(ids) == len(set(ids)) and all(i.startswith(w.uid) for i in ids)
    (img,) = [a for t, a in tags if t == "img"]
    assert img["alt"] == "line of slope 2, colour x" and img["src"].startswith("data:image/png;base64,")
    assert not [a for t, a in tags if t == "script" and "src" in a], "no external script"
    other = slider(draw, a=range(2), static=True)
    assert other.uid != w.uid  # two sliders on one page never share an id
    assert plt.get_fignums() == [], "frames leave no open figures behind"


def test_static_stores_identical_frames_once_and_default_alt_is_the_title():
    w = slider(lambda a=0, b=0: draw(a), a=range(3), b=range(4), static=True)
    assert len(w.index) == 12 and len(w.frames) == 3
    assert w.alts[5] == "a=1 b=x (a = 1, b = 1)"  # row-major: a = 1, b = 1


def test_static_follows_the_environment(monkeypatch):
    monkeypatch.setenv(progress.STATIC_ENV, "1")
    assert isinstance(slider(draw, a=range(2)), StaticSlider)
    monkeypatch.setenv(progress.STATIC_ENV, "0")
    assert isinstance(slider(draw, a=range(2)), ipywidgets.interactive)


def test_static_creates_no_ipywidgets(monkeypatch):
    made = []
    monkeypatch.setattr(ipywidgets.Widget, "open", lambda self: made.append(type(self).__name__))
    slider(draw, live=lambda: {"a": ipywidgets.IntSlider()}, a=range(2), static=True)
    assert made == []  # no widget state for the book page to embed
    slider(draw, a=range(2), static=False)
    assert "IntSlider" in made  # the check above can see a widget being made


@pytest.mark.parametrize("grid, expected", [
    ({}, "at least one parameter grid"),
    ({"a": []}, "at least one value"),
    ({"a": range(MAX_FRAMES + 1)}, "combinations to precompute"),
])
def test_bad_grids_name_the_problem(grid, expected):
    with pytest.raises(ValueError, match=expected):
        slider(draw, static=True, **grid)


def test_live_control_without_grid_is_refused():
    with pytest.raises(ValueError, match=r"live controls \['c'\] have no grid"):
        slider(draw, live={"c": (0, 1)}, a=range(2), static=False)


# --------------------------------------------------------------------------- in a browser

DRIVER = """<script>
window.addEventListener("load", function () {
  var img = document.querySelector(".arnn-slider img"), out = [];
  var inputs = document.querySelectorAll(".arnn-slider input[type=range]");
  out.push({moved: null, src: img.src, alt: img.alt});
  for (var k = 0; k < inputs.length; k++) {
    for (var pos = 0; pos <= Number(inputs[k].max); pos++) {
      inputs[k].value = String(pos);
      inputs[k].dispatchEvent(new Event("input", {bubbles: true}));
      out.push({moved: k, pos: pos, src: img.src, alt: img.alt,
                readout: document.getElementById(inputs[k].id + "-value").textContent});
    }
  }
  var pre = document.createElement("pre");
  pre.id = "result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def test_moving_each_slider_changes_the_picture_in_chromium(tmp_path):
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} not found: install Debian's chromium (`make browser-deps` does it)")
    w = slider(draw, "slope {a}, colour {b}", a=range(0, 3), b=["x", "y"], static=True)
    page = tmp_path / "slider.html"
    w.save(page)
    page.write_text(page.read_text().replace("</body>", DRIVER + "</body>"))
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert found, f"the driver script did not run:\n{result.stdout[-2000:]}"
    steps = json.loads(html.unescape(found.group(1)))
    start, moves = steps[0], steps[1:]
    assert start["alt"] == "slope 2, colour x"
    a_moves = [s for s in moves if s["moved"] == 0]  # a = 0, 1, 2 with b = x
    assert len({s["src"] for s in a_moves}) == 3, "moving slider a did not change the picture"
    assert [s["alt"] for s in a_moves] == [f"slope {a}, colour x" for a in range(3)]
    assert [s["readout"] for s in a_moves] == ["0", "1", "2"]
    b_moves = [s for s in moves if s["moved"] == 1]  # b = x, y with a = 2
    assert b_moves[0]["src"] != b_moves[1]["src"], "moving slider b did not change the picture"
    assert b_moves[0]["src"] == start["src"] and b_moves[1]["alt"] == "slope 2, colour y"
    assert [s["readout"] for s in b_moves] == ["x", "y"]
