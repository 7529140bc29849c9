"""The student edition of the chapters and the class edition of the book.

One source for both editions (as in Neuromatch's tooling): the student copy of a chapter is
the chapter without its cells tagged ``solution``, outputs cleared, Colab badges pointed at
the student copies (``python -m arnn_lite.classroom student``). The class edition is the
book's source tree with every chapter replaced by its student copy, so a jupyter-book build
of it has no solution text in its pages, downloads or Colab links (``class-book``, run by
``make book-class``). Neither ever replaces a source notebook, nor any file in the output
folder that is not a copy this tool wrote.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from pathlib import Path

from .. import _repo
from .notebooks import ClassroomError, notebook_paths, read_notebook, require, tags

nbformat = require("nbformat")

COPIED_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}  # pictures a chapter may embed


def _owner_repo(repo_url: str) -> str:
    return re.sub(r"^https?://github\.com/", "", repo_url.rstrip("/")).strip("/")


def _colab_pattern(*repo_urls: str) -> re.Pattern:
    """Colab links to ``chapters/<notebook>`` of any of ``repo_urls``."""
    names = "|".join(re.escape(_owner_repo(url)) for url in repo_urls)
    return re.compile(r"(colab\.research\.google\.com/github/)(?:" + names
                      + r")(/blob/[^/\s)\"']+/)chapters/([^/\s)\"']+\.ipynb)")


def colab_url(repo_url: str, folder: str, name: str, branch: str = "main") -> str:
    """The Colab URL that opens ``folder/name`` of the repository."""
    return f"https://colab.research.google.com/github/{_owner_repo(repo_url)}/blob/{branch}/{folder}/{name}"


def student_notebook(nb, name: str, student_dir: str = "student", repo_url: str | None = None):
    """A student copy of notebook ``nb`` (not modified): solutions removed, outputs cleared,
    Colab links rewritten to ``<student_dir>/<notebook>``; a badge is added after the
    title when the chapter has none.

    With ``repo_url`` (a fork of the book) every link to the book's repository is pointed
    at the fork: the Colab badges, the ``%pip install git+...`` line, any other GitHub link,
    and the data clone (the setup call gets ``repository=<fork>``, see
    :func:`arnn_lite.book.setup`).
    """
    book_url = _repo.REPOSITORY_URL
    repo_url = (repo_url or book_url).rstrip("/")
    fork, teacher = _owner_repo(repo_url), _owner_repo(book_url)
    pattern = _colab_pattern(repo_url, book_url)
    elsewhere = re.compile(r"(?<=/)" + re.escape(teacher) + r"(?=[/@\s)\"'#.]|$)")
    out = copy.deepcopy(nb)
    out.cells = [cell for cell in out.cells if "solution" not in tags(cell)]
    badge_found = False
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        new = pattern.sub(lambda m: f"{m.group(1)}{fork}{m.group(2)}{student_dir}/{m.group(3)}",
                          cell.source)
        badge_found |= new != cell.source
        cell.source = elsewhere.sub(fork, new) if fork != teacher else new
        if fork != teacher and cell.cell_type == "code":
            cell.source = _setup_with_repository(cell.source, repo_url)
    if not badge_found:
        _add_badge(out, colab_url(repo_url, student_dir, name))
    out.metadata["arnn_classroom"] = {"edition": "student", "source": f"chapters/{name}"}
    return out


_SETUP_CALL = re.compile(r"(?<![\w.])setup\((\s*\))?")


def _setup_with_repository(source: str, repo_url: str) -> str:
    """``source`` with ``repository=repo_url`` passed to its ``arnn_lite.book.setup`` call
    (the Colab install and the data clone then use that repository), if it makes one."""
    if not re.search(r"from arnn_lite\.book import .*\bsetup\b", source) \
            or "repository=" in source:
        return source
    arg = f"repository={json.dumps(repo_url)}"
    return _SETUP_CALL.sub(lambda m: f"setup({arg})" if m.group(1) else f"setup({arg}, ", source)


def _add_badge(nb, url: str) -> None:
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"({url})")
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            title, _, rest = cell.source.partition("\n")
            cell.source = f"{title}\n\n{badge}\n{rest}"
            return
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(badge))


def _is_student_edition(path: Path) -> bool:
    """True if ``path`` holds a notebook that :func:`student_notebook` wrote."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]["arnn_classroom"]
        return meta["edition"] == "student"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _check_targets(copies: list[tuple[Path, Path]], out: Path) -> None:
    """Refuse (``ClassroomError``) any planned ``(source, target)`` copy that would replace
    an input file, whatever the path spelling (``./s`` vs ``s``, symlinks, hard links), or
    an existing notebook that is not a student edition."""
    sources = [source for source, _ in copies]
    if out.exists() and not out.is_dir():
        hit = next((s for s in sources if os.path.samefile(s, out)), None)
        raise ClassroomError(f"{out}: is the source notebook {hit}, expected an output folder"
                             if hit else f"{out}: expected an output folder, got a file")
    for source, target in copies:
        if not target.exists():
            continue
        hit = next((s for s in sources if os.path.samefile(s, target)), None)
        if hit is not None:
            raise ClassroomError(
                f"{target}: writing the student edition here would overwrite the source file "
                f"{hit} (the output folder {out} is the source folder, or links into it); "
                "choose another output folder, e.g. student/")
        if target.suffix == ".ipynb" and not _is_student_edition(target):
            raise ClassroomError(
                f"{target} exists and is not a student edition written by this tool (no "
                "'arnn_classroom' metadata): refusing to replace it; move it or choose another "
                "output folder")


