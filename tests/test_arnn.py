"""AttentionRNN, ARNN~ (sampling) and BlockAttentionRNN against the per-pixel reference."""

import pytest
import torch

from arnn_lite import AttentionRNN, BlockAttentionRNN, reference
from arnn_lite.attention import ContextAttention, UNetAttention
from tests.conftest import DEVICES
from tests.helpers import count_steps, receptive_field

SHAPES = [(1, 1), (3, 5), (5, 3), (4, 4), (2, 7)]


def params_and_input(module, x):
    return [x, *(p for p in module.parameters() if p.requires_grad)]


def assert_same_grads(out_a, out_b, inputs):
    g = torch.randn_like(out_a)
    grads_a = torch.autograd.grad(out_a, inputs, g, allow_unused=True)
    grads_b = torch.autograd.grad(out_b, inputs, g, allow_unused=True)
    for a, b in zip(grads_a, grads_b):
        if a is None or b is None:
            assert a is None and b is None
        else:
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("H, W", SHAPES)
@pytest.mark.parametrize("normalization", ["sigmoid", "softmax"])
def test_fast_equals_reference(H, W, normalization):
    arnn = AttentionRNN(3, 4, query_dim=2, normalization=normalization).double()
    x = torch.randn(2, 3, H, W, dtype=torch.float64, requires_grad=True)
    q = torch.randn(2, 2, dtype=torch.float64)
    fast, slow = arnn(x, q), reference.attention_rnn(arnn, x, q)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    assert_same_grads(fast, slow, params_and_input(arnn, x))


@pytest.mark.parametrize("H, W", [(3, 5), (6, 4)])
def test_sampling_equals_reference_with_same_seed(H, W):
    arnn = AttentionRNN(3, 4).double()
    x = torch.randn(2, 3, H, W, dtype=torch.float64, requires_grad=True)
    fast = arnn(x, sample=True, temperature=0.3, generator=torch.Generator().manual_seed(7))
    slow = reference.attention_rnn(arnn, x, sample=True, temperature=0.3,
                                   generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    assert_same_grads(fast, slow, params_and_input(arnn, x))


@pytest.mark.parametrize("block_size", [2, 3])
def test_block_equals_reference(block_size):
    arnn = BlockAttentionRNN(3, 4, block_size=block_size, query_dim=2).double()
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64, requires_grad=True)
    q = torch.randn(2, 2, dtype=torch.float64)
    fast, slow = arnn(x, q), reference.attention_rnn(arnn, x, q)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    assert_same_grads(fast, slow, params_and_input(arnn, x))


@pytest.mark.parametrize("make", [
    lambda: AttentionRNN(3, 4, query_dim=2),
    lambda: BlockAttentionRNN(3, 4, block_size=2, query_dim=2),
    lambda: BlockAttentionRNN(3, 4, block_size=3, query_dim=2),
], ids=["arnn", "block2", "block3"])
def test_teacher_forcing_equals_reference(make):
    arnn = make().double()
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64, requires_grad=True)
    q = torch.randn(2, 2, dtype=torch.float64)
    fed = torch.rand(2, 1, 7, 5, dtype=torch.float64)
    fast = arnn.scan(arnn.context(x, q), teacher=fed)[0]
    slow = reference.teacher_forced_logits(arnn, x, q, fed)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
    assert_same_grads(fast, slow, params_and_input(arnn, x))


