"""Compact bilinear pooling against the explicit outer product, and the three VQA models."""

import pytest
import torch

import arnn_lite.models.vqa as vqa
from arnn_lite.arnn import AttentionRNN
from arnn_lite.attention import NoContextAttention
from arnn_lite.models.vqa import (
    CompactBilinearPooling,
    MCBNet,
    compact_bilinear,
    count_sketch,
    explicit_sketched_outer,
    sketch_hashes,
)


def loop_sketch(x, h, s, d):
    """Count sketch of one vector by its definition, one coordinate at a time."""
    out = torch.zeros(d, dtype=x.dtype)
    for i in range(len(x)):
        out[h[i]] += s[i] * x[i]
    return out


def test_count_sketch_matches_its_definition_on_both_paths(monkeypatch):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 30, dtype=torch.float64, generator=g)
    h, s = sketch_hashes(30, 7, g)  # 30 coordinates into 7 buckets: collisions certain
    expected = torch.stack([loop_sketch(row, h, s, 7) for row in x])
    torch.testing.assert_close(count_sketch(x, h, s, 7), expected, rtol=0, atol=1e-12)
    monkeypatch.setattr(vqa, "DENSE_LIMIT", 0)  # the index_add path used for large n·d
    torch.testing.assert_close(count_sketch(x, h, s, 7), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n1,n2,d", [(3, 4, 5), (6, 5, 8), (10, 7, 16), (2, 9, 1)])
def test_fft_product_is_exactly_the_sketch_of_the_outer_product(n1, n2, d):
    g = torch.Generator().manual_seed(n1 * 100 + d)
    x = torch.randn(3, n1, dtype=torch.float64, generator=g)
    y = torch.randn(3, n2, dtype=torch.float64, generator=g)
    hx, sx = sketch_hashes(n1, d, g)
    hy, sy = sketch_hashes(n2, d, g)
    got = compact_bilinear(x, y, hx, sx, hy, sy, d)  # (3, d)
    for b in range(3):  # vec(x ⊗ y) sketched with H(i, j) = h(i) + h(j) mod d, S = s(i) s(j)
        outer = torch.outer(x[b], y[b]).flatten()
        H = ((hx[:, None] + hy[None, :]) % d).flatten()
        S = (sx[:, None] * sy[None, :]).flatten()
        torch.testing.assert_close(got[b], loop_sketch(outer, H, S, d), rtol=0, atol=1e-10)
    torch.testing.assert_close(got, explicit_sketched_outer(x, y, hx, sx, hy, sy, d), rtol=0, atol=1e-10)


def test_leading_dimensions_broadcast_like_a_tiled_question():
    g = torch.Generator().manual_seed(0)
    q, v = torch.randn(2, 6, dtype=torch.float64), torch.randn(2, 3, 4, 5, dtype=torch.float64)
    hq, sq = sketch_hashes(6, 16, g)
    hv, sv = sketch_hashes(5, 16, g)
    got = compact_bilinear(q[:, None, None, :], v, hq, sq, hv, sv, 16)  # (2, 3, 4, 16)
    tiled = q[:, None, None, :].expand(2, 3, 4, 6)
    torch.testing.assert_close(got, explicit_sketched_outer(tiled, v, hq, sq, hv, sv, 16))


def _inner_products(d, draws=1500, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, x2 = torch.randn(2, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    y, y2 = torch.randn(2, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    out = []
    for _ in range(draws):
        hx, sx = sketch_hashes(8, d, g)
        hy, sy = sketch_hashes(5, d, g)
        a = compact_bilinear(x, y, hx, sx, hy, sy, d)
        b = compact_bilinear(x2, y2, hx, sx, hy, sy, d)
        out.append(float(a @ b))
    truth = float((x @ x2) * (y @ y2))  # <x ⊗ y, x' ⊗ y'>
    return torch.tensor(out, dtype=torch.float64), truth


def test_inner_products_are_unbiased_and_sharpen_with_d():
    small, truth = _inner_products(8)
    large, _ = _inner_products(64)
    for sample in (small, large):
        se = sample.std() / len(sample) ** 0.5
        assert abs(sample.mean() - truth) < 4 * se, (float(sample.mean()), truth, float(se))
    assert large.var() < 0.5 * small.var()  # variance ~ 1/d


def test_pooling_module_is_normalised_and_its_hashes_are_fixed_by_the_seed():
    a, b = CompactBilinearPooling(6, 5, 32, seed=3), CompactBilinearPooling(6, 5, 32, seed=3)
    x, y = torch.randn(4, 6), torch.randn(4, 5)
    z = a(x, y)
    torch.testing.assert_close(z, b(x, y))
    torch.testing.assert_close(z.pow(2).mean(-1), torch.ones(4))  # unit RMS after signed sqrt + L2
    assert set(a.state_dict()) == {"h1", "s1", "h2", "s2"} and not list(a.parameters())


def test_count_sketch_rejects_a_mismatched_hash():
    h, s = sketch_hashes(5, 8)
    with pytest.raises(ValueError, match="last dimension 5"):
        count_sketch(torch.randn(2, 6), h, s, 8)


@pytest.mark.parametrize("attention", ["none", "att", "arnn"])
def test_models_give_logits_and_softmax_maps(attention):
    net = MCBNet(attention, vocab_size=30, num_answers=17, d=64, d_att=32, channels=8, hidden=16,
                 att_channels=8, glimpses=2)
    image, question = torch.rand(3, 3, 16, 16), torch.randint(1, 30, (3, 6))
    logits, mask = net(image, question, torch.tensor([6, 3, 1]))
    assert logits.shape == (3, 17)
    if attention == "none":
        assert mask is None
    else:
        assert mask.shape == (3, 2, 4, 4)
        torch.testing.assert_close(mask.sum((2, 3)), torch.ones(3, 2))
    logits.sum().backward()
    assert net.image.net[0].weight.grad.abs().sum() > 0


def test_the_attention_swap_keeps_a_one_by_one_context():
    att, arnn = MCBNet("att", d=32, channels=8), MCBNet("arnn", d=32, channels=8)
    assert isinstance(att.attend[0], NoContextAttention)
    assert isinstance(arnn.attend[0], AttentionRNN)
    assert att.attend[0].context_net.conv.kernel_size == arnn.attend[0].context_net.conv.kernel_size == (1, 1)
    assert att.attend[0].normalization == arnn.attend[0].normalization == "softmax"


def test_question_padding_is_ignored():
    net = MCBNet("att", vocab_size=20, d=32, channels=8, hidden=8).eval()
    image = torch.rand(1, 3, 12, 12)
    q = torch.tensor([[4, 5, 6, 0, 0]])
    other_padding = torch.tensor([[4, 5, 6, 7, 9]])  # same first three words
    a, _ = net(image, q, torch.tensor([3]))
    b, _ = net(image, other_padding, torch.tensor([3]))
    torch.testing.assert_close(a, b)


def test_precomputed_features_and_bad_arguments():
    net = MCBNet("arnn", d=32, channels=8, image_channels=20)
    logits, mask = net(torch.rand(2, 20, 5, 5), torch.randint(1, 40, (2, 4)), torch.tensor([4, 2]))
    assert mask.shape == (2, 1, 5, 5)
    with pytest.raises(ValueError, match="attention"):
        MCBNet("san")
    with pytest.raises(ValueError, match="image"):
        net(torch.rand(20, 5, 5), torch.randint(1, 40, (2, 4)), torch.tensor([4, 2]))