def write_student_edition(src: Path, out: Path, student_dir: str | None = None,
                          repo_url: str | None = None) -> list[Path]:
    """Write the student edition of every notebook of ``src`` (a folder or one notebook)
    into ``out``; pictures next to the chapters are copied too. Returns the written paths.

    Every notebook is read and every target checked before anything is written: a bad
    notebook, or a target that would replace a source file or a notebook that is not a
    student edition, raises ``ClassroomError`` and leaves the disk as it was.
    """
    src, out = Path(src), Path(out)
    student_dir = student_dir or "student"
    paths = notebook_paths(src)
    notebooks = [read_notebook(path) for path in paths]
    pictures = sorted(p for p in src.iterdir() if p.is_file()
                      and p.suffix.lower() in COPIED_SUFFIXES) if src.is_dir() else []
    _check_targets([(p, out / p.name) for p in paths + pictures], out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in zip(paths, notebooks):
        target = out / path.name
        nbformat.write(student_notebook(nb, path.name, student_dir, repo_url), target)
        written.append(target)
    for pic in pictures:
        shutil.copy2(pic, out / pic.name)
    return written


# --------------------------------------------------------------------------- class build
CLASS_MARKER = ".arnn-class-book"  # marks a tree written by write_class_book (safe to replace)


def write_class_book(root, out, repo_url: str | None = None, execute: str = "off",
                     student_dir: str = "student") -> list[Path]:
    """Write the source tree of the class edition of the book into ``out``.

    The tree is the book of ``root`` (``_config.yml``, ``_toc.yml``, ``book/``) with the
    chapters replaced by their student editions under ``<student_dir>/``: pages, ``.ipynb``
    downloads and Colab launch buttons then carry no solution text and point at the
    student notebooks. ``execute``: the execution mode of the class build, ``off`` (fast,
    pages without outputs) or ``cache`` (runs the chapters; the checks of the stubs show
    "not implemented", so errors are allowed). Returns the written notebooks.
    """
    yaml = require("yaml")
    root, out = Path(root).resolve(), Path(out)
    if execute not in ("off", "cache", "force"):
        raise ClassroomError(f"execute: expected 'off', 'cache' or 'force', got {execute!r}")
    if out.exists() and any(out.iterdir()) and not (out / CLASS_MARKER).exists():
        raise ClassroomError(f"{out}: exists and is not a class-book tree written by this tool "
                             f"(no {CLASS_MARKER}); choose an empty or new folder")
    if out.resolve() == root or root.is_relative_to(out.resolve()):
        raise ClassroomError(f"{out}: would replace the book itself; choose e.g. _build/class-src")
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    toc_text = (root / "_toc.yml").read_text(encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / CLASS_MARKER).write_text("written by python -m arnn_lite.classroom class-book\n")
    written = write_student_edition(root / "chapters", out / student_dir, student_dir, repo_url)
    shutil.copytree(root / "book", out / "book", ignore=shutil.ignore_patterns("vendor", "*.py"))
    if (root / "book" / "vendor").is_dir():
        (out / "book" / "vendor").symlink_to(root / "book" / "vendor", target_is_directory=True)
    for page in [*(out / "book").glob("*.md"), *(out / "book").glob("*.ipynb")]:  # links into chapters/
        text = page.read_text(encoding="utf-8")
        page.write_text(text.replace("../chapters/", f"../{student_dir}/"), encoding="utf-8")
    (out / "_toc.yml").write_text(re.sub(r"(file:\s*)chapters/", rf"\g<1>{student_dir}/", toc_text),
                                  encoding="utf-8")
    config["title"] = f"{config.get('title', 'Book')} (class edition)"
    config["execute"]["execute_notebooks"] = execute
    config["execute"]["cache"] = str(root / "_build" / ".jupyter_cache_class")
    config["execute"]["allow_errors"] = execute != "off"  # a stub's check fails by design
    config["execute"]["raise_on_error"] = False
    if repo_url:
        config.setdefault("repository", {})["url"] = repo_url.rstrip("/")
    config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    local = config["sphinx"].get("local_extensions") or {}  # paths are relative to the config
    config["sphinx"]["local_extensions"] = {k: str((root / v).resolve()) for k, v in local.items()}
    (out / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                     encoding="utf-8")
    return written
