"""Chapter 03 checkers: the solution passes, the stub and plausible mistakes fail helpfully."""

import pytest
import torch
import torch.nn.functional as F

from arnn_lite.exercises import ExerciseError, ch03


def lstm_step(gates, c_prev):
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def lstm_step_ifgo(gates, c_prev):  # PyTorch's nn.LSTM order [i, f, g, o], not ours
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def lstm_step_old_c(gates, c_prev):  # h from the previous cell state
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_prev), c


def stub(*args, **kwargs):
    ...
    raise NotImplementedError


def taps(h_prev, weight, bias):
    above = F.pad(h_prev, (1, 0))[..., :-1]
    return (torch.einsum("ok,bkh->boh", weight[..., 0], above)
            + torch.einsum("ok,bkh->boh", weight[..., 1], h_prev) + bias.view(1, -1, 1))


def taps_swapped(h_prev, weight, bias):
    return taps(h_prev, weight.flip(-1), bias)


def taps_no_bias(h_prev, weight, bias):
    return taps(h_prev, weight, bias) - bias.view(1, -1, 1)


def receptive_field(i, j, height, width, reverse=False):
    rows, cols = torch.arange(height).view(-1, 1), torch.arange(width).view(1, -1)
    return ((rows >= i) & (cols >= j)) if reverse else ((rows <= i) & (cols <= j))


def receptive_field_strict(i, j, height, width, reverse=False):  # forgets the pixel's own row
    rows, cols = torch.arange(height).view(-1, 1), torch.arange(width).view(1, -1)
    return ((rows > i) & (cols >= j)) if reverse else ((rows < i) & (cols <= j))


def receptive_field_forward_only(i, j, height, width, reverse=False):  # ignores reverse
    return receptive_field(i, j, height, width)


def test_lstm_step(capsys):
    ch03.check_lstm_step(lstm_step)
    assert "Correct!" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch03.check_lstm_step(stub)
    with pytest.raises(ExerciseError, match=r"\[o, f, i, g\]"):
        ch03.check_lstm_step(lstm_step_ifgo)
    with pytest.raises(ExerciseError, match="NEW c"):
        ch03.check_lstm_step(lstm_step_old_c)
    with pytest.raises(ExerciseError, match="pair"):
        ch03.check_lstm_step(lambda gates, c_prev: gates)


def test_state_to_state_by_hand(capsys):
    ch03.check_state_to_state_by_hand(taps)
    assert "Correct!" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch03.check_state_to_state_by_hand(stub)
    with pytest.raises(ExerciseError, match="swapped"):
        ch03.check_state_to_state_by_hand(taps_swapped)
    with pytest.raises(ExerciseError, match="wrong value"):
        ch03.check_state_to_state_by_hand(taps_no_bias)


def test_receptive_field(capsys):
    ch03.check_receptive_field(receptive_field)
    assert "Correct!" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch03.check_receptive_field(stub)
    with pytest.raises(ExerciseError, match="should be in the receptive field"):
        ch03.check_receptive_field(receptive_field_strict)
    with pytest.raises(ExerciseError, match="reverse=True"):
        ch03.check_receptive_field(receptive_field_forward_only)
    with pytest.raises(ExerciseError, match="expected shape"):
        ch03.check_receptive_field(lambda i, j, height, width, reverse=False: torch.ones(2, 2))


def test_references_agree_with_formula():
    for reverse in (False, True):
        assert torch.equal(ch03.receptive_field_reference(1, 2, 3, 4, reverse),
                           receptive_field(1, 2, 3, 4, reverse))
