"""Chapters are committed clean, start with the setup cell, and are all in _toc.yml."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
# Executed pages outside the chapters (the findings page): committed clean like them, in the
# toc, but without a chapter's skeleton (no learning goals, no exercises, no Colab badge).
BOOK_PAGES = sorted((ROOT / "book").glob("*.ipynb"))
PAGES = CHAPTERS + BOOK_PAGES


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


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_outputs(path):
    dirty = [i for i, c in enumerate(code_cells(path)) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; "
                       "clear them (Kernel > Restart & Clear Output) before committing")


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
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


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
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


# A cell draws a figure when it calls pyplot or the book's plotting helpers, builds a `fig`, or
# shows an image; widgets that redraw a figure count too (their static frames are images).
DRAWS = re.compile(r"\b(plt|viz)\.|\bwidgets\.(plot_\w+|\w+_widget|interact\w*)\(|\bfig\s*[,=]"
                   r"|\.imshow\(")
PATH_LIKE = re.compile(r"\.(png|jpe?g|svg|gif)$|^\S*/\S*$", re.I)


def alt_text(cell) -> str:
    """The alt text MyST-NB gives the cell's image outputs (`mystnb.image.alt`), or ''."""
    return str(cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")).strip()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_every_figure_cell_has_alt_text(path):
    """Screen readers announce a figure by its alt text; without `mystnb.image.alt` MyST-NB
    writes the image's file path there. Every drawing cell says, in words, what it shows."""
    bad = []
    for k, cell in enumerate(code_cells(path)):
        if not DRAWS.search(source(cell)):
            continue
        alt = alt_text(cell)
        if len(alt.split()) < 8 or PATH_LIKE.search(alt):
            bad.append(f"code cell {k} (id {cell.get('id')}): alt {alt!r}")
    assert not bad, (f"{path.name}: figure cells without a meaningful alt text; add "
                     '"mystnb": {"image": {"alt": "what the figure shows"}} to their metadata:\n'
                     + "\n".join(bad))


TINY_FONT = re.compile(r"\b(fontsize|labelsize|titlesize)\s*=\s*([0-7](\.\d+)?\b|[\"']xx?-small[\"'])")


def test_no_figure_text_below_8pt():
    """No axis label, tick or title on a figure is set smaller than 8 pt
    (`arnn_lite.book.MIN_FONT_PT`): chapter cells and the plotting modules."""
    from arnn_lite.book import MIN_FONT_PT

    assert MIN_FONT_PT == 8
    sources = {f"{p.name} code cell {k}": source(c) for p in PAGES
               for k, c in enumerate(code_cells(p))}
    for module in ("book/viz.py", "book/figures.py"):
        sources[module] = (ROOT / "arnn_lite" / module).read_text(encoding="utf-8")
    bad = [f"{where}: {m.group(0)}" for where, text in sources.items()
           for m in TINY_FONT.finditer(text)]
    assert not bad, "figure text below 8 pt:\n" + "\n".join(bad)


DURATION = re.compile(
    r"\b\d+(\.\d+)?\s*(s|ms|µs|secs?|seconds?|minutes?|mins?|hours?|h)\b"
    r"|\b(under|about|around|roughly|nearly|almost|over|in) (a|one|two|half an?|a few) "
    r"(minutes?|seconds?|hours?)\b"
    r"|\d+(\.\d+)?\s*(×|x|times)\s*(faster|slower|quicker)"
    r"|\b(faster|slower|speed-?ups?)\b", re.I)


def prose(markdown: str) -> str:
    """A markdown cell without maths and code blocks. Directive blocks (```{exercise}`,
    ```{note}`, ...) are prose and stay; a MyST text notebook's ```{code-cell}`` is code.
    Exercise time estimates are teachers' planning numbers: they live in the exercise cell's
    metadata, not in the prose."""
    kept, fences = [], []  # fences: the open blocks, True for a code block
    for line in markdown.splitlines():
        fence = re.match(r"^\s*(`{3,}|:{3,})(.*)$", line)
        if fence and fences and not fence.group(2).strip():
            fences.pop()  # a bare fence closes the innermost block
            continue
        if fence:
            info = fence.group(2).strip()
            fences.append(not info.startswith("{") or info.startswith("{code-cell}"))
            continue
        if not any(fences):
            kept.append(line)
    return re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`\n]*`", " ", "\n".join(kept), flags=re.S)


@pytest.mark.parametrize("path", PAGES + [ROOT / "book" / "intro.md", ROOT / "book" / "reconstruction.md"],
                         ids=lambda p: p.stem)
def test_no_duration_or_speed_typed_by_hand(path):
    """Durations and speed comparisons are measured and printed by cells (or read from a
    results file), never typed into prose, where they go stale and contradict the output."""
    if path.suffix == ".md":
        cells = [path.read_text(encoding="utf-8")]
    else:
        cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                 if c["cell_type"] == "markdown"]
    typed = [m.group(0) for text in cells for m in DURATION.finditer(prose(text))]
    assert not typed, f"{path.name} types durations or speed claims by hand: {typed}"


