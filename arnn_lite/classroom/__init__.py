"""The teacher's tools: student edition, class edition, exercise-convention check, grading.

Run as a module (see ``book/teaching.md``)::

    python -m arnn_lite.classroom student chapters/ student/   # write the student edition
    python -m arnn_lite.classroom check chapters/              # validate the convention
    python -m arnn_lite.classroom class-book . _build/class-src   # the class edition's tree
    python -m arnn_lite.classroom grade submissions/ --chapter 05_attention_rnn --out grades/

The modules, by role: :mod:`~.notebooks` (reading notebooks, cell tags), :mod:`~.edition`
(student and class editions), :mod:`~.convention` (the exercise convention and its check),
:mod:`~.grading` (submissions graded in a fresh kernel), :mod:`~.cli` (the command line).
Cells tagged ``slow`` are skipped by the classroom tests (``tests/test_classroom.py``),
never by these tools.

An optional extra, not a dependency of the layer: ``pip install "arnn_lite[classroom]"``
(nbformat, nbclient, ipykernel, PyYAML).
"""

from .cli import build_parser, main
from .convention import Exercise, check_notebook, estimated_minutes, exercise_ids, find_exercises, signature
from .edition import student_notebook, write_class_book, write_student_edition
from .grading import (
    REPORT_FIELDS,
    Outcome,
    exercise_run_plan,
    failure_summary,
    find_answer,
    grade_submission,
    load_points,
    write_reports,
)
from .notebooks import ClassroomError, parse_cell, read_notebook, tags

__all__ = ["ClassroomError", "read_notebook", "tags", "parse_cell",
           "student_notebook", "write_student_edition", "write_class_book",
           "Exercise", "find_exercises", "signature", "check_notebook", "exercise_ids",
           "estimated_minutes", "exercise_run_plan", "find_answer", "Outcome",
           "grade_submission", "REPORT_FIELDS", "write_reports", "failure_summary",
           "load_points", "build_parser", "main"]
