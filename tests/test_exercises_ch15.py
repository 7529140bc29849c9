"""Chapter 15's checkers: the solutions pass, the stubs fail, typical mistakes get their hint."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch15


def rows_of_step(t, H, W):
    return max(0, t - W + 1), min(t, H - 1) + 1


def lstm_cell_backward(gates, c_prev, dh, dc, with_dc=True):
    h = c_prev.shape[0]
    o, f, i = torch.sigmoid(gates[:3 * h]).chunk(3)
    g = torch.tanh(gates[3 * h:])
    tc = torch.tanh(f * c_prev + i * g)
    dc = (dc if with_dc else 0) + dh * o * (1 - tc ** 2)
    d_act = torch.cat([dh * tc, dc * c_prev, dc * g, dc * i])
    s = torch.cat([o, f, i])
    return torch.cat([d_act[:3 * h] * s * (1 - s), d_act[3 * h:] * (1 - g ** 2)]), dc * f


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch15.check_rows_of_step(rows_of_step)
    ch15.check_lstm_cell_backward(lstm_cell_backward)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch15.check_rows_of_step, ch15.check_lstm_cell_backward])
def test_stubs_fail_as_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_forgetting_finished_rows_gets_its_hint():
    with pytest.raises(ExerciseError, match="lo is too small"):
        ch15.check_rows_of_step(lambda t, H, W: (0, min(t, H - 1) + 1))


def test_inclusive_end_gets_its_hint():
    with pytest.raises(ExerciseError, match="hi is exclusive"):
        ch15.check_rows_of_step(lambda t, H, W: (max(0, t - W + 1), min(t, H - 1)))


def test_dropping_incoming_cell_gradient_gets_its_hint():
    with pytest.raises(ExerciseError, match="dropped the incoming cell gradient"):
        ch15.check_lstm_cell_backward(lambda g, c, dh, dc: lstm_cell_backward(g, c, dh, dc, with_dc=False))