@pytest.mark.parametrize("H, W", [(6, 4), (7, 5)])
def test_block_teacher_fed_its_own_block_values_reproduces_its_logits(H, W):
    """BlockAttentionRNN pools a teacher onto its blocks: a mask that is constant on each
    block, at the values the untaught scan fed, gives back the untaught logits."""
    brnn = BlockAttentionRNN(3, 4, block_size=2, query_dim=2).double()
    x, q = torch.randn(2, 3, H, W, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    xc = brnn.context(x, q)
    pooled = torch.nn.functional.avg_pool2d(xc, 2, ceil_mode=True)  # (B, C', ⌈H/2⌉, ⌈W/2⌉)
    _, block_values = AttentionRNN.scan(brnn, pooled)  # what the scan fed, per block
    fed = block_values.repeat_interleave(2, -2).repeat_interleave(2, -1)[..., :H, :W]  # (B, 1, H, W)
    logits, a = brnn.scan(xc, teacher=fed)
    torch.testing.assert_close(logits, brnn.scan(xc)[0], atol=1e-12, rtol=0)
    assert torch.equal(a, fed)


def test_checkpoints_that_name_the_reverse_direction_backward_still_load():
    """Files written before the rename hold ``backward_lstm.*`` keys (every ARNN checkpoint
    under data/results); they load, also nested in a model, with the same outputs."""
    torch.manual_seed(0)
    for make in (lambda: AttentionRNN(3, 4, query_dim=2), lambda: BlockAttentionRNN(3, 4, query_dim=2)):
        old = torch.nn.Sequential(make())
        state = {k.replace("reverse_lstm", "backward_lstm"): v for k, v in old.state_dict().items()}
        assert any(k.startswith("0.backward_lstm.") for k in state)
        new = torch.nn.Sequential(make())
        new.load_state_dict(state)  # strict: every key is used
        assert not any("backward" in k for k in new.state_dict())  # "backward" is autograd's word
        x, q = torch.randn(2, 3, 5, 6), torch.randn(2, 2)
        torch.testing.assert_close(new[0](x, q), old[0](x, q), rtol=0, atol=0)


def test_gradcheck_small():
    arnn = AttentionRNN(2, 3, query_dim=2, context_size=1).double()
    x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    q = torch.randn(1, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: arnn(a, b), (x, q))
    assert torch.autograd.gradcheck(
        lambda a: arnn(a, q.detach(), sample=True, generator=torch.Generator().manual_seed(1)), (x,))


@pytest.mark.parametrize("i, j", [(0, 0), (2, 2), (4, 5), (0, 5), (4, 0)])
def test_every_value_depends_on_every_position_even_with_1x1_context(i, j):
    arnn = AttentionRNN(2, 4, context_size=1, context_channels=8).double()
    x = torch.randn(4, 2, 5, 6, dtype=torch.float64)  # a batch, so no ReLU is dead everywhere
    assert receptive_field(arnn, x, i, j).all()


def test_context_attention_sees_only_k_by_k():
    ctx = ContextAttention(2, context_size=3, context_channels=8).double()
    x = torch.randn(4, 2, 6, 6, dtype=torch.float64)
    field = receptive_field(ctx, x, 2, 3)
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[1:4, 2:5] = True
    assert torch.equal(field, expected)


def test_masks_ranges_and_softmax_sums():
    x, q = torch.randn(3, 4, 5, 6), torch.randn(3, 2)
    sig = AttentionRNN(4, 8, query_dim=2)(x, q)
    assert sig.shape == (3, 1, 5, 6) and (sig > 0).all() and (sig < 1).all()
    soft = AttentionRNN(4, 8, query_dim=2, normalization="softmax")(x, q)
    torch.testing.assert_close(soft.sum(dim=(1, 2, 3)), torch.ones(3))
    sampled = AttentionRNN(4, 8, normalization="softmax")(x, sample=True)
    torch.testing.assert_close(sampled.sum(dim=(1, 2, 3)), torch.ones(3))


def test_query_changes_the_mask():
    arnn = AttentionRNN(4, 8, query_dim=3)
    x = torch.randn(1, 4, 5, 5)
    a = arnn(x, torch.tensor([[1., 0, 0]]))
    b = arnn(x, torch.tensor([[0., 1, 0]]))
    assert not torch.allclose(a, b)


def test_sampling_reproducible_and_varied_and_trainable():
    arnn = AttentionRNN(3, 6)
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    s1 = arnn(x, sample=True, generator=torch.Generator().manual_seed(0))
    s2 = arnn(x, sample=True, generator=torch.Generator().manual_seed(0))
    s3 = arnn(x, sample=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2) and not torch.allclose(s1, s3)
    s1.sum().backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in arnn.parameters())


def test_low_temperature_gives_nearly_hard_masks():
    arnn = AttentionRNN(3, 6)
    x = torch.randn(4, 3, 8, 8)
    s = arnn(x, sample=True, temperature=0.01, generator=torch.Generator().manual_seed(0))
    assert ((s < 0.01) | (s > 0.99)).float().mean() > 0.9


def test_unet_as_context_network():
    unet = UNetAttention(3, depth=2, query_dim=2, base_channels=8)
    arnn = AttentionRNN(3, 4, query_dim=2, context_net=unet)
    assert arnn.reverse_lstm.in_channels == 8
    x, q = torch.randn(2, 3, 9, 7), torch.randn(2, 2)
    out = arnn(x, q)
    out.sum().backward()
    assert out.shape == (2, 1, 9, 7)
    assert unet.unet.down[0][0].weight.grad.abs().sum() > 0


