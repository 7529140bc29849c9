"""The book's configuration: strict execution, offline assets, bibliography."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import vendor_js  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def test_failing_cells_fail_the_build():
    execute = CONFIG["execute"]
    assert execute["allow_errors"] is False
    assert execute["raise_on_error"] is True
    assert execute["execute_notebooks"] in ("cache", "force")
    assert execute["timeout"] >= 60


def test_excludes():
    for pattern in ["_build", ".venv", ".pytest_cache", "**.ipynb_checkpoints", "book/vendor"]:
        assert pattern in CONFIG["exclude_patterns"]


def test_extensions_and_bibliography():
    sphinx = CONFIG["sphinx"]
    assert {"sphinx_exercise", "sphinx_togglebutton", "sphinxcontrib.bibtex"} <= set(
        sphinx["extra_extensions"])
    assert sphinx["config"]["bibtex_reference_style"] == "author_year"
    for bib in CONFIG["bibtex_bibfiles"]:
        assert (ROOT / bib).exists()


def vendored(url):
    """True if `url` (relative to _static/) is a file that book/vendor_js.py vendors."""
    url = url.removeprefix("../")
    if url == "jupyter-widgets/require-paths.js":
        return True  # written by the script itself
    folder, _, rest = url.partition("/")
    for _, _, _, dest, globs in vendor_js.PACKAGES:
        if dest == folder and any(re.fullmatch(g.replace("dist/", "").replace("*", "[^/]*"), rest)
                                  for g in globs):
            return True
    return False


def test_scripts_point_at_vendored_copies():
    config = CONFIG["sphinx"]["config"]
    assert config["html_extra_path"] == ["book/vendor"]
    assert vendored(config["mathjax_path"])
    assert config["nb_ipywidgets_js"] and all(vendored(u) for u in config["nb_ipywidgets_js"])


def test_book_vendor_is_gitignored():
    out = subprocess.run(["git", "check-ignore", "-q", "book/vendor/VENDORED.json"], cwd=ROOT)
    assert out.returncode == 0, "book/vendor/ must stay out of git (see book/vendor_js.py)"


FAILING_NOTEBOOK = """{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Fails"]},
 {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
  "source": ["raise RuntimeError('cell failure seen by the build')"]}],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4, "nbformat_minor": 5}"""


def test_a_failing_cell_fails_a_build_with_our_execute_settings(tmp_path):
    """Even without -W, our `execute:` block makes a raising cell fail the whole build."""
    config = {"title": "t", "execute": dict(CONFIG["execute"], execute_notebooks="force"),
              "bibtex_bibfiles": ["refs.bib"],
              "sphinx": {"extra_extensions": CONFIG["sphinx"]["extra_extensions"]}}
    (tmp_path / "refs.bib").write_text("")
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: fails\n")
    (tmp_path / "fails.ipynb").write_text(FAILING_NOTEBOOK)
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", str(tmp_path)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode != 0, result.stdout[-3000:]
    assert "cell failure seen by the build" in result.stdout + result.stderr


def test_no_page_cites_the_design_document():
    """DESIGN.md is the developers' document and is not part of the book: a reader who sees
    "DESIGN §2" cannot follow it. Pages link book/reconstruction.md instead."""
    sources = [p for pattern in ("chapters/*.ipynb", "book/*.md", "book/*.ipynb")
               for p in sorted(ROOT.glob(pattern))]
    citing = [p.name for p in sources if "DESIGN" in p.read_text(encoding="utf-8")]
    assert not citing, f"pages citing DESIGN (link reconstruction.md instead): {citing}"
