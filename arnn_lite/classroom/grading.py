"""Grading submitted notebooks in a fresh kernel (``python -m arnn_lite.classroom grade``).

The exercises, the setup and context cells and the check code all come from the teacher
edition; only the answer cells come from the submission, so a deleted or edited check cell
changes nothing and a missing exercise fails. Each check runs on its visible cases, then on
the hidden ones (:func:`arnn_lite.exercises.hidden`, a seed the grader picks). Only a fast
plan runs (:func:`exercise_run_plan`), never the chapter's training.
"""

from __future__ import annotations

import ast
import copy
import csv
import json
import re
import textwrap
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from .convention import exercise_ids, find_exercises
from .notebooks import ClassroomError, defined_functions, parse_cell, require, shorten, tags

nbformat = require("nbformat")


LIGHT_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def is_light(cell) -> bool:
    """A code cell that only imports and defines (cheap, and what exercises may need)."""
    try:
        body = parse_cell(cell.source).body
    except SyntaxError:
        return False
    return all(isinstance(n, LIGHT_NODES) or (isinstance(n, ast.Expr)
               and isinstance(n.value, ast.Constant)) for n in body)


def imports_only(cell) -> str:
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
        if not fast or k == 0 or i >= first or is_light(cell):
            plan.append((i, cell.source))
        elif imports_only(cell):
            plan.append((i, imports_only(cell)))
    return plan


def run_in_kernel(metadata, sources: list[str], cwd, timeout: int = 600) -> list[tuple]:
    """Run ``sources`` as the cells of one fresh kernel (a notebook with ``metadata``,
    working folder ``cwd``); errors do not stop the run.

    Returns ``[(None | (error name, error message), seconds)]``, one per source; a cell the
    kernel never ran (it died, or a cell ran past ``timeout`` seconds) counts as an error.
    """
    NotebookClient = require("nbclient").NotebookClient
    run = nbformat.v4.new_notebook(metadata=copy.deepcopy(metadata))
    run.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(run, timeout=timeout, allow_errors=True, kernel_name="python3",
                            interrupt_on_timeout=True, record_timing=True,
                            resources={"metadata": {"path": str(cwd)}})
    stopped = None
    try:
        client.execute()
    except Exception as err:  # the kernel died (e.g. os._exit in an answer) or would not start
        stopped = (type(err).__name__, shorten(err, 300))
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
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _stub_names(nb, ex) -> list[str]:
    try:
        return list(defined_functions(parse_cell(nb.cells[ex.index].source)))
    except SyntaxError:
        return []


def _defines(cell, names) -> bool:
    if cell.cell_type != "code":
        return False
    try:
        return bool(set(defined_functions(parse_cell(cell.source))) & set(names))
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
    ran = run_in_kernel(teacher.metadata, sources, cwd, timeout)
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
        outcomes.append(Outcome(student, name, ids[ex.index], ex.label or "", ok, shorten(hint, 400),
                                round(sum(r[1] for _, r in mine), 3), worth if ok else 0.0, worth))
    return outcomes


# --------------------------------------------------------------------------- reports
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
    parse = require("yaml").safe_load if path.suffix.lower() in (".yml", ".yaml") else json.loads
    try:
        data = parse(text)
    except Exception as err:
        raise ClassroomError(f"{path}: not a valid points file ({shorten(err)})") from None
    if not isinstance(data, dict) or not all(isinstance(v, (int, float))
                                             and not isinstance(v, bool) and v >= 0
                                             for v in data.values()):
        raise ClassroomError(f"{path}: expected a mapping of exercise (e.g. \"5.1\") to "
                             f"points >= 0, got {shorten(data)}")
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
