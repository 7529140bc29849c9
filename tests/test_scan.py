"""The fused diagonal scan (hand-written backward) against the step-by-step autograd path."""

import pytest
import torch

from arnn_lite import AttentionRNN, BlockAttentionRNN, DiagonalLSTM, skew
from arnn_lite.scan import (
    Feedback,
    diagonal_scan,
    from_scan_order,
    fused_enabled,
    scan_indices,
    to_scan_order,
    use_fused,
)
from tests.conftest import DEVICES

SHAPES = [(1, 1), (1, 6), (6, 1), (3, 5), (5, 3), (7, 7)]


def both_paths(module, *args, **kwargs):
    """Outputs and gradients (w.r.t. every input and parameter) on both paths."""
    results = []
    for fused in (True, False):
        module.zero_grad()
        xs = [a.detach().clone().requires_grad_(a.is_floating_point()) for a in args]
        with use_fused(fused):
            out = module(*xs, **kwargs)
        torch.manual_seed(3)
        out.backward(torch.randn_like(out))
        grads = [x.grad for x in xs if x.requires_grad] + [p.grad.clone() for p in module.parameters()]
        results.append((out.detach(), grads))
    return results


def assert_paths_agree(module, *args, **kwargs):
    (out_f, grads_f), (out_a, grads_a) = both_paths(module, *args, **kwargs)
    torch.testing.assert_close(out_f, out_a, atol=1e-10, rtol=0)
    for gf, ga in zip(grads_f, grads_a):
        torch.testing.assert_close(gf, ga, atol=1e-10, rtol=0)


