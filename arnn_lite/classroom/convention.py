"""The exercise convention and its check (``python -m arnn_lite.classroom check``).

For every exercise, in consecutive cells:

1. markdown ``{exercise}`` directive (with ``:label:``, ``:nonumber:``, the title
   ``5.2 · Title`` and a difficulty line; its metadata ``arnn_exercise.estimated_minutes``);
2. code cell tagged ``exercise``: the stub, a full ``def`` whose body is ``...`` then
   ``raise NotImplementedError``;
3. cells tagged ``solution``: the ``{solution-start}`` markdown, the solution code (same
   signature as the stub), the ``{solution-end}`` markdown (or only a code cell tagged
   ``solution`` + ``hide-input``);
4. code cell tagged ``check``: calls the checker in :mod:`arnn_lite.exercises`.

:func:`check_notebook` lists every way a notebook breaks it, as readable messages.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from .notebooks import ClassroomError, defined_functions, parse_cell, tags


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
        stub = defined_functions(parse_cell(cell.source))
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
            solution = defined_functions(parse_cell(ex.solution_code(nb)))
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
            names = set(defined_functions(parse_cell(nb.cells[ex.index].source)))
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
