"""Chapter 08 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest

from arnn_lite.exercises import ExerciseError, ch08


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch08.check_boxes_overlap(ch08.boxes_overlap_reference)
    ch08.check_alpha_blend(lambda region, ink, colour: ink * colour[:, None, None] + (1 - ink) * region)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch08.check_boxes_overlap, ch08.check_alpha_blend])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_inclusive_ends_mistake_is_explained():
    def inclusive(a, b):
        return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
    with pytest.raises(ExerciseError, match="only touch along an edge"):
        ch08.check_boxes_overlap(inclusive)


def test_unbroadcast_colour_is_explained():
    with pytest.raises(ExerciseError, match="broadcast"):
        ch08.check_alpha_blend(lambda region, ink, colour: ink * colour.mean() + (1 - ink) * region)
