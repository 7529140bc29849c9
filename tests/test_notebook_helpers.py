"""A helper used by two pages lives in the package, never copied between notebooks
(DESIGN.md §3): no two notebooks define a function or class of the same name, or the same
body under another name. Within one notebook the same name twice is fine: an exercise's
stub and its solution."""

import ast
import collections
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb")) + [ROOT / "book" / "findings.ipynb"]


def definitions(path: Path) -> list[ast.AST]:
    """The functions and classes a notebook's code cells define at top level (IPython
    magics and shell lines are blanked first, so the cells parse as Python)."""
    found = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines()
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
        found += [node for node in ast.parse(source).body
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return found


def statements(node: ast.AST) -> list[ast.stmt]:
    """The definition's statements without its docstring."""
    first = node.body[0]
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
        and isinstance(first.value.value, str)
    return node.body[1:] if docstring else node.body


def is_stub(node: ast.AST) -> bool:
    """An exercise's stub: only ``...``, ``pass`` and ``raise NotImplementedError``."""
    return all(isinstance(s, (ast.Pass, ast.Raise)) or
               (isinstance(s, ast.Expr) and getattr(s.value, "value", None) is Ellipsis)
               for s in statements(node))


def body(node: ast.AST) -> str:
    """The definition without its name and docstring: what makes two helpers copies."""
    return ast.dump(ast.Module(body=statements(node), type_ignores=[]))


def _by(key) -> dict:
    """``{key: notebooks}`` for every key (of a non-stub definition) found in two or more."""
    where = collections.defaultdict(set)
    for path in NOTEBOOKS:
        for node in definitions(path):
            if not is_stub(node):
                where[key(node)].add(path.name)
    return {k: sorted(v) for k, v in where.items() if len(v) > 1}


def test_the_notebooks_are_found_and_parse():
    assert len(NOTEBOOKS) > 10 and all(p.exists() for p in NOTEBOOKS)
    assert sum(len(definitions(p)) for p in NOTEBOOKS) > 50


def test_no_two_notebooks_define_the_same_name():
    copies = _by(lambda node: node.name)
    assert not copies, ("defined in several notebooks (put one in the package, e.g. "
                        f"arnn_lite.book, and import it): {copies}")


def test_no_two_notebooks_define_the_same_body():
    copies = _by(body)
    assert not copies, f"the same body in several notebooks: {list(copies.values())}"
