"""Checks on the built book: offline (no CDN), every internal link and asset resolves."""

import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.built_book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


class Page(HTMLParser):
    """Collect every tag's attributes and every id of one HTML page."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.ids: set[str] = set()
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = {k: (v or "") for k, v in attrs}
        self.tags.append((tag, attrs))
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])


def pages() -> list[Path]:
    """Every built page (not the theme's Jinja macros in _static/); fails loudly if unbuilt."""
    found = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.relative_to(HTML).parts)
    assert found, f"no pages under {HTML}: build the book first (make test / make book)"
    return found


FETCHED_LINK_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon",
                     "shortcut", "manifest"}
# MathJax's own CSS is generated at runtime; every .css file of the book is scanned.
REMOTE_CSS = re.compile(r"""(@import\s+(url\()?\s*["']?|url\(\s*["']?)(https?:)?//""", re.I)


def is_remote(url: str) -> bool:
    return urlsplit(url).scheme in ("http", "https") or url.startswith("//")


@lru_cache(maxsize=None)
def parsed(path: Path) -> Page:
    return Page(path)


def test_no_remote_scripts_or_stylesheets():
    bad = []
    for path in pages():
        for tag, attrs in parsed(path).tags:
            rels = set(attrs.get("rel", "").lower().split())
            if tag in ("script", "iframe") and is_remote(attrs.get("src", "")):
                bad.append(f"{path.relative_to(HTML)}: <{tag} src={attrs['src']}>")
            if tag == "link" and rels & FETCHED_LINK_RELS and is_remote(attrs.get("href", "")):
                bad.append(f"{path.relative_to(HTML)}: <link rel={attrs['rel']} href={attrs['href']}>")
    assert not bad, "the built book loads from the network:\n" + "\n".join(bad)


def test_no_remote_css_imports():
    bad = [str(p.relative_to(HTML)) for p in sorted(HTML.rglob("*.css"))
           if "mathjax" not in p.parts and REMOTE_CSS.search(
               re.sub(r"/\*.*?\*/", "", p.read_text(errors="replace"), flags=re.S))]
    assert not bad, f"stylesheets importing remote resources: {bad}"


def local_targets(path: Path):
    """(attribute value, resolved file, fragment) for each local link/asset of a page."""
    for tag, attrs in parsed(path).tags:
        for key in ("href", "src"):
            url = attrs.get(key)
            if not url or tag == "a" and key == "src":
                continue
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue  # external (links only, see the test above) or mailto:/data:
            file = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            yield url, file, unquote(parts.fragment)


def test_internal_links_and_assets_resolve():
    broken = []
    for path in pages():
        for url, file, fragment in local_targets(path):
            if file.is_dir():
                file = file / "index.html"
            if not file.exists():
                broken.append(f"{path.relative_to(HTML)}: {url} (missing file)")
            elif fragment and file.suffix == ".html" and fragment not in parsed(file).ids:
                broken.append(f"{path.relative_to(HTML)}: {url} (no id {fragment!r})")
    assert not broken, "broken internal links:\n" + "\n".join(sorted(set(broken)))


def scripts(path: Path) -> list[str]:
    """The local script files a page loads, in order, without query strings."""
    return [urlsplit(attrs["src"]).path for tag, attrs in parsed(path).tags
            if tag == "script" and attrs.get("src")]


def test_vendored_scripts_are_used():
    loaded = {src for path in pages() for src in scripts(path)}
    assert any(s.endswith("/mathjax/es5/tex-mml-chtml.js") for s in loaded)
    assert (HTML / "mathjax/es5/output/chtml/fonts/woff-v2").is_dir()


def test_widget_scripts_load_in_order_where_used():
    # No page embeds ipywidgets views any more (sliders are precomputed frames, see
    # tests/test_built_widgets.py); a page that still loads the manager must load it in order.
    names = ["/requirejs/require.js", "/jupyter-widgets/require-paths.js",
             "/jupyter-widgets/embed-amd.js"]
    for path in pages():
        loaded = [s for s in scripts(path) if s.endswith(tuple(names))]
        assert not loaded or [next(n for n in names if s.endswith(n)) for s in loaded] == names, (
            f"{path.relative_to(HTML)} must load {names} in this order, loads {loaded}")


