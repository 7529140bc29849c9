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


# ------------------------------------------------------------------ 3.4, the planted bug
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from arnn_lite import DiagonalLSTM, skew, unskew
from arnn_lite.book import figures  # noqa: E402

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "03_diagonal_lstm.ipynb"


def chapter_source(cid):
    return next("".join(c["source"]) for c in json.loads(CHAPTER.read_text())["cells"] if c["id"] == cid)


def chapter_cells(*ids):
    """Run the chapter cells with these ids in one namespace (the chapter's imports given)."""
    namespace = {"torch": torch, "F": F, "skew": skew, "unskew": unskew, "figures": figures,
                 "DiagonalLSTM": DiagonalLSTM}
    for cid in ids:
        exec(chapter_source(cid), namespace)
    return namespace


BUGGY, SOLUTION = "d3b0a4e2", "d3b0a4e5"


def test_the_chapters_planted_bug_is_the_checkers_and_shows_in_the_receptive_field():
    buggy = chapter_cells(BUGGY)["buggy_scan"]
    torch.manual_seed(0)
    lstm, x = DiagonalLSTM(2, 3).double(), torch.randn(2, 2, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(buggy(lstm, x), ch03.planted_bug_scan(lstm, x), rtol=0, atol=0)
    seen = figures.gradient_field(lambda inp: buggy(lstm, inp), x, (2, 3)) > 0  # (H, W)
    assert seen[3:].any() and not seen[:2].any()  # it sees rows below, none above


def test_fixed_scan(capsys):
    namespace = chapter_cells(BUGGY, SOLUTION)  # the teacher edition's model solution
    assert "sees input rows [0, 1, 2]" in capsys.readouterr().out
    ch03.check_fixed_scan(namespace["fixed_scan"])
    assert "Correct!" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not implemented yet"):
        ch03.check_fixed_scan(stub)


@pytest.mark.parametrize("call", [lambda lstm, x: lstm(x),
                                  lambda lstm, x: unskew(lstm.scan(skew(lstm.input_to_state(x))), x.shape[-1])])
def test_fixed_scan_refuses_the_package_scan(call):
    with pytest.raises(ExerciseError, match="package's own implementation .*DiagonalLSTM"):
        ch03.check_fixed_scan(call)


def test_fixed_scan_explains_the_unfixed_and_the_half_fixed_scan():
    source = chapter_source(BUGGY)
    namespace = chapter_cells(BUGGY)
    with pytest.raises(ExerciseError, match="reaches rows BELOW the output"):
        ch03.check_fixed_scan(namespace["buggy_scan"])  # handed in unfixed (a copy, not the checker's)
    swapped = source.replace("def buggy_scan", "def swapped").replace(
        "F.pad(h, (0, 1))[..., 1:]", "F.pad(h, (1, 0))[..., :-1]").replace(
        "w_above, w_left =", "w_left, w_above =")  # right rows, taps exchanged
    exec(swapped, namespace)
    with pytest.raises(ExerciseError, match="receptive fields are right, the values are not"):
        ch03.check_fixed_scan(namespace["swapped"])
