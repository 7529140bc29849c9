"""Reading notebooks and their cells: the checked reader, cell tags, code cells as ``ast``.

Every other classroom module reads notebooks through :func:`read_notebook`, so a bad file
is refused in one sentence naming it (:class:`ClassroomError`), never with a traceback.
"""

from __future__ import annotations

import ast
import importlib
import json
import warnings
from pathlib import Path


def require(module: str):
    """Import ``module``, one of the ``classroom`` extra's packages, or raise an
    ``ImportError`` of one sentence that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"arnn_lite.classroom needs {module}, which is not installed: "
                          "pip install \"arnn_lite[classroom]\"") from None


nbformat = require("nbformat")


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
                             f"{shorten(data)})")
    with warnings.catch_warnings():  # nbformat warns about cell ids it adds; the schema decides
        warnings.simplefilter("ignore")
        try:
            nb = nbformat.convert(nbformat.reader.reads(text), 4)
            nbformat.validate(nb)
        except nbformat.ValidationError as err:
            where = "/".join(map(str, getattr(err, "absolute_path", ()))) or "top level"
            raise ClassroomError(f"{path}: not a valid notebook at {where}: "
                                 f"{shorten(err.message)}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise ClassroomError(f"{path}: not a valid notebook: {shorten(err)}") from None
    return nb


def shorten(value, limit: int = 120) -> str:
    """``value`` as one line of at most ``limit`` characters (for error messages)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def notebook_paths(src) -> list[Path]:
    """The notebooks of ``src``: a folder's ``*.ipynb`` (sorted), or ``src`` itself."""
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such notebook or folder")
    paths = sorted(src.glob("*.ipynb")) if src.is_dir() else [src]
    if not paths:
        raise FileNotFoundError(f"{src}: no notebooks (*.ipynb) in this folder")
    return paths


def tags(cell) -> set[str]:
    """The set of tags of a notebook cell."""
    return set(cell.get("metadata", {}).get("tags", []))


def parse_cell(source: str) -> ast.Module:
    """Parse a code cell, with IPython magics (``%...``, ``!...``) turned into ``pass`` (at
    their indentation: the setup cell's ``%pip`` sits inside an ``if``)."""
    lines = [line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!"))
             else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def defined_functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """The functions a parsed cell defines at its top level, by name."""
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
