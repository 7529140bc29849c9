"""Classroom edition of the book: student notebooks and a check of the exercise convention.

Run as a module (see ``book/teaching.md``)::

    python -m arnn_lite.classroom student chapters/ student/   # write the student edition
    python -m arnn_lite.classroom check chapters/              # validate the convention
    python -m arnn_lite.classroom grade submissions/ --chapter 05_attention_rnn --out grades/

The convention (one source for both editions, as in Neuromatch's tooling), for every
exercise, in consecutive cells:

1. markdown ``{exercise}`` directive (with ``:label:``);
2. code cell tagged ``exercise``: the stub, a full ``def`` whose body is ``...`` then
   ``raise NotImplementedError``;
3. cells tagged ``solution``: the ``{solution-start}`` markdown, the solution code (same
   signature as the stub), the ``{solution-end}`` markdown (or only a code cell tagged
   ``solution`` + ``hide-input``);
4. code cell tagged ``check``: calls the checker in :mod:`arnn_lite.exercises`.

The student edition drops every cell tagged ``solution``, clears outputs and points the
Colab badges at the student copies. It never replaces a source notebook, nor any file in the
output folder that is not a student edition this tool wrote. Cells tagged ``slow`` are
skipped by the classroom tests (``tests/test_classroom.py``), never by this tool.

Needs the ``classroom`` extra: ``pip install "arnn_lite[classroom]"`` (nbformat, nbclient).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

try:
    import nbformat
except ImportError as err:  # an optional extra, not a dependency of the layer
    raise ImportError("arnn_lite.classroom needs nbformat and nbclient: "
                      "pip install \"arnn_lite[classroom]\"") from err

from ..book import REPOSITORY_URL  # one source of the URL (tested equal to _config.yml)

__all__ = ["ClassroomError", "read_notebook", "tags", "student_notebook",
           "write_student_edition", "Exercise", "find_exercises", "signature",
           "check_notebook", "parse_cell", "exercise_ids", "find_answer", "Outcome",
           "grade_submission", "write_reports", "failure_summary", "load_points", "main"]

COPIED_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}  # pictures a chapter may embed


# --------------------------------------------------------------------------- reading
class ClassroomError(ValueError):
    """A notebook, folder or output path the classroom tools refuse; the message names it."""


def read_notebook(path) -> nbformat.NotebookNode:
    """Read ``path`` as a version-4 notebook, checked against the nbformat schema.

    Raises ``ClassroomError`` naming the file and its problem (empty, not UTF-8, not JSON,
    JSON that is not a notebook, a schema violation) rather than nbformat's traceback, and
    ``FileNotFoundError`` for a missing file.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ClassroomError(f"{path}: not a notebook (the file is not UTF-8 text)") from None
    if not text.strip():
        raise ClassroomError(f"{path}: empty file, expected a notebook (JSON)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ClassroomError(f"{path}: not valid JSON ({err}), expected a notebook") from None
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        raise ClassroomError(f"{path}: valid JSON but not a notebook (expected an object "
                             f"with an 'nbformat' version, got {type(data).__name__} "
                             f"{_shorten(data)})")
    with warnings.catch_warnings():  # nbformat warns about cell ids it adds; the schema decides
        warnings.simplefilter("ignore")
        try:
            nb = nbformat.convert(nbformat.reader.reads(text), 4)
            nbformat.validate(nb)
        except nbformat.ValidationError as err:
            where = "/".join(map(str, getattr(err, "absolute_path", ()))) or "top level"
            raise ClassroomError(f"{path}: not a valid notebook at {where}: "
                                 f"{_shorten(err.message)}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ClassroomError(f"{path}: not a valid notebook: {_shorten(err)}") from None
    return nb


def _shorten(value, limit: int = 120) -> str:
    """``value`` as one line of at most ``limit`` characters (for error messages)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _notebooks(src: Path) -> list[Path]:
    """The notebooks of ``src``: a folder's ``*.ipynb`` (sorted), or ``src`` itself."""
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such notebook or folder")
    paths = sorted(src.glob("*.ipynb")) if src.is_dir() else [src]
    if not paths:
        raise FileNotFoundError(f"{src}: no notebooks (*.ipynb) in this folder")
    return paths


# --------------------------------------------------------------------------- helpers
def tags(cell) -> set[str]:
    """The set of tags of a notebook cell."""
    return set(cell.get("metadata", {}).get("tags", []))


def parse_cell(source: str) -> ast.Module:
    """Parse a code cell, with IPython magics (``%...``, ``!...``) turned into ``pass`` (at
    their indentation: the setup cell's ``%pip`` sits inside an ``if``)."""
    lines = [line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
             else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


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


# --------------------------------------------------------------------------- student edition
def student_notebook(nb, name: str, student_dir: str = "student", repo_url: str | None = None):
    """A student copy of notebook ``nb`` (not modified): solutions removed, outputs cleared,
    Colab links rewritten to ``<student_dir>/<notebook>``; a badge is added after the
    title when the chapter has none.

    With ``repo_url`` (a fork of the book) every link to the book's repository is pointed
    at the fork: the Colab badges, the ``%pip install git+...`` line, any other GitHub link,
    and the data clone (the setup call gets ``repository=<fork>``, see
    :func:`arnn_lite.book.setup`).
    """
    repo_url = (repo_url or REPOSITORY_URL).rstrip("/")
    fork, teacher = _owner_repo(repo_url), _owner_repo(REPOSITORY_URL)
    pattern = _colab_pattern(repo_url, REPOSITORY_URL)
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
    paths = _notebooks(src)
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
    import yaml
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


# --------------------------------------------------------------------------- convention check
@dataclass
class Exercise:
    """One exercise of a notebook: cell indices of its stub, solutions and check."""
    index: int                 # the ``exercise`` cell
    label: str | None          # ``:label:`` of the {exercise} directive above, if any
    solutions: list[int] = field(default_factory=list)
    check: int | None = None

    def solution_code(self, nb) -> str:
        return "\n\n".join(nb.cells[i].source for i in self.solutions
                           if nb.cells[i].cell_type == "code")


def find_exercises(nb) -> list[Exercise]:
    """The exercises of ``nb``, following each ``exercise`` cell by its ``solution``
    cells and the next ``check`` cell (missing parts stay empty / ``None``)."""
    found, cells = [], nb.cells
    for i, cell in enumerate(cells):
        if "exercise" not in tags(cell):
            continue
        label = None
        for md in reversed(cells[:i]):
            if md.cell_type == "markdown" and "{exercise}" in md.source:
                m = re.search(r"^:label:\s*(\S+)", md.source, re.M)
                label = m.group(1) if m else None
                break
        ex, j = Exercise(i, label), i + 1
        while j < len(cells) and "solution" in tags(cells[j]):
            ex.solutions.append(j)
            j += 1
        if j < len(cells) and "check" in tags(cells[j]):
            ex.check = j
        found.append(ex)
    return found


def signature(fn: ast.FunctionDef) -> tuple:
    """What must agree between stub and solution: name, argument names, defaults."""
    a = fn.args
    def names(args):
        return tuple(arg.arg for arg in args)
    return (fn.name, names(a.posonlyargs), names(a.args), a.vararg and a.vararg.arg,
            names(a.kwonlyargs), a.kwarg and a.kwarg.arg,
            tuple(ast.unparse(d) for d in a.defaults),
            tuple(d and ast.unparse(d) for d in a.kw_defaults))


def _describe(sig: tuple) -> str:
    name, posonly, args, vararg, kwonly, kwarg, defaults, kw_defaults = sig
    params = list(posonly) + (["/"] if posonly else []) + list(args)
    params = [p + (f"={defaults[k - len(params) + len(defaults)]}"
                   if k >= len(params) - len(defaults) else "") for k, p in enumerate(params)]
    if vararg or kwonly:
        params.append(f"*{vararg or ''}")
    params += [k + (f"={d}" if d else "") for k, d in zip(kwonly, kw_defaults)]
    if kwarg:
        params.append(f"**{kwarg}")
    return f"{name}({', '.join(params)})"


def _functions(tree) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _is_stub_body(fn) -> tuple[bool, bool]:
    has_ellipsis = any(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                       and n.value.value is Ellipsis for n in ast.walk(fn))
    raises = any(isinstance(n, ast.Raise) and n.exc is not None
                 and "NotImplementedError" in ast.unparse(n.exc) for n in ast.walk(fn))
    return has_ellipsis, raises


def _check_exercise(nb, ex: Exercise) -> list[str]:
    where = f"exercise cell {ex.index}" + (f" ({ex.label})" if ex.label else "")
    cell, errors = nb.cells[ex.index], []
    if cell.cell_type != "code":
        return [f"{where}: the cell tagged 'exercise' must be a code cell (the stub)"]
    try:
        stub = _functions(parse_cell(cell.source))
    except SyntaxError as err:
        return [f"{where}: the stub does not parse: {err}"]
    if not stub:
        errors.append(f"{where}: the stub defines no function (expected a full `def` with "
                      "`...` and `raise NotImplementedError`)")
    for name, fn in stub.items():
        has_ellipsis, raises = _is_stub_body(fn)
        if not has_ellipsis:
            errors.append(f"{where}: stub `{name}` has no `...` placeholder")
        if not raises:
            errors.append(f"{where}: stub `{name}` does not `raise NotImplementedError`")
    if not any(nb.cells[i].cell_type == "code" for i in ex.solutions):
        errors.append(f"{where}: not followed by a code cell tagged 'solution'")
    else:
        try:
            solution = _functions(parse_cell(ex.solution_code(nb)))
        except SyntaxError as err:
            return errors + [f"{where}: the solution does not parse: {err}"]
        for name, fn in stub.items():
            if name not in solution:
                errors.append(f"{where}: the solution cells do not define `{name}`")
            elif signature(fn) != signature(solution[name]):
                errors.append(f"{where}: signature mismatch: stub `{_describe(signature(fn))}`"
                              f" vs solution `{_describe(signature(solution[name]))}`")
    for i in ex.solutions:
        m = re.search(r"\{solution-start\}\s*(\S+)", nb.cells[i].source)
        if nb.cells[i].cell_type == "markdown" and m and ex.label and m.group(1) != ex.label:
            errors.append(f"{where}: solution-start names `{m.group(1)}`, expected `{ex.label}`")
    if ex.check is None:
        errors.append(f"{where}: the solution cells must be followed by a code cell tagged 'check'")
    else:
        used = {n.id for n in ast.walk(parse_cell(nb.cells[ex.check].source))
                if isinstance(n, ast.Name)}
        if stub and not used & set(stub):
            errors.append(f"check cell {ex.check}: does not pass the exercise's function "
                          f"({', '.join(f'`{s}`' for s in stub)}) to a checker")
    return errors


def _uses_of_exercise_functions(nb, exercises) -> list[str]:
    """Cells that would break in the student edition: later code (not check) that calls a
    function only the solution defines."""
    errors, own = [], {i for ex in exercises for i in [ex.index, *ex.solutions]}
    for ex in exercises:
        try:
            names = set(_functions(parse_cell(nb.cells[ex.index].source)))
        except SyntaxError:
            continue
        for j in range(ex.index + 1, len(nb.cells)):
            cell = nb.cells[j]
            if cell.cell_type != "code" or j in own or "check" in tags(cell):
                continue
            try:
                used = {n.id for n in ast.walk(parse_cell(cell.source)) if isinstance(n, ast.Name)}
            except SyntaxError:
                continue
            for name in sorted(used & names):
                errors.append(f"cell {j}: uses `{name}` from exercise cell {ex.index}; in the "
                              "student edition it is only a stub, so this cell would fail")
    return errors


DIFFICULTY = re.compile(r"^\*Difficulty: [★☆]{3}\.\*$", re.M)


def estimated_minutes(directive) -> int | None:
    """The teacher's planning estimate of an exercise's time, in minutes: the ``{exercise}``
    cell's metadata ``arnn_exercise.estimated_minutes``. It is an estimate, not a measurement,
    so it lives in metadata (read by ``classroom check`` and the teaching guide's lab plans),
    never typed into the page's prose."""
    value = (directive.get("metadata", {}).get("arnn_exercise") or {}).get("estimated_minutes")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _check_statement(nb, ex, number: str) -> list[str]:
    """The ``{exercise}`` directive of ``ex`` carries its number (``5.2 · Title``, with
    ``:nonumber:`` so the site shows the same number) and a difficulty line."""
    where = f"exercise cell {ex.index}" + (f" ({ex.label})" if ex.label else "")
    directive = next((c for c in reversed(nb.cells[:ex.index]) if c.cell_type == "markdown"
                      and "{exercise}" in c.source), None)
    if directive is None:
        return [f"{where}: no {{exercise}} directive above it"]
    errors = []
    first = directive.source.lstrip().splitlines()[0]
    if not re.match(rf"^```\{{exercise\}} {re.escape(number)} · \S", first):
        errors.append(f"{where}: the directive's title must start with its number, expected "
                      f"'```{{exercise}} {number} · <title>', got {first!r}")
    if not re.search(r"^:nonumber:\s*$", directive.source, re.M):
        errors.append(f"{where}: add ':nonumber:' to the directive (the title carries {number})")
    if not DIFFICULTY.search(directive.source):
        errors.append(f"{where}: no difficulty line, expected e.g. '*Difficulty: ★★☆.*'")
    if estimated_minutes(directive) is None:
        errors.append(f"{where}: no time estimate, expected the directive cell's metadata "
                      "'arnn_exercise': {'estimated_minutes': <minutes, an integer > 0>}")
    return errors


def check_notebook(nb, name: str | None = None) -> list[str]:
    """Every way ``nb`` breaks the exercise convention, as readable messages (empty: fine).

    With the notebook's file ``name`` (e.g. ``05_attention_rnn.ipynb``) also check that
    every exercise is titled with its number ``5.k`` and states its difficulty."""
    exercises = find_exercises(nb)
    errors = [msg for ex in exercises for msg in _check_exercise(nb, ex)]
    if name is not None:
        ids = exercise_ids(nb, name)
        errors += [msg for ex in exercises for msg in _check_statement(nb, ex, ids[ex.index])]
    claimed = {i for ex in exercises for i in ex.solutions} | {ex.check for ex in exercises}
    for i, cell in enumerate(nb.cells):
        if "solution" in tags(cell) and i not in claimed:
            errors.append(f"cell {i}: tagged 'solution' but not right after an exercise cell "
                          "(or after its other solution cells)")
        if "check" in tags(cell) and i not in claimed:
            errors.append(f"cell {i}: tagged 'check' but not right after an exercise's "
                          "solution cells")
    return errors + _uses_of_exercise_functions(nb, exercises)


# --------------------------------------------------------------------------- execution
LIGHT_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_light(cell) -> bool:
    """A code cell that only imports and defines (cheap, and what exercises may need)."""
    try:
        body = parse_cell(cell.source).body
    except SyntaxError:
        return False
    return all(isinstance(n, LIGHT_NODES) or (isinstance(n, ast.Expr)
               and isinstance(n.value, ast.Constant)) for n in body)


def _imports_only(cell) -> str:
    try:
        body = parse_cell(cell.source).body
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(n) for n in body if isinstance(n, (ast.Import, ast.ImportFrom)))


def exercise_run_plan(nb, solutions: bool, fast: bool = True) -> list[tuple[int, str]]:
    """``(cell index, source to run)`` for trying the exercises of ``nb``.

    ``fast``: the first code cell (setup), the earlier cells that only import and define,
    the import statements of the other earlier cells, then every code cell from the first
    exercise to the last check cell. Otherwise every code cell up to the last check cell.
    Cells tagged ``slow`` are skipped; ``solutions=False`` also skips the solution cells.
    """
    exercises = find_exercises(nb)
    if not exercises:
        return []
    first, last = exercises[0].index, max(ex.check or ex.index for ex in exercises)
    code = [i for i, c in enumerate(nb.cells[:last + 1]) if c.cell_type == "code"
            and "slow" not in tags(c) and (solutions or "solution" not in tags(c))]
    plan = []
    for k, i in enumerate(code):
        cell = nb.cells[i]
        if not fast or k == 0 or i >= first or _is_light(cell):
            plan.append((i, cell.source))
        elif _imports_only(cell):
            plan.append((i, _imports_only(cell)))
    return plan


def run_cells(nb, plan, cwd, timeout: int = 600) -> dict[int, tuple[str, str] | None]:
    """Execute a plan in one fresh kernel (errors do not stop the run).

    Args:
        plan: cell indices of ``nb``, or ``(index, source)`` pairs to run other source.

    Returns ``{index: None | (error name, error message)}``; a cell the kernel never ran
    (it died, or a cell ran past ``timeout``) counts as an error."""
    plan = [(p, nb.cells[p].source) if isinstance(p, int) else p for p in plan]
    ran = _execute(nb.metadata, [source for _, source in plan], cwd, timeout)
    return {i: error for (i, _), (error, _) in zip(plan, ran)}


def _execute(metadata, sources: list[str], cwd, timeout: int) -> list[tuple]:
    """Run ``sources`` as cells of one fresh kernel: ``[(None | (ename, evalue), seconds)]``."""
    from nbclient import NotebookClient
    run = nbformat.v4.new_notebook(metadata=copy.deepcopy(metadata))
    run.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(run, timeout=timeout, allow_errors=True, kernel_name="python3",
                            interrupt_on_timeout=True, record_timing=True,
                            resources={"metadata": {"path": str(cwd)}})
    stopped = None
    try:
        client.execute()
    except Exception as err:  # the kernel died (e.g. os._exit in an answer) or would not start
        stopped = (type(err).__name__, _shorten(err, 300))
    result = []
    for cell in run.cells:
        timing = cell.metadata.get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if end is None:
            result.append((stopped or ("NotRun", "the kernel stopped before this cell ran"), 0.0))
            continue
        seconds = (_time(end) - _time(start)) if start else 0.0
        err = next((o for o in cell.outputs if o.output_type == "error"), None)
        result.append(((err.ename, err.evalue) if err else None, max(seconds, 0.0)))
    return result


def _time(stamp: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --------------------------------------------------------------------------- grading
def chapter_number(name: str) -> int:
    """The chapter number of a notebook file name: ``05_attention_rnn.ipynb`` -> 5."""
    m = re.match(r"(\d+)", Path(name).name)
    if not m:
        raise ClassroomError(f"{name}: expected a chapter file name starting with its number "
                             "(e.g. 05_attention_rnn.ipynb)")
    return int(m.group(1))


def exercise_ids(nb, name: str) -> dict[int, str]:
    """``{exercise cell index: "chapter.k"}``, the exercise numbers used everywhere (the
    exercise titles of the book, the grades): ``5.2`` is chapter 5's second exercise."""
    number = chapter_number(name)
    return {ex.index: f"{number}.{k}" for k, ex in enumerate(find_exercises(nb), start=1)}


def _stub_names(nb, ex) -> list[str]:
    try:
        return list(_functions(parse_cell(nb.cells[ex.index].source)))
    except SyntaxError:
        return []


def _defines(cell, names) -> bool:
    if cell.cell_type != "code":
        return False
    try:
        return bool(set(_functions(parse_cell(cell.source))) & set(names))
    except SyntaxError:  # a student's unfinished cell: match by text
        return any(re.search(rf"^\s*def\s+{re.escape(n)}\s*\(", cell.source, re.M) for n in names)


def find_answer(submission, label: str | None, names: list[str]) -> list[int]:
    """The cells of ``submission`` that answer the exercise ``label`` asking for ``names``.

    First the code cells tagged ``exercise`` between its ``{exercise}`` directive and the
    next one (or, when the tag was lost, the first code cell there that defines one of
    ``names``); else any code cell, not tagged ``check``, that defines one of ``names``
    (the last one). Empty: the exercise is missing."""
    cells = submission.cells
    directives = [i for i, c in enumerate(cells) if c.cell_type == "markdown"
                  and "{exercise}" in c.source]
    for k, d in enumerate(directives):
        if label and re.search(rf"^:label:\s*{re.escape(label)}\s*$", cells[d].source, re.M):
            stop = directives[k + 1] if k + 1 < len(directives) else len(cells)
            span = range(d + 1, stop)
            tagged = [i for i in span if cells[i].cell_type == "code"
                      and "exercise" in tags(cells[i])]
            if tagged:
                return tagged
            defining = [i for i in span if "check" not in tags(cells[i])
                        and _defines(cells[i], names)]
            if defining:
                return defining[:1]
    defining = [i for i, c in enumerate(cells) if "check" not in tags(c) and _defines(c, names)]
    return defining[-1:]


_PURGE = """import importlib as _arnn_il, sys as _arnn_sys
for _arnn_name in [n for n in _arnn_sys.modules if n.split(".")[:2] == ["arnn_lite", "exercises"]]:
    del _arnn_sys.modules[_arnn_name]  # fresh checkers: an answer cannot patch them
_arnn_ex = _arnn_il.import_module("arnn_lite.exercises")
"""


def _grader_check(check_source: str, seed: int) -> str:
    """The check cell the grader runs: the teacher's check on the visible cases, then the
    same check on the hidden cases (seed ``seed``), with fresh checker modules."""
    import textwrap
    body = textwrap.indent(check_source.strip() or "pass", "        ")
    return (_PURGE + check_source.strip() + "\n"
            "try:\n"
            f"    with _arnn_ex.hidden(seed={int(seed)}):\n"
            f"{body}\n"
            "except _arnn_ex.ExerciseError as _arnn_err:\n"
            "    raise _arnn_ex.ExerciseError('passes the visible checks but not the hidden '\n"
            "                                 f'cases: {_arnn_err}') from None\n")


@dataclass
class Outcome:
    """One exercise of one submission, as graded."""
    student: str
    chapter: str          # teacher notebook name
    exercise: str         # "5.2"
    label: str            # "ex-05-pixel-step"
    passed: bool
    hint: str             # the checker's message ("" when passed)
    seconds: float        # answer cells + check
    points: float = 0.0   # earned
    max_points: float = 1.0


def grade_submission(submission, teacher, name: str, cwd, seed: int, student: str = "",
                     timeout: int = 600, points: dict | None = None) -> list[Outcome]:
    """Grade one submitted notebook against the teacher edition ``teacher`` (``name``: its
    file name), in one fresh kernel.

    The exercises, the setup and context cells and the check code all come from the
    teacher edition; only the answer cells (:func:`find_answer`) come from the submission.
    Each check runs on the visible cases, then on the hidden ones (``seed``). An exercise
    whose answer is missing fails. Only the fast plan runs (:func:`exercise_run_plan`:
    setup, imports and definitions, the exercise span), never the chapter's training.
    """
    ids, exercises = exercise_ids(teacher, name), find_exercises(teacher)
    by_cell = {ex.index: ex for ex in exercises}
    by_check = {ex.check: ex for ex in exercises}
    answers = {ex.index: find_answer(submission, ex.label, _stub_names(teacher, ex))
               for ex in exercises}
    sources, roles = [], []  # roles: (kind, exercise cell index)
    for i, source in exercise_run_plan(teacher, solutions=False):
        if i in by_cell:
            for j in answers[i]:
                sources.append(submission.cells[j].source)
                roles.append(("answer", i))
        elif i in by_check:
            if answers[by_check[i].index]:
                sources.append(_grader_check(source, seed))
                roles.append(("check", by_check[i].index))
        else:
            sources.append(source)
            roles.append(("context", None))
    ran = _execute(teacher.metadata, sources, cwd, timeout)
    points = points or {}
    outcomes = []
    for ex in exercises:
        mine = [(role, r) for (role, i), r in zip(roles, ran) if i == ex.index]
        check = next((r for role, r in mine if role == "check"), None)
        answer_error = next((r[0] for role, r in mine if role == "answer" and r[0]), None)
        if not answers[ex.index]:
            names = ", ".join(f"`{n}`" for n in _stub_names(teacher, ex))
            ok, hint = False, (f"missing from the submission: no exercise cell {ex.label} and "
                               f"no cell defining {names}")
        elif check is None or check[0] is not None:
            ename, evalue = check[0] if check else ("NotRun", "the check did not run")
            hint = evalue.strip().splitlines()[0] if evalue.strip() else ename
            if ename not in ("ExerciseError",):
                hint = f"{ename}: {hint}"
            if answer_error:
                hint = f"your exercise cell raised {answer_error[0]}: {answer_error[1]}; {hint}"
            ok = False
        else:
            ok, hint = True, ""
        worth = float(points.get(ids[ex.index], points.get(ex.label, points.get("default", 1))))
        outcomes.append(Outcome(student, name, ids[ex.index], ex.label or "", ok, _shorten(hint, 400),
                                round(sum(r[1] for _, r in mine), 3), worth if ok else 0.0, worth))
    return outcomes


# --------------------------------------------------------------------------- command line
def _cmd_student(args) -> int:
    written = write_student_edition(args.src, args.out, args.student_dir, args.repo_url)
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_check(args) -> int:
    status, total = 0, 0
    paths = _notebooks(args.src)
    for path, nb in zip(paths, [read_notebook(path) for path in paths]):
        errors, count = check_notebook(nb, path.name), len(find_exercises(nb))
        total += count
        if errors:
            status = 1
            for msg in errors:
                print(f"{path}: {msg}", file=sys.stderr)
        else:
            print(f"{path}: OK ({count} exercise{'s' * (count != 1)})")
    print(("FAILED: fix the cells named above" if status else f"all good: {total} exercises"),
          file=sys.stderr if status else sys.stdout)
    return status


def _default_teacher() -> Path | None:
    here = Path(__file__).resolve().parent.parent / "chapters"
    return here if here.is_dir() else None


def _submission_chapter(path: Path, nb, teachers: dict[str, Path], chapter: str | None) -> str:
    """Which teacher notebook a submission answers: ``--chapter``, else the student
    edition's metadata, else its file name."""
    if chapter:
        name = Path(chapter).name
        name = name if name.endswith(".ipynb") else name + ".ipynb"
        if name in teachers:
            return name
        hits = [t for t in teachers if t.startswith(Path(chapter).stem)]
        if len(hits) == 1:
            return hits[0]
        raise ClassroomError(f"--chapter {chapter}: no such teacher notebook; expected one of "
                             f"{', '.join(sorted(teachers))}")
    meta = nb.metadata.get("arnn_classroom", {})
    source = Path(str(meta.get("source", ""))).name if isinstance(meta, dict) else ""
    for name in (source, path.name):
        if name in teachers:
            return name
    raise ClassroomError(f"{path}: cannot tell which chapter it answers (no 'arnn_classroom' "
                         "metadata naming a teacher notebook, and its file name is not a "
                         "chapter's); pass --chapter, e.g. --chapter 05_attention_rnn")


def student_id(path: Path, chapter: str) -> str:
    """The student of a submission: its file name (``alice.ipynb`` -> ``alice``), or its
    folder when the file keeps the chapter's name (``alice/05_attention_rnn.ipynb``)."""
    path = Path(path)
    return path.parent.name if path.name == chapter else path.stem


def load_points(path) -> dict:
    """Points per exercise from a JSON or YAML file: ``{"5.1": 2, "ex-05-pixel-step": 3,
    "default": 1}`` (keys: exercise numbers or labels; ``default`` for the others)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yml", ".yaml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as err:
        raise ClassroomError(f"{path}: not a valid points file ({_shorten(err)})") from None
    if not isinstance(data, dict) or not all(isinstance(v, (int, float))
                                             and not isinstance(v, bool) and v >= 0
                                             for v in data.values()):
        raise ClassroomError(f"{path}: expected a mapping of exercise (e.g. \"5.1\") to "
                             f"points >= 0, got {_shorten(data)}")
    return {str(k): float(v) for k, v in data.items()}


REPORT_FIELDS = ["student", "chapter", "exercise", "label", "passed", "points", "max_points",
                 "hint", "seconds"]


def failure_summary(outcomes: list[Outcome]) -> list[dict]:
    """Per exercise: how many students failed it, most failed first."""
    rows = {}
    for o in outcomes:
        row = rows.setdefault((o.chapter, o.exercise), {"exercise": o.exercise, "label": o.label,
                                                         "chapter": o.chapter, "failed": 0,
                                                         "students": 0})
        row["students"] += 1
        row["failed"] += not o.passed
    return sorted(rows.values(), key=lambda r: (-r["failed"], r["chapter"], r["exercise"]))


def write_reports(outcomes: list[Outcome], out: Path, meta: dict) -> list[Path]:
    """``out/grades.csv`` (one row per student and exercise) and ``out/grades.json``
    (the same rows, per-student totals, the failure summary and ``meta``)."""
    import csv
    from dataclasses import asdict
    out.mkdir(parents=True, exist_ok=True)
    rows = [asdict(o) for o in outcomes]
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    students = {}
    for o in outcomes:
        s = students.setdefault(o.student, {"points": 0.0, "max_points": 0.0, "passed": 0,
                                            "exercises": 0})
        s["points"] += o.points
        s["max_points"] += o.max_points
        s["passed"] += o.passed
        s["exercises"] += 1
    report = {**meta, "students": students, "summary": failure_summary(outcomes),
              "grades": rows}
    (out / "grades.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return [out / "grades.csv", out / "grades.json"]


def _cmd_grade(args) -> int:
    import secrets
    import time
    paths = [path for arg in args.notebooks for path in _notebooks(arg)]
    submissions = [read_notebook(path) for path in paths]  # every input read first
    teacher_dir = args.teacher or _default_teacher()
    if teacher_dir is None:
        raise ClassroomError("no teacher edition found: pass --teacher chapters/")
    teachers = {p.name: p for p in _notebooks(teacher_dir)}
    chapters = [_submission_chapter(p, nb, teachers, args.chapter)
                for p, nb in zip(paths, submissions)]
    points = load_points(args.points) if args.points else {}
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    cache, outcomes, times = {}, [], {}
    for path, nb, chapter in zip(paths, submissions, chapters):
        if chapter not in cache:
            cache[chapter] = read_notebook(teachers[chapter])
        student = student_id(path, chapter)
        start = time.perf_counter()
        graded = grade_submission(nb, cache[chapter], chapter, teachers[chapter].resolve().parent,
                                  seed, student, args.timeout, points)
        times[f"{student}:{chapter}"] = round(time.perf_counter() - start, 2)
        outcomes += graded
        score = sum(o.points for o in graded), sum(o.max_points for o in graded)
        print(f"{path} ({student}, {chapter}): {sum(o.passed for o in graded)}/{len(graded)} "
              f"exercises pass, {score[0]:g}/{score[1]:g} points, "
              f"{times[f'{student}:{chapter}']:.1f} s")
        for o in graded:
            print(f"  {o.exercise} {o.label}: {'pass' if o.passed else 'FAIL  ' + o.hint}")
    if len(paths) > 1:
        print("\nmost failed exercises:")
        for row in failure_summary(outcomes):
            print(f"  {row['exercise']:>5} {row['label']:<28} failed by {row['failed']}/"
                  f"{row['students']}")
    if args.out:
        meta = {"seed": seed, "teacher": str(teacher_dir), "seconds_per_submission": times}
        for written in write_reports(outcomes, args.out, meta):
            print(f"wrote {written}")
    return int(not all(o.passed for o in outcomes))


def _cmd_class_book(args) -> int:
    written = write_class_book(args.root, args.out, args.repo_url, args.execute, args.student_dir)
    print(f"wrote the class edition's source tree to {args.out} ({len(written)} student "
          f"notebooks); build it with: jupyter-book build {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m arnn_lite.classroom",
        description="Classroom edition of 'AttentionRNN, from scratch'. Exercise cells are "
                    "tagged 'exercise' (stub), 'solution' (answer) and 'check' (checker); "
                    "see book/teaching.md.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    student = sub.add_parser(
        "student", help="write the student edition (solutions removed, outputs cleared)",
        description="Write a student copy of every SRC/*.ipynb into OUT: cells tagged "
                    "'solution' removed, exercise stubs and check cells kept, outputs "
                    "cleared, Colab links pointed at OUT's copies.")
    student.add_argument("src", type=Path, help="chapters folder (or one notebook)")
    student.add_argument("out", type=Path, help="output folder, e.g. student/")
    student.add_argument("--student-dir", default=None,
                         help="folder of the student copies in the repository, used in the "
                              "Colab links (default: 'student')")
    student.add_argument("--repo-url", default=None,
                         help=f"GitHub URL of the repository (default: {REPOSITORY_URL})")
    student.set_defaults(run=_cmd_student)
    check = sub.add_parser(
        "check", help="validate the exercise convention; non-zero exit on any problem",
        description="Check that every 'exercise' cell is followed by 'solution' cell(s) and "
                    "a 'check' cell, that stubs hold `...` and `raise NotImplementedError`, "
                    "and that stub and solution define the same signature.")
    check.add_argument("src", type=Path, help="chapters folder (or one notebook)")
    check.set_defaults(run=_cmd_check)
    book = sub.add_parser(
        "class-book", help="write the source tree of the class edition of the book",
        description="Copy the book of ROOT into OUT with every chapter replaced by its "
                    "student edition (in OUT/student/): a jupyter-book build of OUT has no "
                    "solution text in its pages, downloads or Colab links. Used by "
                    "`make book-class`.")
    book.add_argument("root", type=Path, help="the book's root (with _config.yml, _toc.yml)")
    book.add_argument("out", type=Path, help="output folder, e.g. _build/class-src")
    book.add_argument("--execute", default="off", choices=["off", "cache", "force"],
                      help="execution of the class build (default off: fast, no outputs)")
    book.add_argument("--student-dir", default="student",
                      help="folder of the student copies (default: 'student')")
    book.add_argument("--repo-url", default=None,
                      help=f"GitHub URL of the repository (default: {REPOSITORY_URL})")
    book.set_defaults(run=_cmd_class_book)
    grade = sub.add_parser(
        "grade", help="grade submitted notebooks against the teacher edition",
        description="Grade each submitted NOTEBOOK (or every notebook of a folder: one per "
                    "student, the student id is the file name, or the folder name when the "
                    "file keeps the chapter's name). The exercises, setup and check code come "
                    "from the teacher edition (--teacher); only the answer cells come from "
                    "the submission, so deleted or edited check cells change nothing, and a "
                    "missing exercise fails. Each check runs on its visible and on hidden "
                    "cases (--seed), in a fresh kernel, without the chapter's training. "
                    "Exit status 0 only when every exercise passes.")
    grade.add_argument("notebooks", nargs="+", type=Path,
                       help="completed student notebooks (or folders of them)")
    grade.add_argument("--teacher", type=Path, default=None,
                       help="folder of the teacher edition (default: this checkout's chapters/)")
    grade.add_argument("--chapter", default=None,
                       help="the chapter every submission answers, e.g. 05_attention_rnn "
                            "(default: from each notebook's metadata or file name)")
    grade.add_argument("--points", type=Path, default=None,
                       help="JSON or YAML file of points per exercise, e.g. {\"5.1\": 2, "
                            "\"default\": 1} (default: 1 point each)")
    grade.add_argument("--out", type=Path, default=None,
                       help="folder for grades.csv and grades.json (default: print only)")
    grade.add_argument("--seed", type=int, default=None,
                       help="seed of the hidden cases (default: a fresh random one, "
                            "recorded in grades.json)")
    grade.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    grade.set_defaults(run=_cmd_grade)
    return parser


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ClassroomError, OSError) as err:  # one line naming the file, argparse's exit status
        print(f"error: {err}", file=sys.stderr)
        return 2

