"""The receptive-field oracle of ``arnn_lite.reference``: one implementation, which the
figures and the exercise checkers use (the tests keep their own, ``tests.helpers``)."""

import pytest
import torch

from arnn_lite import DiagonalBiLSTM, DiagonalLSTM, reference
from arnn_lite.book import figures
from arnn_lite.exercises import ch03, ch04
from tests.helpers import quadrant, receptive_field


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("i, j", [(0, 0), (2, 3), (4, 1)])
def test_receptive_field_of_a_diagonal_lstm_is_its_quadrant(reverse, i, j):
    lstm = DiagonalLSTM(2, 3, reverse=reverse).double()
    x = torch.randn(1, 2, 5, 4, dtype=torch.float64)
    field = reference.receptive_field(lstm, x, (i, j))
    assert field.dtype == torch.bool and torch.equal(field, quadrant(5, 4, i, j, reverse))
    torch.testing.assert_close(field, receptive_field(lstm, x, i, j))  # the tests' own oracle


def test_gradient_field_sums_the_chosen_channels_of_batch_element_0():
    bi = DiagonalBiLSTM(2, 3).double()
    x = torch.randn(2, 2, 4, 5, dtype=torch.float64)
    forward = reference.gradient_field(bi, x, (1, 2), slice(0, 3))  # (H, W)
    reverse = reference.gradient_field(bi, x, (1, 2), slice(3, None))
    assert forward.shape == (4, 5) and (forward >= 0).all()
    assert torch.equal(forward > 0, quadrant(4, 5, 1, 2))
    assert torch.equal(reverse > 0, quadrant(4, 5, 1, 2, reverse=True))
    x0 = x[:1].clone().requires_grad_(True)
    bi(x0)[0, 3:, 1, 2].sum().backward()
    torch.testing.assert_close(reverse, x0.grad[0].abs().sum(0), rtol=1e-10, atol=0)


def test_figures_and_checkers_use_the_one_implementation(monkeypatch):
    assert figures.gradient_field is reference.gradient_field
    calls, real = [], reference.receptive_field
    monkeypatch.setattr(reference, "receptive_field",
                        lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    assert torch.equal(ch03.receptive_field_reference(1, 2, 3, 4), quadrant(3, 4, 1, 2))
    assert torch.equal(ch04.field_from_gradients(DiagonalLSTM(1, 2).double(), 3, 4, 1, 2),
                       quadrant(3, 4, 1, 2))
    assert calls == [(1, 2), (1, 2)]
