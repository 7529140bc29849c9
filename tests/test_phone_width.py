"""Every page of the built book read at phone width (a 400 px viewport) in headless Chromium.

A display equation wider than the text column makes the reader scroll sideways inside the
equation, a line at a time; a chapter title written with TeX-like notation (``MBG^inv``) shows
its raw ``^`` in the sidebar, the previous/next links and the browser tab, where MathJax never
runs. One Chromium run loads each page in turn into a 400 px wide iframe, waits for MathJax,
and measures; the tests below read that one measurement.
"""

import html
import json
import re

import pytest

from tests.test_browser import HTML, build_server, chromium, pages_to_check  # noqa: F401

pytestmark = pytest.mark.built_book

PHONE = 400  # px: the viewport of a small phone
TOLERANCE = 1  # px: sub-pixel rounding of scrollWidth
RAW_MATH = re.compile(r"\^|_\{|\$|\\[a-zA-Z]+")  # TeX that nobody typeset

# Loads each page into a PHONE-wide same-origin iframe, waits for MathJax's first typeset and
# the fonts, then records every display equation's width against its text column and the
# text of every navigation link (sidebar, page contents, previous/next) and the tab title.
HARNESS = """<!doctype html><html><body>
<iframe id="page" width="%(width)d" height="900"></iframe>
<script>
var pages = %(pages)s, out = {}, frame = document.getElementById("page");
function contentWidth(el, win) {
  var s = win.getComputedStyle(el);
  return el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
}
function text(el) {
  return el ? el.textContent.replace(/\\s+/g, " ").trim() : "";  // hidden on a phone: no innerText
}
function measure(win, doc) {
  var article = doc.querySelector("article.bd-article") || doc.querySelector("main");
  var column = contentWidth(article, win), equations = [];
  doc.querySelectorAll('mjx-container[display="true"]').forEach(function (c) {
    var box = Math.min(column, contentWidth(c.parentElement, win));
    equations.push({width: c.scrollWidth, column: box,
                    text: text(c.querySelector("mjx-assistive-mml") || c).slice(0, 80)});
  });
  var links = [];
  doc.querySelectorAll(".bd-sidebar-primary nav a, .bd-sidebar-secondary nav a, " +
                       ".prev-next-area a").forEach(function (a) {
    links.push(text(a));
  });
  var h1 = doc.querySelector("article h1");
  return {equations: equations, links: links, title: doc.title,
          h1: text(h1).replace(/#$/, "").trim(),  // less its "#" permalink
          current: text(doc.querySelector(".bd-sidebar-primary nav li.toctree-l1.current > a"))};
}
function next(i) {
  if (i === pages.length) {
    var pre = document.createElement("pre");
    pre.id = "result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
    return;
  }
  frame.onload = function () {
    var win = frame.contentWindow, doc = frame.contentDocument;
    var typeset = win.MathJax && win.MathJax.startup ? win.MathJax.startup.promise : null;
    Promise.resolve(typeset).then(function () { return doc.fonts.ready; }).then(function () {
      out[pages[i]] = measure(win, doc);
    }).catch(function (e) {
      out[pages[i]] = {error: String(e)};
    }).then(function () { next(i + 1); });
  };
  frame.src = "/html/" + pages[i];
}
next(0);
</script></body></html>
"""


@pytest.fixture(scope="module")
def phone(build_server, tmp_path_factory):  # noqa: F811 (the fixture imported above)
    """{page: measurement} for every chapter and front/back-matter page at PHONE width."""
    pages = pages_to_check()
    assert pages, f"no pages under {HTML}: build the book first"
    harness = HTML.parent / "browser" / "phone_width.html"
    harness.parent.mkdir(parents=True, exist_ok=True)
    harness.write_text(HARNESS % {"width": PHONE, "pages": json.dumps(pages)}, encoding="utf-8")
    dom = chromium("--dump-dom", f"{build_server}/browser/{harness.name}",
                   tmp_path=tmp_path_factory.mktemp("chrome"))
    found = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert found, "the harness never finished loading the pages"
    result = json.loads(html.unescape(found.group(1)))
    harness.with_suffix(".json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    assert sorted(result) == pages, f"pages not measured: {sorted(set(pages) - set(result))}"
    assert any(m.get("equations") for m in result.values()), "MathJax typeset no display maths"
    return result


@pytest.mark.parametrize("page", pages_to_check() or ["(book not built)"])
def test_display_equations_fit_the_column_on_a_phone(page, phone):
    measured = phone[page]
    assert "error" not in measured, f"{page}: {measured.get('error')}"
    wide = [f"{eq['width']} px in a {eq['column']:.0f} px column: {eq['text']!r}"
            for eq in measured["equations"] if eq["width"] > eq["column"] + TOLERANCE]
    assert not wide, (f"{page}: {len(wide)} display equation(s) wider than the text column at "
                      f"{PHONE} px (break them into lines):\n" + "\n".join(wide))


@pytest.mark.parametrize("page", pages_to_check() or ["(book not built)"])
def test_titles_and_navigation_show_no_raw_notation(page, phone):
    measured = phone[page]
    raw = [text for text in [measured["title"], measured["h1"], *measured["links"]]
           if RAW_MATH.search(text)]
    assert not raw, f"{page}: raw TeX notation in a title or navigation link: {raw}"
    assert measured["current"] == measured["h1"], (
        f"{page}: the sidebar says {measured['current']!r}, the page heading {measured['h1']!r}")
