"""Open chapter 01 of the built book in headless Chromium, with every remote host unresolvable.

Asserts that MathJax typeset the maths, i.e. that the vendored scripts work offline, and that
moving each slider of the six chapters with sliders changes its picture with no kernel. Never
skipped: `make test` installs Debian's chromium first (`make browser-deps`) and fails if it
cannot.
"""

import functools
import html
import json
import os
import re
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.built_book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PAGE = "chapters/01_spatial_attention.html"
SCREENSHOT = ROOT / "_build" / "browser" / "chapter01.png"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,2400",
         # Offline proof: every host but the local server fails to resolve.
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--virtual-time-budget=30000"]


class Handler(SimpleHTTPRequestHandler):
    """Serve _build/html quietly and remember (status, path) of every request."""

    log: list = []

    def log_request(self, code="-", size="-"):
        self.log.append((int(code), self.path))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    Handler.log = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=HTML))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


def chromium(*args, tmp_path):
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} not found: install Debian's chromium (`make browser-deps` does it)")
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path}", *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"chromium failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def dom(server, tmp_path_factory):
    assert (HTML / PAGE).exists(), f"{HTML / PAGE} missing: build the book first"
    return chromium("--dump-dom", f"{server}/{PAGE}", tmp_path=tmp_path_factory.mktemp("chrome"))


def test_mathjax_typeset_the_maths(dom):
    assert "<mjx-container" in dom, "MathJax did not render (no mjx-container in the DOM)"
    assert re.search(r'<mjx-container[^>]*display="true"', dom), "no display maths rendered"
    assert "<mjx-merror" not in dom, "MathJax reported a TeX error"


def test_sliders_rendered_without_a_widget_manager(dom):
    # The book's sliders are precomputed frames (arnn_lite/book/slider.py), not ipywidgets views.
    assert re.search(r'<div class="arnn-slider"', dom), "no static slider on chapter 01"
    assert not re.search(r'class="[^"]*\bjupyter-widgets\b', dom), "a frozen ipywidgets view"


def test_every_request_was_served(dom):
    missing = sorted({path for code, path in Handler.log
                      if code >= 400 and path != "/favicon.ico"})  # browsers always ask
    assert not missing, f"the page asked for files the book lacks: {missing}"
    served = {urlsplit(path).path for code, path in Handler.log if code == 200}
    assert any(p.startswith("/mathjax/es5/output/chtml/fonts/") for p in served), (
        "MathJax fonts never loaded")


def test_screenshot(server, tmp_path):
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    chromium(f"--screenshot={SCREENSHOT}", f"{server}/{PAGE}", tmp_path=tmp_path)
    assert SCREENSHOT.stat().st_size > 10_000, "screenshot is (nearly) empty"


# --------------------------------------------------------------------------- sliders

SLIDER_PAGES = ["01_spatial_attention", "02_skew", "03_diagonal_lstm", "04_diagonal_bilstm",
                "06_sampling_mode", "08_mbg_dataset"]
# Loads a chapter in a same-origin iframe, then moves every range input of every static
# slider through its positions and records whether the picture (and its alt text) changed.
HARNESS = """<!doctype html><html><body>
<iframe id="page" src="/html/chapters/%s.html" width="1200" height="1600"></iframe>
<script>
document.getElementById("page").addEventListener("load", function () {
  var doc = this.contentDocument, out = [];
  doc.querySelectorAll(".arnn-slider").forEach(function (root) {
    var img = root.querySelector("img"), moved = [];
    root.querySelectorAll("input[type=range]").forEach(function (input) {
      var start = {src: img.src, alt: img.alt}, changed = false, alt = false, readouts = [];
      for (var pos = 0; pos <= Number(input.max); pos++) {
        input.value = String(pos);
        input.dispatchEvent(new Event("input", {bubbles: true}));
        changed = changed || img.src !== start.src;
        alt = alt || img.alt !== start.alt;
        readouts.push(doc.getElementById(input.id + "-value").textContent);
      }
      moved.push({id: input.id, changed: changed, alt: alt, readouts: readouts});
    });
    out.push({id: root.id, moved: moved});
  });
  var pre = document.createElement("pre");
  pre.id = "result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body></html>
"""


class BuildHandler(Handler):
    log: list = []  # its own request log: the chapter-01 checks above read Handler.log


@pytest.fixture(scope="module")
def build_server():
    """Serve _build/ (the book under /html/, a test harness page under /browser/)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(BuildHandler, directory=HTML.parent))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join()


@pytest.mark.parametrize("name", SLIDER_PAGES)
def test_moving_each_slider_changes_the_picture(name, build_server, tmp_path):
    assert (HTML / "chapters" / f"{name}.html").exists(), "build the book first"
    harness = HTML.parent / "browser" / f"sliders_{name}.html"
    harness.parent.mkdir(parents=True, exist_ok=True)
    harness.write_text(HARNESS % name, encoding="utf-8")
    dom = chromium("--dump-dom", f"{build_server}/browser/{harness.name}", tmp_path=tmp_path)
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, f"{name}: the harness never saw the page load"
    sliders = json.loads(html.unescape(found.group(1)))
    assert sliders, f"{name}: no static slider on the page"
    for slider in sliders:
        for moved in slider["moved"]:
            assert moved["changed"], f"{name}: moving {moved['id']} never changed the picture"
            assert moved["alt"], f"{name}: moving {moved['id']} never changed the alt text"
            assert len(set(moved["readouts"])) == len(moved["readouts"]), moved["readouts"]


CONSOLE = re.compile(r':CONSOLE[:(]\d*\)?\] "(?P<msg>.*)", source: (?P<src>\S+)')
CONSOLE_ERROR = re.compile(r"Uncaught|Error|Failed to load|Refused to")


def pages_to_check():
    return sorted(str(p.relative_to(HTML)) for d in ("chapters", "book")
                  for p in (HTML / d).glob("*.html"))


@pytest.mark.parametrize("page", pages_to_check() or ["(book not built)"])
def test_no_console_errors(page, server, tmp_path):
    """Every chapter and front/back-matter page loads with zero errors in the browser console
    (an uncaught exception, a failed request, a blocked script)."""
    assert (HTML / page).exists(), f"{HTML / page} missing: build the book first"
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path}", "--enable-logging=stderr",
                             "--v=0", "--dump-dom", f"{server}/{page}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    errors = [m["msg"] for m in CONSOLE.finditer(result.stderr) if CONSOLE_ERROR.search(m["msg"])]
    assert not errors, f"{page}: console errors: {errors}"


def test_findings_page_is_checked_and_its_verdict_table_renders(server, tmp_path):
    """"What we reproduced" is among the pages checked for console errors above, and in the
    browser its verdict table is a table with one row per claim (header row excluded)."""
    from arnn_lite.book.findings import CLAIMS

    assert "book/findings.html" in pages_to_check(), "book/findings.html missing: build the book first"
    dom = chromium("--dump-dom", f"{server}/book/findings.html", tmp_path=tmp_path)
    header = re.compile(r"<th[^>]*>\s*(<p>)?claim(</p>)?\s*</th>")
    tables = [t for t in re.findall(r"<table.*?</table>", dom, re.S) if header.search(t)]
    assert len(tables) == 1, "no verdict table (a table whose first column is 'claim') in the DOM"
    body = re.findall(r"<tr.*?</tr>", tables[0], re.S)[1:]
    assert len(body) == len(CLAIMS), f"{len(body)} rows for {len(CLAIMS)} claims"
