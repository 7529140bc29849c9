"""Chapter 05 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch

from arnn_lite.exercises import ExerciseError, ch05


def readout(h_forward, h_reverse, weight, bias):
    h = torch.cat([h_forward, h_reverse], 1)  # (B, 2k, H, W)
    return torch.einsum("bkhw,k->bhw", h, weight)[:, None] + bias


def step(pre, above, left, c_left, weight, bias):
    gates = pre + above @ weight[:, :, 0].T + left @ weight[:, :, 1].T + bias
    o, f, i, g = gates.chunk(4, 1)
    c = torch.sigmoid(f) * c_left + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch05.check_readout(readout)
    ch05.check_lstm_pixel_step(step)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch05.check_readout, ch05.check_lstm_pixel_step])
def test_stub_fails_helpfully(check):
    with pytest.raises(ExerciseError, match="not implemented yet"):
        check(stub)


def test_swapped_directions_caught():
    with pytest.raises(ExerciseError, match="swapped"):
        ch05.check_readout(lambda hf, hb, w, b: readout(hb, hf, w, b))


def test_missing_channel_dim_caught():
    with pytest.raises(ExerciseError, match="shape"):
        ch05.check_readout(lambda hf, hb, w, b: readout(hf, hb, w, b)[:, 0])


def test_swapped_taps_caught():
    with pytest.raises(ExerciseError, match="taps are swapped"):
        ch05.check_lstm_pixel_step(lambda p, a, l, c, w, b: step(p, l, a, c, w, b))


def test_wrong_gate_order_caught():
    def wrong(pre, above, left, c_left, weight, bias):
        gates = pre + above @ weight[:, :, 0].T + left @ weight[:, :, 1].T + bias
        i, f, o, g = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c_left + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    with pytest.raises(ExerciseError, match=r"\[o, f, i, g\]"):
        ch05.check_lstm_pixel_step(wrong)
