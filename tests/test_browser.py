"""Open chapter 01 of the built book in headless Chromium, with every remote host unresolvable.

Asserts that MathJax typeset the maths and that the ipywidgets HTML manager rendered the
saved widget views, i.e. that the vendored scripts work offline. Never skipped: `make test`
installs Debian's chromium first (`make browser-deps`) and fails if it cannot.
"""

import functools
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


def test_widgets_rendered(dom):
    assert re.search(r'class="[^"]*\bjupyter-widgets\b', dom), "no rendered widget view"
    assert re.search(r'class="[^"]*\bwidget-(slider|hbox|vbox|inline-hbox|box|label)\b', dom)


def test_every_request_was_served(dom):
    missing = sorted({path for code, path in Handler.log
                      if code >= 400 and path != "/favicon.ico"})  # browsers always ask
    assert not missing, f"the page asked for files the book lacks: {missing}"
    served = {urlsplit(path).path for code, path in Handler.log if code == 200}
    assert "/jupyter-widgets/embed-amd.js" in served, "the widget manager was never loaded"
    assert any(p.startswith("/mathjax/es5/output/chtml/fonts/") for p in served), (
        "MathJax fonts never loaded")


def test_screenshot(server, tmp_path):
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    chromium(f"--screenshot={SCREENSHOT}", f"{server}/{PAGE}", tmp_path=tmp_path)
    assert SCREENSHOT.stat().st_size > 10_000, "screenshot is (nearly) empty"