@pytest.mark.parametrize("H, W", SHAPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_fused_equals_autograd(H, W, reverse):
    lstm = DiagonalLSTM(3, 4, reverse=reverse).double()
    assert_paths_agree(lstm, torch.randn(2, 3, H, W, dtype=torch.float64))


@pytest.mark.parametrize("H, W", SHAPES)
@pytest.mark.parametrize("normalization", ["sigmoid", "softmax"])
def test_arnn_fused_equals_autograd(H, W, normalization):
    arnn = AttentionRNN(3, 4, query_dim=2, normalization=normalization).double()
    x, q = torch.randn(2, 3, H, W, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    assert_paths_agree(arnn, x, q)


@pytest.mark.parametrize("H, W", [(4, 6), (6, 4)])
def test_sampling_fused_equals_autograd(H, W):
    arnn = AttentionRNN(3, 4).double()
    x = torch.randn(2, 3, H, W, dtype=torch.float64)
    (out_f, g_f), (out_a, g_a) = both_paths_sampling(arnn, x)  # same seed on both paths
    torch.testing.assert_close(out_f, out_a, atol=1e-10, rtol=0)
    for a, b in zip(g_f, g_a):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def both_paths_sampling(arnn, x):
    out = []
    for fused in (True, False):
        arnn.zero_grad()
        xs = x.clone().requires_grad_(True)
        with use_fused(fused):
            y = arnn(xs, sample=True, temperature=0.4, generator=torch.Generator().manual_seed(5))
        y.backward(torch.ones_like(y))
        out.append((y.detach(), [xs.grad] + [p.grad.clone() for p in arnn.parameters()]))
    return out


@pytest.mark.parametrize("make", [lambda: AttentionRNN(3, 4),
                                  lambda: BlockAttentionRNN(3, 4, block_size=2)], ids=["arnn", "block"])
def test_teacher_forcing_fused_equals_autograd(make):
    arnn = make().double()
    xc = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    teacher = (torch.rand(2, 1, 5, 6) > 0.5).double()
    results = []
    for fused in (True, False):
        arnn.zero_grad()
        with use_fused(fused):
            logits, fed = arnn.scan(xc, teacher=teacher)
        logits.pow(2).sum().backward()
        assert torch.equal(fed, teacher)
        results.append((logits.detach(), [p.grad.clone() for p in arnn.parameters() if p.grad is not None]))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-10, rtol=0)
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


def test_block_arnn_fused_equals_autograd():
    brnn = BlockAttentionRNN(3, 4, block_size=2, query_dim=2).double()
    assert_paths_agree(brnn, torch.randn(2, 3, 9, 7, dtype=torch.float64),
                       torch.randn(2, 2, dtype=torch.float64))


def test_gradcheck_diagonal_scan_with_feedback():
    torch.manual_seed(0)
    T, H, B, C, h = 6, 4, 2, 3, 3
    f64 = dict(dtype=torch.float64, requires_grad=True)
    X = torch.randn(T, H, B, C, **f64)
    w_in, w = torch.randn(4 * h, C, **f64), torch.randn(4 * h, 2 * (h + 1), **f64)
    bias, w_f, lb = torch.randn(4 * h, **f64), torch.randn(1, h, **f64), torch.randn(T, H, B, 1, **f64)
    noise = torch.randn(T, H, B, 1, dtype=torch.float64)
    for kind, given in [("deterministic", None), ("sample", noise), ("teacher", noise.sigmoid())]:
        def fn(X, w_in, w, bias, w_f, lb):
            return diagonal_scan(X, w_in, w, bias, Feedback(w_f, lb, given, kind, temperature=0.7))
        assert torch.autograd.gradcheck(fn, (X, w_in, w, bias, w_f, lb))


@pytest.mark.parametrize("make, match", [
    (lambda w, o: Feedback(w, o, kind="mode"),
     r"kind: expected one of \['deterministic', 'sample', 'teacher'\], got 'mode'"),
    (lambda w, o: Feedback(w, o, kind="teacher"),
     "given: expected a tensor shaped like offset for kind='teacher', got NoneType"),
    (lambda w, o: Feedback(w, o, o, "deterministic"),
     "given: expected None for kind='deterministic', got Tensor"),
    (lambda w, o: Feedback(w, o, o, "sample", temperature=0),
     "temperature: expected a positive number, got 0"),
    (lambda w, o: DiagonalLSTM(3, 4).fused(torch.zeros(1, 3, 2, 2), Feedback(w, o)),
     "feedback: the fused scan feeds back one channel .* feedback_channels=0; got Feedback"),
    (lambda w, o: DiagonalLSTM(3, 4, feedback_channels=1).fused(torch.zeros(1, 3, 2, 2)),
     "feedback: .* feedback_channels=1; got NoneType"),
])
def test_bad_feedback(make, match):
    with pytest.raises(ValueError, match=match):
        make(torch.zeros(1, 4), torch.zeros(1, 1, 2, 2))


def test_scan_order_round_trip_and_flip():
    x = torch.randn(2, 3, 4, 6)
    for reverse in (False, True):
        to_scan, from_scan = scan_indices(4, 6, reverse, x.device)
        y = to_scan_order(x, to_scan)  # (T, H, B, C)
        assert y.shape == (9, 4, 2, 3)
        torch.testing.assert_close(from_scan_order(y, from_scan, 6), x)
    # forward order: step t, row r holds pixel (r, t - r), as the skew of chapter 02
    to_scan, _ = scan_indices(4, 6, False, x.device)
    skewed = skew(x).permute(3, 2, 0, 1)  # (T, H, B, C)
    torch.testing.assert_close(to_scan_order(x, to_scan), skewed)


def test_switch_restores_and_default_is_fused():
    assert fused_enabled()
    with use_fused(False):
        assert not fused_enabled()
    assert fused_enabled()


@pytest.mark.parametrize("device", DEVICES)
def test_fused_float32_close_to_float64(device):
    torch.manual_seed(0)
    arnn = AttentionRNN(4, 8, query_dim=3).double().to(device)
    x, q = torch.randn(3, 4, 11, 9, device=device).double(), torch.randn(3, 3, device=device).double()
    ref = arnn(x, q)
    out = arnn.float()(x.float(), q.float())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=0)
