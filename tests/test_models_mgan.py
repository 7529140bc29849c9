"""ModularGAN modules: shapes, the mask's range and the blend out = g·f + (1 − g)·x,
for the MGAN (3×3 conv, (1 + tanh)/2) and ARNN masks."""

import pytest
import torch

from arnn_lite import AttentionRNN
from arnn_lite.models.mgan import ATTENTIONS, Discriminator, HairClassifier, ModularGenerator, Transformer

SMALL = dict(conv_dim=4, downsample=1, repeat=1, hidden=4)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_generator_shapes_and_mask_range(attention):
    G = ModularGenerator(attention, **SMALL)
    image, c = torch.rand(2, 3, 16, 16) * 2 - 1, torch.eye(3)[[0, 2]]
    out, g, features = G(image, c)
    assert out.shape == (2, 3, 16, 16) and out.abs().max() <= 1
    assert g.shape == (2, 1, 8, 8) and features.shape == (2, 8, 8, 8)
    assert 0 <= g.min() and g.max() <= 1
    assert G.reconstruct(image).shape == (2, 3, 16, 16)
    assert ModularGenerator(attention, conv_dim=4, downsample=2, repeat=0, hidden=4)(image, c)[1].shape == (2, 1, 4, 4)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_output_blends_candidate_and_input_features_by_the_mask(attention):
    T = Transformer(6, 3, repeat=1, attention=attention, hidden=4)
    x, c = torch.randn(2, 6, 5, 7), torch.eye(3)[[1, 0]]
    out, g = T(x, c)
    f = T.main(torch.cat([x, c[:, :, None, None].expand(-1, -1, 5, 7)], 1))  # candidate features
    assert torch.allclose(out, g * f + (1 - g) * x, atol=1e-6)
    if attention == "mgan":
        logit = torch.nn.functional.conv2d(f, T.mask.weight, T.mask.bias, padding=1)  # a 3×3 context
        assert torch.allclose(g, (1 + torch.tanh(logit)) / 2, atol=1e-6)
    else:
        assert isinstance(T.mask, AttentionRNN) and T.mask.context_net.conv.kernel_size == (3, 3)
        assert torch.allclose(g, (1 + torch.tanh(T.mask.logits(f) / 2)) / 2, atol=1e-6)


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_mask_is_trained_through_the_blend(attention):
    G = ModularGenerator(attention, **SMALL)
    out, _, _ = G(torch.rand(2, 3, 16, 16), torch.eye(3)[[0, 1]])
    out.sum().backward()
    grads = [p.grad for p in G.transformer.mask.parameters()]
    assert all(gr is not None for gr in grads) and sum(float(gr.abs().sum()) for gr in grads) > 0


def test_critic_and_classifier_shapes():
    src, cls = Discriminator(32, conv_dim=4, repeat=3)(torch.rand(5, 3, 32, 32))
    assert src.shape == (5, 1, 4, 4) and cls.shape == (5, 3)
    assert HairClassifier(width=4)(torch.rand(5, 3, 32, 32)).shape == (5, 3)


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="attention"):
        ModularGenerator("san", **SMALL)
    T = Transformer(6, 3, repeat=0)
    with pytest.raises(ValueError, match="c: expected shape"):
        T(torch.randn(2, 6, 4, 4), torch.eye(3)[:1])
    with pytest.raises(ValueError, match="x: expected 6 channels"):
        T(torch.randn(2, 5, 4, 4), torch.eye(3)[:2])
    with pytest.raises(ValueError, match="image_size"):
        Discriminator(30, 4, 3)
