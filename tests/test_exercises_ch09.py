"""Chapter 09 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch
import torch.nn.functional as F

from arnn_lite.exercises import ExerciseError, ch09
from arnn_lite.experiments.mbg import mass_in_box


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch09.check_accuracy_by_scale(ch09.accuracy_by_scale_reference)
    ch09.check_mass_in_box(mass_in_box)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch09.check_accuracy_by_scale, ch09.check_mass_in_box])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_last_bin_edge_mistake_is_explained():
    def open_last_bin(correct, scales):
        out = []
        for k in range(5):
            hits = [float(c) for c, s in zip(correct, scales) if 0.5 + 0.5 * k <= float(s) < 1.0 + 0.5 * k]
            out.append(sum(hits) / len(hits) if hits else None)
        return out
    with pytest.raises(ExerciseError, match="exactly 3.0 belongs to the last bin"):
        ch09.check_accuracy_by_scale(open_last_bin)


def test_nearest_upsampling_mistake_is_explained():
    def nearest(mask, box, canvas):
        up = F.interpolate(mask, size=(canvas, canvas), mode="nearest")[:, 0]
        inside = torch.zeros_like(up)
        for b, (x0, y0, x1, y1) in enumerate(box.tolist()):
            inside[b, y0:y1, x0:x1] = 1
        return (up * inside).sum((1, 2)) / up.sum((1, 2))
    with pytest.raises(ExerciseError, match="bilinearly"):
        ch09.check_mass_in_box(nearest)