def test_arnn_steps_over_anti_diagonals(monkeypatch):
    calls = count_steps(monkeypatch)
    AttentionRNN(3, 4)(torch.randn(2, 3, 12, 10))
    assert len(calls) == 2 * (12 + 10 - 1)  # backward and forward scans


def test_block_arnn_shapes_and_fewer_steps(monkeypatch):
    calls = count_steps(monkeypatch)
    out = BlockAttentionRNN(3, 4, block_size=4)(torch.randn(2, 3, 12, 10))
    assert out.shape == (2, 1, 12, 10)
    assert calls == [(2, 16, 3)] * (2 * (3 + 3 - 1))  # ⌈12/4⌉ + ⌈10/4⌉ - 1 per direction


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_devices_and_dtypes(device, dtype):
    arnn = AttentionRNN(3, 4, query_dim=2).to(device, dtype)
    x = torch.randn(2, 3, 5, 6, device=device, dtype=dtype, requires_grad=True)
    out = arnn(x, torch.randn(2, 2, device=device, dtype=dtype))
    out.sum().backward()
    assert out.dtype == dtype and torch.isfinite(x.grad).all()


def test_autocast_cpu_bfloat16():
    arnn = AttentionRNN(3, 4)
    x = torch.randn(2, 3, 5, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = arnn(x)
    out.float().sum().backward()
    torch.testing.assert_close(out.float(), arnn(x), atol=5e-2, rtol=0)


BAD = [
    (lambda: AttentionRNN(3, 4)(torch.zeros(1, 3, 4)), "x: expected a 4-d tensor"),
    (lambda: AttentionRNN(3, 4)(torch.zeros(1, 2, 4, 4)), "x: expected 3 channels.*got 2"),
    (lambda: AttentionRNN(3, 4, query_dim=5)(torch.zeros(1, 3, 4, 4)), r"query: expected a tensor of shape \(B, 5\), got None"),
    (lambda: AttentionRNN(3, 4, query_dim=5)(torch.zeros(2, 3, 4, 4), torch.zeros(2, 4)), r"query: expected shape \(2, 5\), got \(2, 4\)"),
    (lambda: AttentionRNN(3, 4)(torch.zeros(1, 3, 4, 4), torch.zeros(1, 2)), "query: this module was built with query_dim=None"),
    (lambda: AttentionRNN(3, 4, normalization="relu"), r"normalization: expected one of \['sigmoid', 'softmax'\], got 'relu'"),
    (lambda: AttentionRNN(3, 0), "hidden_channels: expected a positive integer, got 0"),
    (lambda: AttentionRNN(3, 4, context_size=2), "context_size: expected a positive odd integer"),
    (lambda: AttentionRNN(3, 4, context_size=0), "context_size: expected a positive integer, got 0"),
    (lambda: AttentionRNN(3, 4)(torch.zeros(1, 3, 4, 4), sample=True, temperature=0), "temperature: expected a positive number, got 0"),
    (lambda: BlockAttentionRNN(3, 4, block_size=0), "block_size: expected a positive integer, got 0"),
    (lambda: AttentionRNN(3, 4, context_net=torch.nn.Identity()), "context_channels: expected a positive integer"),
]


@pytest.mark.parametrize("make, match", BAD)
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("half", [torch.bfloat16, torch.float16])
def test_sampling_noise_is_the_same_under_autocast(half):
    """The logistic noise of sample mode is drawn in float32 whatever precision autocast runs
    the context in, so a seed gives the same mask in float32 and in mixed precision (drawn
    in half precision, the uniform draws depend on the torch version and are too coarse for
    the 1e-6 clamp: torch 2.11 gave another mask under bfloat16)."""
    from arnn_lite.arnn import logistic_noise

    like = torch.zeros(2, 1, 5, 7)
    full = logistic_noise(like.shape, like, torch.Generator().manual_seed(3))
    mixed = logistic_noise(like.shape, like.to(half), torch.Generator().manual_seed(3))
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, full, rtol=0, atol=0)
    double = logistic_noise(like.shape, like.double(), torch.Generator().manual_seed(3))
    assert double.dtype == torch.float64  # the float64 reference keeps its precision
