"""The package's layout shows its architecture (arnn_lite/__init__.py has the map).

Every import inside ``arnn_lite`` (top-level or inside a function: a lazy import is still an
arrow) is read from the source with ``ast``. The arrows must point down a fixed order of
layers, from the teacher's tools to the layer itself, and no group of modules may import
each other in a circle. Nothing is imported or run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "arnn_lite"

# Higher may import lower, never the other way. Top-level modules are the layer (what the
# paper is) and its foundations; subpackages of one rank may not import each other.
RANKS = {"": 0, "datasets": 1, "models": 2, "toys": 3, "experiments": 4, "book": 5,
         "exercises": 6, "classroom": 7}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(importer: str, node: ast.ImportFrom | ast.Import) -> set[str]:
    """The package modules one import statement loads (a name imported from a package
    counts as its submodule when one exists)."""
    is_package = MODULES[importer].name == "__init__.py"
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    if node.level:
        parts = importer.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[:len(parts) - node.level + 1]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if not base.startswith("arnn_lite"):
        return set()
    found = set()
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES}


def arrows() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                targets |= resolve(name, node)
        graph[name] = targets - {name}
    return graph


def group(module: str) -> str:
    """``arnn_lite.models.mbg -> "models"``; top-level modules and the package -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else ""


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_subpackage_has_a_rank():
    groups = {group(m) for m in MODULES}
    assert groups <= set(RANKS), f"subpackages without a rank in RANKS: {groups - set(RANKS)}"


def test_no_import_circles():
    found = cycles(arrows())
    assert not found, "modules that import each other (directly or around a circle): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_arrows_point_down():
    """A module imports only from its own group or from a lower rank: the layer imports
    nothing from models/, experiments/, book/, toys/, exercises/ or classroom/."""
    upward = []
    for source, targets in arrows().items():
        for target in targets:
            a, b = group(source), group(target)
            if a != b and RANKS.get(b, 99) >= RANKS.get(a, 99):
                upward.append(f"{source} -> {target} ({a or 'layer'} -> {b or 'layer'})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(sorted(upward))


@pytest.mark.parametrize("name", ["arnn_lite.arnn", "arnn_lite.attention", "arnn_lite.rnn",
                                  "arnn_lite.scan", "arnn_lite.ops", "arnn_lite.reference"])
def test_the_layer_imports_only_the_layer(name):
    assert all(group(t) == "" for t in arrows()[name]), sorted(arrows()[name])