class VisibleText(HTMLParser):
    """The text of a page a reader sees as prose: not code, scripts or styles."""

    SKIP = {"pre", "code", "script", "style", "textarea"}

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.depth, self.parts = 0, []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.SKIP

    def handle_endtag(self, tag):
        self.depth -= tag in self.SKIP and self.depth > 0

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)

    def lines(self) -> list[str]:
        return [line.strip() for line in "".join(self.parts).splitlines()]


def raw_table_lines(path: Path) -> list[str]:
    """Lines of a page's prose that look like a Markdown table row nobody rendered."""
    return [line for line in VisibleText(path).lines()
            if line.startswith("|") and line.endswith("|") and line.count("|") >= 3]


def test_every_table_a_cell_emits_is_an_html_table():
    bad = {str(p.relative_to(HTML)): rows[:2] for p in pages() if (rows := raw_table_lines(p))}
    assert not bad, ("Markdown tables printed as raw text (cell output parsed without tables?): "
                     f"{bad}")
    with_tables = [p.name for p in pages() if "<table" in p.read_text(encoding="utf-8")]
    for name in ("09_mbg_attribute_prediction.html", "10_mbg_inverse.html", "findings.html"):
        assert name in with_tables, f"{name} has no <table> element"


class TableRows(HTMLParser):
    """The text of each cell of each row of a page's tables: ``[[cell, ...], ...]``."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.rows, self.cell = [], None
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            text = " ".join("".join(self.cell).split())
            self.rows[-1].append(text.replace("\u2019", "'"))  # MyST's typographic apostrophe
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def test_findings_page_has_a_verdict_row_per_claim_and_the_intro_links_it():
    """"What we reproduced" shows one table row per claim of arnn_lite.book.findings, each with a
    label, computed when the page was built; the intro prints the summary and links the page."""
    from arnn_lite.book import findings

    path = HTML / "book" / "findings.html"
    assert path.exists(), "book/findings.html missing: build the book first"
    rows = TableRows(path).rows
    header = next(r for r in rows if r and r[0] == "claim")
    assert header == findings.COLUMNS
    verdicts = [r for r in rows if len(r) == len(header) and r[0] in {c.claim for c in findings.CLAIMS}]
    assert [r[0] for r in verdicts] == [c.claim for c in findings.CLAIMS]
    label = header.index("verdict")
    assert all(r[label] in findings.LABELS for r in verdicts), [r[label] for r in verdicts]
    intro = (HTML / "book" / "intro.html").read_text(encoding="utf-8")
    assert 'href="findings.html"' in intro, "the intro does not link the findings page"
    text = "\n".join(VisibleText(HTML / "book" / "intro.html").lines())
    assert f"The book tests {len(findings.CLAIMS)} claims" in text, "the intro's summary is missing"


ALT_PATH_LIKE = re.compile(r"\.(png|jpe?g|svg|gif|webp)$|^\S*/\S*$", re.I)


def images_without_alt(path: Path) -> list[str]:
    """`<img>` tags of a page whose alt text is missing, empty or a file path (MyST-NB's
    default for a cell's image output when the cell gives no `mystnb.image.alt`)."""
    bad = []
    for tag, attrs in parsed(path).tags:
        if tag != "img" or "logo__image" in attrs.get("class", "").split():
            continue  # the theme's logo (none configured today) is named by the site title
        alt = attrs.get("alt", "").strip()
        if not alt or ALT_PATH_LIKE.search(alt):
            bad.append(f"<img src={attrs.get('src', '')[:60]!r} alt={alt!r}>")
    return bad


def test_every_image_has_meaningful_alt_text():
    bad = {str(p.relative_to(HTML)): found for p in pages() if (found := images_without_alt(p))}
    assert not bad, ("images whose alt text is missing or a file path (give the cell "
                     '"mystnb": {"image": {"alt": ...}} metadata):\n'
                     + "\n".join(f"{page}: {len(imgs)}, e.g. {imgs[0]}" for page, imgs in bad.items()))
    chapters = [p for p in pages() if p.parent.name == "chapters"]
    assert sum(1 for p in chapters for tag, _ in parsed(p).tags if tag == "img") >= 15, (
        "fewer images than expected in the chapters: were the figures rendered?")