class _Shell:
    """Stands in for IPython in :func:`_run_install_cell`: records the magics a cell runs."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line, _stack_depth=1):
        self.magics.append((name, line))


def _run_install_cell(text, monkeypatch):
    """Run a setup cell's install part as a fresh Colab runtime would (no arnn_lite found),
    up to, not including, the import of arnn_lite; returns the magics it ran."""
    import importlib.util

    from IPython.core.inputtransformer2 import TransformerManager

    install = text[:text.index("from arnn_lite.book import setup")]
    shell = _Shell()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    code = TransformerManager().transform_cell(install)
    scope = {"get_ipython": lambda: shell}
    exec(compile(code, "<setup cell>", "exec"), scope)
    # IPython expands {NAME} in a magic's line from the cell's variables
    return [(name, line.format(**{k: v for k, v in scope.items() if isinstance(v, str)}))
            for name, line in shell.magics]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_install_cell_stops_in_one_sentence_on_the_placeholder(path, monkeypatch):
    """Unpublished (the placeholder URL): a fresh Colab runtime gets one sentence naming the
    fix, not pip's git error; published (URL rewritten by book/set_repository.py or by the
    classroom's fork option): the same cell pip-installs the named repository."""
    import importlib.util as iu
    import sys

    sys.path.insert(0, str(ROOT / "book"))
    try:
        import set_repository
    finally:
        sys.path.remove(str(ROOT / "book"))
    from arnn_lite.book import PLACEHOLDER_URL, REPOSITORY_BRANCH, REPOSITORY_URL

    first = source(code_cells(path)[0])
    find_spec = iu.find_spec
    if REPOSITORY_URL == PLACEHOLDER_URL:
        with pytest.raises(RuntimeError, match="set_repository.py") as err:
            _run_install_cell(first, monkeypatch)
        assert "\n" not in str(err.value)
    monkeypatch.setattr(iu, "find_spec", find_spec)
    fork = "https://github.com/some-teacher/attentionrnn-from-scratch"
    published = set_repository.rewrite_text(first, (REPOSITORY_URL, REPOSITORY_BRANCH),
                                            (fork, "main"))
    magics = _run_install_cell(published, monkeypatch)
    assert len(magics) == 1 and magics[0][0] == "pip"
    assert f"git+{fork}@main" in magics[0][1] and "--no-deps" in magics[0][1]


def test_prose_skips_code_cells_of_a_text_notebook():
    """book/intro.md is a MyST text notebook: its code cells are code, not prose."""
    text = "Words.\n```{code-cell} ipython3\nprint('2 s faster')\n```\n```{note}\nin about a minute\n```"
    assert "faster" not in prose(text) and "about a minute" in prose(text)


def test_findings_page_ends_part_two_and_prints_its_provenance():
    """"What we reproduced" is the last page of Part II (after chapter 14, before Part III),
    and its first code cell is the book's setup, which prints commit, date and build time."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p["caption"].startswith("Part II:"))
    files = [c["file"] for c in part["chapters"]]
    assert files[-2:] == ["chapters/14_mgan_hair_colour", "book/findings"], files
    first = source(code_cells(ROOT / "book" / "findings.ipynb")[0])
    assert "from arnn_lite.book import setup" in first and 'setup(chapter="findings")' in first


def test_intro_first_screen_says_what_was_found_from_the_results_files():
    """The intro's opening says which parts are the paper's and which ours, then prints what
    the experiments found (a hidden code cell calling arnn_lite.book.findings) and links the
    findings page; no number is typed there."""
    text = (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
    assert text.startswith("---\njupytext:") and "kernelspec:" in text.split("---")[1], (
        "intro.md must be a MyST text notebook (front matter with a kernelspec) to run its cell")
    first_screen = text.split("\n## ", 1)[0]
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", first_screen, re.S)
    assert len(cells) == 1 and ":tags: [remove-input]" in cells[0]
    assert "findings.summary(findings.findings())" in cells[0]
    assert "What is the paper's and what is ours" in first_screen
    assert "(findings.ipynb)" in first_screen
    typed = re.findall(r"\d+(?:\.\d+)?\s*(?:%|points?\b|seeds?\b|claims?\b)|\d+\.\d+", prose(first_screen))
    assert not typed, f"numbers typed into the intro's first screen: {typed}"
