"""The teacher's command line: ``python -m arnn_lite.classroom student|check|class-book|grade``.

Each command parses its arguments and calls the module that does the work; an input or
output the tools refuse ends in one line naming it (``error: ...``) and exit status 2.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

from .. import _repo
from .convention import check_notebook, find_exercises
from .edition import write_class_book, write_student_edition
from .grading import failure_summary, grade_submission, load_points, student_id, write_reports
from .notebooks import ClassroomError, notebook_paths, read_notebook


def _cmd_student(args) -> int:
    written = write_student_edition(args.src, args.out, args.student_dir, args.repo_url)
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_check(args) -> int:
    status, total = 0, 0
    paths = notebook_paths(args.src)
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
    """The ``chapters/`` folder of the checkout this package runs from, if any."""
    root = _repo.checkout()
    return root / "chapters" if root and (root / "chapters").is_dir() else None


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


def _cmd_grade(args) -> int:
    paths = [path for arg in args.notebooks for path in notebook_paths(arg)]
    submissions = [read_notebook(path) for path in paths]  # every input read first
    teacher_dir = args.teacher or _default_teacher()
    if teacher_dir is None:
        raise ClassroomError("no teacher edition found: pass --teacher chapters/")
    teachers = {p.name: p for p in notebook_paths(teacher_dir)}
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
                         help=f"GitHub URL of the repository (default: {_repo.REPOSITORY_URL})")
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
                      help=f"GitHub URL of the repository (default: {_repo.REPOSITORY_URL})")
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
