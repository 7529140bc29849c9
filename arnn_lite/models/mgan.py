"""ModularGAN (Zhao et al., 2018) for hair-colour transfer, with MGAN or ARNN masks.

Used in chapter 14 (``chapters/14_mgan_hair_colour.ipynb``).

ModularGAN splits the generator into modules: an **encoder** ``E`` (image -> features),
a **transformer** ``T`` (features and a target attribute -> new features) and a
**reconstructor** ``R`` (features -> image). The transformer computes candidate
features ``f`` and a mask ``g`` and only changes the features where the mask is on::

    f = main([x; c])                  # c: target one-hot broadcast over space
    g = (1 + tanh(ℓ)) / 2             # ℓ: one logit per position
    out = g * f + (1 - g) * x

**MGAN**: ``ℓ`` comes from a 3×3 convolution over ``f`` (the supplement says the MGAN
transformer computes its attention with a 3×3 local context). **MGAN+ARNN**: ``ℓ`` comes
from :class:`~arnn_lite.AttentionRNN` with a 3×3 context over ``f``; its sigmoid mask is
the same form, since ``σ(z) = (1 + tanh(z / 2)) / 2``. Encoder and reconstructor are the
same in both (supplement §2.4). The discriminator is StarGAN's PatchGAN critic with an
attribute classifier head. Layer sizes are arguments: the book protocol uses tiny ones.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .._checks import check_choice, check_features, check_nonnegative, check_positive, check_rank
from .zoo import make_attention

__all__ = ["ATTENTIONS", "ResidualBlock", "Encoder", "Transformer", "Reconstructor",
           "Discriminator", "ModularGenerator", "HairClassifier"]

ATTENTIONS = ("mgan", "arnn")  # names of arnn_lite.models.zoo
NORMS = ("instance", "none")


def _norm(channels, norm):
    """ModularGAN's instance norm (affine), or nothing (the book's tiny CPU networks)."""
    check_choice(norm, NORMS, "norm")
    return nn.InstanceNorm2d(channels, affine=True) if norm == "instance" else nn.Identity()


def _conv_in_relu(cin, cout, kernel, stride=1, transpose=False, norm="instance"):
    """Convolution (or transposed), instance norm, ReLU: ModularGAN's basic layer."""
    conv = nn.ConvTranspose2d if transpose else nn.Conv2d
    return [conv(cin, cout, kernel, stride, padding=(kernel - stride + 1) // 2, bias=norm == "none"),
            _norm(cout, norm), nn.ReLU()]


class ResidualBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``: ``(B, C, H, W) -> (B, C, H, W)``."""

    def __init__(self, channels: int, norm: str = "instance"):
        super().__init__()
        check_positive(channels, "channels")
        self.channels = channels
        self.main = nn.Sequential(*_conv_in_relu(channels, channels, 3, norm=norm),
                                  nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
                                  _norm(channels, norm))

    def forward(self, x):
        check_features(x, self.channels, "x")
        return x + self.main(x)


class Encoder(nn.Module):
    """``E``: image ``(B, 3, S, S)`` in [-1, 1] -> features ``(B, C·2^n, S/2^n, S/2^n)``.

    Args:
        conv_dim: channels of the first 7×7 convolution; each of the ``downsample``
            stride-2 4×4 convolutions doubles them.
    """

    def __init__(self, conv_dim: int = 64, downsample: int = 2, repeat: int = 0, norm: str = "instance"):
        super().__init__()
        check_positive(conv_dim, "conv_dim")
        check_nonnegative(downsample, "downsample")
        check_nonnegative(repeat, "repeat")
        layers = _conv_in_relu(3, conv_dim, 7, norm=norm)
        for _ in range(downsample):
            layers += _conv_in_relu(conv_dim, 2 * conv_dim, 4, 2, norm=norm)
            conv_dim *= 2
        layers += [ResidualBlock(conv_dim, norm) for _ in range(repeat)]
        self.main, self.out_channels = nn.Sequential(*layers), conv_dim

    def forward(self, image):
        check_features(image, 3, "image")
        return self.main(image)


class Transformer(nn.Module):
    """``T``: features ``(B, C, h, w)`` and target ``c`` ``(B, K)`` -> ``(out, g)``, both
    of shape ``(B, C, h, w)`` and ``(B, 1, h, w)``, with ``out = g·f + (1 − g)·x``.

    Args:
        channels: ``C``; num_attributes: ``K``; repeat: residual blocks after the first conv.
        attention: ``"mgan"`` (3×3 conv logit, ``g = (1 + tanh)/2``) or ``"arnn"``
            (AttentionRNN, 3×3 context, ``hidden`` channels per direction).
    """

    def __init__(self, channels: int, num_attributes: int = 3, repeat: int = 6,
                 attention: str = "mgan", hidden: int = 16, norm: str = "instance"):
        super().__init__()
        check_choice(attention, ATTENTIONS, "attention")
        check_choice(norm, NORMS, "norm")
        check_positive(channels, "channels")
        check_positive(num_attributes, "num_attributes")
        check_nonnegative(repeat, "repeat")
        check_positive(hidden, "hidden")
        self.channels, self.num_attributes, self.attention = channels, num_attributes, attention
        self.main = nn.Sequential(*_conv_in_relu(channels + num_attributes, channels, 3, norm=norm),
                                  *[ResidualBlock(channels, norm) for _ in range(repeat)])
        self.mask = make_attention(attention, channels, hidden=hidden, context_size=3)

    def gate(self, f):
        """The mask ``g`` in [0, 1], ``(B, 1, h, w)``, from the candidate features ``f``:
        ``(1 + tanh ℓ) / 2`` (mgan) or ``σ(ℓ) = (1 + tanh(ℓ/2)) / 2`` (arnn)."""
        return self.mask(f)

    def forward(self, x, c):
        check_features(x, self.channels, "x")
        check_rank(c, 2, "c", f"(B, {self.num_attributes})")
        if c.shape != (x.shape[0], self.num_attributes):
            raise ValueError(f"c: expected shape ({x.shape[0]}, {self.num_attributes}), "
                             f"got {tuple(c.shape)}")
        c_map = c[:, :, None, None].expand(-1, -1, *x.shape[-2:])  # (B, K, h, w)
        f = self.main(torch.cat([x, c_map.to(x.dtype)], 1))  # (B, C, h, w)
        g = self.gate(f)  # (B, 1, h, w)
        return g * f + (1 - g) * x, g


class Reconstructor(nn.Module):
    """``R``: features ``(B, C, h, w)`` -> image ``(B, 3, h·2^n, w·2^n)`` in [-1, 1]."""

    def __init__(self, channels: int = 256, upsample: int = 2, norm: str = "instance"):
        super().__init__()
        check_positive(channels, "channels")
        check_nonnegative(upsample, "upsample")
        if channels % 2 ** upsample:  # each upsampling halves the channels
            raise ValueError(f"channels: expected a multiple of 2**upsample = {2 ** upsample}, "
                             f"got {channels}")
        self.channels, layers = channels, []
        for _ in range(upsample):
            layers += _conv_in_relu(channels, channels // 2, 4, 2, transpose=True, norm=norm)
            channels //= 2
        layers += [nn.Conv2d(channels, 3, 7, padding=3), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, features):
        check_features(features, self.channels, "features")
        return self.main(features)


class ModularGenerator(nn.Module):
    """Encoder, hair-colour transformer and reconstructor (the part we ship).

    Args:
        attention: ``"mgan"`` or ``"arnn"``; conv_dim, downsample: encoder size;
        repeat: transformer residual blocks; hidden: ARNN hidden channels;
        norm: ``"instance"`` (ModularGAN) or ``"none"``.
    """

    def __init__(self, attention: str = "mgan", conv_dim: int = 64, downsample: int = 2,
                 repeat: int = 6, hidden: int = 16, num_attributes: int = 3, norm: str = "instance"):
        super().__init__()
        check_choice(norm, NORMS, "norm")
        self.encoder = Encoder(conv_dim, downsample, norm=norm)
        self.downsample = downsample
        channels = self.encoder.out_channels
        self.transformer = Transformer(channels, num_attributes, repeat, attention, hidden, norm)
        self.reconstructor = Reconstructor(channels, downsample, norm)

    def forward(self, image, c):
        """Translate ``image`` ``(B, 3, S, S)`` in [-1, 1] to attribute ``c`` ``(B, K)``.
        Returns ``(translated (B, 3, S, S), mask g (B, 1, h, w), transformed features)``."""
        self.check_image(image)
        features, g = self.transformer(self.encoder(image), c)
        return self.reconstructor(features), g, features

    def check_image(self, image):
        """``(B, 3, H, W)`` float with ``H, W`` multiples of ``2**downsample``: the
        reconstructor then gives back an image of the input's size."""
        check_features(image, 3, "image")
        step = 2 ** self.downsample
        if image.shape[-2] % step or image.shape[-1] % step:
            raise ValueError(f"image: expected height and width divisible by 2**downsample = "
                             f"{step}, got shape {tuple(image.shape)}")

    def reconstruct(self, image):
        """``R(E(image))``: the autoencoding path, no transformer."""
        self.check_image(image)
        return self.reconstructor(self.encoder(image))


class Discriminator(nn.Module):
    """PatchGAN critic with an attribute head (StarGAN/ModularGAN):
    ``(B, 3, S, S)`` -> ``(critic scores (B, 1, S/2^n, S/2^n), attribute logits (B, K))``."""

    def __init__(self, image_size: int = 128, conv_dim: int = 64, repeat: int = 6,
                 num_attributes: int = 3):
        super().__init__()
        check_positive(image_size, "image_size")
        check_positive(conv_dim, "conv_dim")
        check_nonnegative(repeat, "repeat")
        check_positive(num_attributes, "num_attributes")
        if image_size % 2 ** repeat:
            raise ValueError(f"image_size: expected a multiple of 2**repeat = {2 ** repeat}, "
                             f"got {image_size}")
        layers, channels = [], 3
        for k in range(repeat):
            out = conv_dim * 2 ** k
            layers += [nn.Conv2d(channels, out, 4, 2, 1), nn.LeakyReLU(0.01)]
            channels = out
        self.main = nn.Sequential(*layers)
        self.src = nn.Conv2d(channels, 1, 3, padding=1, bias=False)
        self.cls = nn.Conv2d(channels, num_attributes, image_size // 2 ** repeat, bias=False)
        self.image_size = image_size

    def forward(self, image):
        check_features(image, 3, "image")
        S = self.image_size  # the attribute head's kernel covers exactly the S/2^n map
        if image.shape[-2:] != (S, S):
            raise ValueError(f"image: expected shape (B, 3, {S}, {S}) (image_size={S}), "
                             f"got {tuple(image.shape)}")
        h = self.main(image)  # (B, C, s, s)
        return self.src(h), self.cls(h).flatten(1)


class HairClassifier(nn.Module):
    """An independent hair-colour judge for translated images: ``(B, 3, S, S)`` in
    [0, 1] -> logits ``(B, 3)``. Trained on real faces only, never with the GAN."""

    def __init__(self, width: int = 16):
        super().__init__()
        check_positive(width, "width")
        layers, channels = [], 3
        for k in range(3):
            layers += [nn.Conv2d(channels, width * 2 ** min(k, 1), 3, padding=1),
                       nn.BatchNorm2d(width * 2 ** min(k, 1)), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width * 2 ** min(k, 1)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 3)

    def forward(self, image):
        check_features(image, 3, "image", 8, "three 2×2 max-pools")
        return self.head(self.features(image).mean((2, 3)))


def gradient_penalty(critic, real, fake, alpha) -> torch.Tensor:
    """WGAN-GP: ``mean((‖∇_x̂ critic(x̂)‖₂ − 1)²)`` at ``x̂ = α·real + (1 − α)·fake``, the
    norm taken per image over all its pixels. ``alpha`` ``(B, 1, 1, 1)``; differentiable
    in the critic's weights (``create_graph``)."""
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)  # (B, 3, S, S)
    score = critic(mixed)
    grad, = torch.autograd.grad(score.sum(), mixed, create_graph=True)  # (B, 3, S, S)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
