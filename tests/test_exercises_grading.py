"""What grading relies on in the checkers: hidden cases and refusing the package's own code."""

import pytest
import torch

import arnn_lite
from arnn_lite import exercises
from arnn_lite.exercises import ExerciseError, ch02, ch06, ch07, ch11


def unskew_loop(y, width):
    return torch.stack([y[:, :, i, i:i + width] for i in range(y.shape[2])], dim=2)


def test_package_unskew_is_refused_under_any_name():
    from arnn_lite.ops import unskew as renamed
    for answer in (lambda y, width: arnn_lite.unskew(y, width),
                   lambda y, width: renamed(y, width)):
        with pytest.raises(ExerciseError, match=r"package's own implementation .*unskew"):
            ch02.check_unskew_loop(answer)
    ch02.check_unskew_loop(unskew_loop)  # the real answer still passes


def test_checker_references_are_refused():
    with pytest.raises(ExerciseError, match="column_pixels_reference"):
        ch02.check_column_pixels(lambda t, h, w: ch02.column_pixels_reference(t, h, w))


def test_other_package_functions_are_refused():
    from arnn_lite.arnn import relaxed_bernoulli
    from arnn_lite.models.mbg import map_sizes
    with pytest.raises(ExerciseError, match="relaxed_bernoulli"):
        ch06.check_relaxed_bernoulli(lambda logits, n, t: relaxed_bernoulli(logits, n, t))
    with pytest.raises(ExerciseError, match="map_sizes"):
        ch11.check_map_sizes(lambda canvas, stacks: map_sizes(canvas, stacks))


def test_profile_hook_is_restored():
    before = __import__("sys").getprofile()
    ch02.check_unskew_loop(unskew_loop)
    assert __import__("sys").getprofile() is before


def test_hidden_cases_catch_an_answer_fitted_to_the_visible_ones():
    visible = {(H, W, d): (-(-H // d), -(-W // d)) for H, W, d in ch07._CASES}
    def memorised(H, W, block_size):  # right on every visible case, wrong elsewhere
        return visible.get((H, W, block_size), (1, 1))
    ch07.check_pooled_grid(memorised)  # the visible check is fooled...
    with exercises.hidden(seed=123), pytest.raises(ExerciseError):
        ch07.check_pooled_grid(memorised)  # ...the hidden one is not


def test_hidden_changes_random_inputs_and_is_restored():
    visible = exercises.rng(5).seed()
    with exercises.hidden(seed=1):
        assert exercises.is_hidden() and exercises.rng(5).seed() != visible
        assert len(exercises.cases([1], [2])) == 2
    assert not exercises.is_hidden() and exercises.cases([1], [2]) == [1]
    with pytest.raises(ValueError, match="seed"):
        with exercises.hidden(seed="x"):
            pass


@pytest.mark.parametrize("seed", [0, 7])
def test_right_answers_pass_the_hidden_cases(seed):
    with exercises.hidden(seed=seed):
        ch02.check_unskew_loop(unskew_loop)
        ch02.check_column_pixels(lambda t, h, w: [(i, t - i) for i in range(h) if 0 <= t - i < w])


# ------------------------------------------------------------------ every chapter's solutions
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402

from arnn_lite import classroom  # noqa: E402
from arnn_lite.classroom.grading import imports_only, is_light  # noqa: E402

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))


def _context(nb, first, last=0, namespace=None):
    """What the chapter defines in ``nb.cells[last:first]`` (before an exercise, after the
    previous one's check): imports and definitions only, as grading runs them."""
    namespace = {} if namespace is None else namespace
    for cell in nb.cells[last:first]:
        if cell.cell_type == "code" and not classroom.tags(cell) & {"solution", "check"}:
            source = cell.source if is_light(cell) else imports_only(cell)
            exec(compile(classroom.parse_cell(source), "<chapter>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_teacher_solutions_pass_visible_and_hidden_cases(path, capsys):
    nb = nbformat.read(path, as_version=4)
    found = classroom.find_exercises(nb)
    namespace = _context(nb, found[0].index)
    for previous, ex in zip([None, *found], found):
        if previous is not None:  # e.g. the code a debugging exercise hands out
            _context(nb, ex.index, previous.check + 1, namespace)
        exec(imports_only(nb.cells[ex.index]), namespace)
        exec(compile(classroom.parse_cell(ex.solution_code(nb)), ex.label, "exec"), namespace)
        exec(nb.cells[ex.check].source, namespace)
        for seed in (11, 12345):
            with exercises.hidden(seed=seed):
                exec(nb.cells[ex.check].source, namespace)
    assert capsys.readouterr().out.count("Correct!") == 3 * len(found)
