"""Checks on the BUILT class edition (`make book-class`): no solution text in its pages or
in the .ipynb files it offers for download, and every Colab link opens a student notebook.

Marked ``built_book`` (deselected by the unit suite); skipped until the class edition has
been built into ``_build/class/_build/html``. `make book-class` runs it after its build.
"""

import html
import json
import re
from pathlib import Path

import nbformat
import pytest

from arnn_lite import classroom

pytestmark = pytest.mark.built_book

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "class" / "_build" / "html"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def built(pattern: str) -> list[Path]:
    if not (HTML / "index.html").is_file():
        pytest.skip(f"no class edition under {HTML}: run `make book-class` first")
    found = sorted(HTML.glob(pattern))
    assert found, f"the class edition under {HTML} has no {pattern}"
    return found


def squeeze(text: str) -> str:
    return " ".join(text.split())


def secrets() -> dict[str, list[str]]:
    """Per chapter, the lines of solution code that appear nowhere else in the chapter
    (so finding one in the class edition means a solution leaked), whitespace squeezed."""
    found = {}
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        public = "\n".join(squeeze(line) for c in nb.cells if "solution" not in classroom.tags(c)
                            for line in c.source.splitlines())
        found[path.stem] = sorted({squeeze(line) for c in nb.cells
                                   if "solution" in classroom.tags(c) and c.cell_type == "code"
                                   for line in c.source.splitlines()
                                   if len(squeeze(line)) > 30 and squeeze(line) not in public})
    assert sum(map(len, found.values())) > 100, "expected the solutions' lines as secrets"
    return found


def page_text(path: Path) -> str:
    """The text a reader sees (tags dropped, entities decoded), whitespace squeezed."""
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", path.read_text(encoding="utf-8"), flags=re.S)
    return squeeze(html.unescape(re.sub(r"<[^>]+>", "", raw)))


def leaked(text: str, lines: list[str]) -> list[str]:
    return [line[:70] for line in lines if line in text]


def test_pages_hold_no_solution_text():
    hidden = secrets()
    pages = built("student/*.html")
    assert {p.stem for p in pages} == set(hidden)
    for page in pages:
        raw, text = page.read_text(encoding="utf-8"), page_text(page)
        assert not leaked(text, hidden[page.stem]), f"{page.name}: {leaked(text, hidden[page.stem])}"
        assert "Model answer" not in text and "solution-start" not in raw, page.name
        assert not re.search(r'class="[^"]*\bsolution\b', raw), f"{page.name}: a solution block"
        assert "Correct!" not in text, f"{page.name}: a check's output (ran with the solutions?)"


def test_downloads_hold_no_solution_text():
    """The page's download button offers _sources/student/<chapter>.ipynb."""
    hidden = secrets()
    downloads = built("_sources/student/*.ipynb")
    assert {p.stem for p in downloads} == set(hidden)
    for path in downloads:
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata.get("arnn_classroom", {}).get("edition") == "student", path.name
        assert not any("solution" in classroom.tags(c) for c in nb.cells), path.name
        text = squeeze("\n".join(c.source for c in nb.cells))
        assert not leaked(text, hidden[path.stem]), f"{path.name}: {leaked(text, hidden[path.stem])}"
        assert "Model answer" not in text and "solution-start" not in text, path.name
        outputs = json.dumps([c.get("outputs", []) for c in nb.cells])
        assert "Correct!" not in outputs, f"{path.name}: a check's output (ran with the solutions?)"


def test_every_colab_and_download_link_opens_a_student_notebook():
    for page in built("student/*.html"):
        raw = page.read_text(encoding="utf-8")
        colab = set(re.findall(r"https://colab\.research\.google\.com/github/[^\"'\s)]+\.ipynb", raw))
        assert colab and all(f"/student/{page.stem}.ipynb" in url for url in colab), (page.name, colab)
        downloads = set(re.findall(r'href="([^"]+\.ipynb)"', raw)) - colab
        assert downloads == {f"../_sources/student/{page.stem}.ipynb"}, (page.name, downloads)
        assert "/chapters/" not in raw, page.name
    for path in built("_sources/student/*.ipynb"):
        assert "/chapters/" not in json.dumps(nbformat.read(path, as_version=4).cells), path.name
