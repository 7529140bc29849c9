"""Chapters are committed clean, start with the setup cell, and are all in _toc.yml."""

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def toc_files():
    """Every `file:` entry of _toc.yml (root included), without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    stack = list(toc.get("parts", [])) + list(toc.get("chapters", []))
    while stack:
        entry = stack.pop()
        if "file" in entry:
            files.append(entry["file"])
        stack += entry.get("chapters", []) + entry.get("sections", [])
    return files


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_toc_entries_exist():
    missing = [f for f in toc_files()
               if not any((ROOT / f).with_suffix(s).exists() for s in (".ipynb", ".md"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_outputs(path):
    dirty = [i for i, c in enumerate(code_cells(path)) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; "
                       "clear them (Kernel > Restart & Clear Output) before committing")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_errors_not_allowed(path):
    metadata = json.loads(path.read_text())["metadata"]
    assert "allow_errors" not in metadata.get("execution", {}), (
        f"{path.name}: notebook metadata execution.allow_errors would hide failing cells")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_first_code_cell_calls_setup(path):
    cells = code_cells(path)
    assert cells, f"{path.name}: no code cells"
    first = source(cells[0])
    assert "arnn_lite.book" in first and "setup(" in first, (
        f"{path.name}: the first code cell must run `from arnn_lite.book import setup; "
        f"cfg = setup()`, found:\n{first}")
    # On a fresh Colab runtime the package is not there yet: the cell installs it first.
    from arnn_lite.book import REPOSITORY_BRANCH, REPOSITORY_URL
    assert 'find_spec("arnn_lite")' in first and f"git+{REPOSITORY_URL}@{REPOSITORY_BRANCH}" in first, (
        f"{path.name}: the setup cell must install arnn_lite when it is missing (Colab), "
        f"found:\n{first}")
    assert first.index("%pip install") < first.index("from arnn_lite.book import setup")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_in_toc(path):
    entry = path.relative_to(ROOT).with_suffix("").as_posix()
    assert entry in toc_files(), f"{path.name}: add `- file: {entry}` to _toc.yml"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_title_has_colab_badge_for_this_chapter(path):
    from arnn_lite.book import REPOSITORY_BRANCH, REPOSITORY_URL
    first = json.loads(path.read_text())["cells"][0]
    text = "".join(first["source"])
    owner_repo = REPOSITORY_URL.split("github.com/")[1]
    assert text.startswith("# ") and "colab-badge.svg" in text, f"{path.name}: no Colab badge under the title"
    assert (f"colab.research.google.com/github/{owner_repo}/blob/{REPOSITORY_BRANCH}/chapters/"
            f"{path.name}") in text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_one_chapter_skeleton(path):
    """Every chapter opens with a "## Learning goals" heading before its first code cell and
    ends with a "## Summary" heading: one skeleton, so readers find both in the same place."""
    cells = json.loads(path.read_text())["cells"]
    first_code = next(i for i, c in enumerate(cells) if c["cell_type"] == "code")
    heads = [(i, line.strip()) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
             for line in "".join(c["source"]).splitlines() if line.startswith("## ")]
    goals = [i for i, h in heads if h == "## Learning goals"]
    assert len(goals) == 1 and goals[0] < first_code, f"{path.name}: '## Learning goals' heading"
    assert any(h == "## Summary" for _, h in heads), f"{path.name}: no '## Summary' heading"
