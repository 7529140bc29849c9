"""DiagonalLSTM / DiagonalBiLSTM: reference equivalence, gradients, receptive fields."""

import pytest
import torch

from arnn_lite import DiagonalBiLSTM, DiagonalLSTM, reference
from tests.conftest import DEVICES
from tests.helpers import count_steps, quadrant, receptive_field

SHAPES = [(1, 1), (3, 5), (5, 3), (4, 4), (1, 6), (6, 1)]


@pytest.mark.parametrize("H, W", SHAPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_fast_equals_reference_forward_and_gradients(H, W, reverse):
    lstm = DiagonalLSTM(3, 4, reverse=reverse).double()
    x = torch.randn(2, 3, H, W, dtype=torch.float64, requires_grad=True)
    fast, slow = lstm(x), reference.diagonal_lstm(x, lstm)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    g = torch.randn_like(fast)
    grads_fast = torch.autograd.grad(fast, [x, *lstm.parameters()], g)
    grads_slow = torch.autograd.grad(slow, [x, *lstm.parameters()], g)
    for a, b in zip(grads_fast, grads_slow):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_gradcheck_small():
    lstm = DiagonalLSTM(2, 3).double()
    x = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lstm, (x,))


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("i, j", [(0, 0), (2, 3), (4, 1), (3, 5)])
def test_receptive_field_is_exactly_the_quadrant(reverse, i, j):
    lstm = DiagonalLSTM(2, 5, reverse=reverse).double()
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    field = receptive_field(lstm, x, i, j)
    assert torch.equal(field, quadrant(5, 6, i, j, reverse))


def test_bilstm_concatenates_both_directions():
    bi = DiagonalBiLSTM(3, 4).double()
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    out = bi(x)
    assert out.shape == (2, 8, 4, 5)
    torch.testing.assert_close(out[:, :4], bi.forward_lstm(x))
    torch.testing.assert_close(out[:, 4:], bi.reverse_lstm(x))
    field = receptive_field(bi, x, 1, 2)
    assert torch.equal(field, quadrant(4, 5, 1, 2) | quadrant(4, 5, 1, 2, reverse=True))


def test_bilstm_loads_state_dicts_that_call_the_reverse_direction_backward():
    torch.manual_seed(0)
    old = DiagonalBiLSTM(3, 4)
    state = {k.replace("reverse_lstm", "backward_lstm"): v for k, v in old.state_dict().items()}
    assert any(k.startswith("backward_lstm.") for k in state)
    new = DiagonalBiLSTM(3, 4)
    new.load_state_dict(state)  # strict: every key is used
    assert not any("backward" in k for k in new.state_dict())  # "backward" is autograd's word
    assert [k.split(".")[0] for k, _ in new.named_parameters()] == ["forward_lstm"] * 4 + ["reverse_lstm"] * 4
    x = torch.randn(1, 3, 4, 5)
    torch.testing.assert_close(new(x), old(x), rtol=0, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_devices_and_dtypes(device, dtype):
    lstm = DiagonalLSTM(3, 4).to(device, dtype)
    x = torch.randn(2, 3, 6, 7, device=device, dtype=dtype, requires_grad=True)
    out = lstm(x)
    out.sum().backward()
    assert out.dtype == dtype and out.device.type == device and torch.isfinite(x.grad).all()


def test_autocast_cpu_bfloat16():
    lstm = DiagonalLSTM(3, 4)
    x = torch.randn(2, 3, 5, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = lstm(x)
    out.float().sum().backward()
    assert out.shape == (2, 4, 5, 6) and torch.isfinite(out.float()).all()
    torch.testing.assert_close(out.float(), lstm(x), atol=5e-2, rtol=0)


def test_scan_loops_over_anti_diagonals_not_pixels(monkeypatch):
    calls = count_steps(monkeypatch)
    DiagonalLSTM(2, 3)(torch.randn(1, 2, 7, 9))
    assert calls == [(1, 12, 7)] * (7 + 9 - 1)  # one step per anti-diagonal, all rows at once


@pytest.mark.parametrize("make, match", [
    (lambda: DiagonalLSTM(0, 4), "in_channels: expected a positive integer, got 0"),
    (lambda: DiagonalLSTM(3, -1), "hidden_channels: expected a positive integer, got -1"),
    (lambda: DiagonalLSTM(3, 4)(torch.zeros(2, 5, 4, 4)), "x: expected 3 channels.*got 5 channels"),
    (lambda: DiagonalLSTM(3, 4)(torch.zeros(3, 4, 4)), "x: expected a 4-d tensor.*got 3-d"),
])
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()
