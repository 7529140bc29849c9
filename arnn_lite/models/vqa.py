"""VQA with Multimodal Compact Bilinear pooling: MCB, MCB+ATT and MCB+ARNN.

Chapter 13 (``chapters/13_vqa.ipynb``) derives compact bilinear pooling and swaps the
attention. MCB (Fukui et al., 2016) fuses a question vector ``q`` (n₁) and an image
vector ``v`` (n₂) by approximating their outer product ``q ⊗ v`` (n₁·n₂ numbers) with a
``d``-dimensional *count sketch*: with random hashes ``h: [n] → [d]`` and signs
``s: [n] → {±1}``, ``Ψ(x)[k] = Σ_{i: h(i)=k} s(i) x(i)``. The sketch of an outer product
is the circular convolution of the two sketches, ``Ψ(q ⊗ v) = Ψ(q) ⊛ Ψ(v)``, computed as
``irfft(rfft(Ψ(q)) · rfft(Ψ(v)))`` in ``O(d log d)`` without forming ``q ⊗ v``.

The three models (supplement §2.3):

* ``"none"``: MCB of ``q`` and the spatially averaged image features.
* ``"att"`` (MCB+ATT): MCB of the tiled ``q`` and every position's features, then two
  1×1 convolutions (ReLU between) to one logit per position and glimpse, softmax over
  space; the attended features are fused with ``q`` by a second MCB.
* ``"arnn"`` (MCB+ARNN): the same with the two 1×1 convolutions replaced by
  :class:`~arnn_lite.arnn.AttentionRNN` with a 1×1 local context and softmax output.

**Our choices** (our sources do not fix them): a small CNN learns the image features
(MCB used a frozen ResNet-152); each glimpse has its own attention module; signed
square root with a small ``eps`` so its gradient stays finite at zero.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._checks import check_choice, check_features, check_positive, check_rank
from .zoo import make_attention

__all__ = ["ATTENTIONS", "count_sketch", "sketch_hashes", "compact_bilinear",
           "explicit_sketched_outer", "signed_sqrt", "CompactBilinearPooling",
           "QuestionEncoder", "ImageEncoder", "MCBNet"]

ATTENTIONS = ("none", "att", "arnn")  # names of arnn_lite.models.zoo
DENSE_LIMIT = 1 << 22  # n·d up to which the count sketch is a dense matmul (faster on CPU)


def sketch_hashes(n: int, d: int, generator=None):
    """Random hash ``h`` ``(n,)`` in ``[0, d)`` and signs ``s`` ``(n,)`` in ``{-1, +1}``."""
    check_positive(n, "n")
    check_positive(d, "d")
    h = torch.randint(0, d, (n,), generator=generator)
    s = torch.randint(0, 2, (n,), generator=generator).float() * 2 - 1
    return h, s


def count_sketch(x: torch.Tensor, h: torch.Tensor, s: torch.Tensor, d: int,
                 name: str = "x") -> torch.Tensor:
    """Count sketch ``Ψ(x)[..., k] = Σ_{i: h[i]=k} s[i] x[..., i]``: ``(..., n) -> (..., d)``.
    ``name``: what error messages call ``x``."""
    if x.shape[-1] != h.shape[0]:
        raise ValueError(f"{name}: expected last dimension {h.shape[0]} (length of the hash), "
                         f"got shape {tuple(x.shape)}")
    h, s = h.to(x.device), s.to(x.device, x.dtype)
    if h.shape[0] * d <= DENSE_LIMIT:  # small: one matmul with the sparse matrix written out
        matrix = x.new_zeros(h.shape[0], d)  # (n, d): one ±1 per row
        matrix[torch.arange(h.shape[0], device=x.device), h] = s
        return x @ matrix  # (..., n) @ (n, d) -> (..., d)
    return x.new_zeros(*x.shape[:-1], d).index_add(-1, h, x * s)  # (..., d): the definition


def compact_bilinear(x, y, hx, sx, hy, sy, d: int) -> torch.Tensor:
    """MCB: ``Ψ(x) ⊛ Ψ(y)`` by FFT; leading dimensions broadcast.

    Args:
        x: ``(..., n1)``; y: ``(..., n2)``; ``hx, sx`` / ``hy, sy``: their hashes and signs.

    Returns:
        ``(..., d)``: exactly the count sketch of ``vec(x ⊗ y)`` with hash
        ``(hx[i] + hy[j]) mod d`` and sign ``sx[i] sy[j]`` (see :func:`explicit_sketched_outer`).
    """
    fx = torch.fft.rfft(count_sketch(x, hx, sx, d), n=d)  # (..., d//2+1) complex
    fy = torch.fft.rfft(count_sketch(y, hy, sy, d, "y"), n=d)
    return torch.fft.irfft(fx * fy, n=d)  # (..., d): circular convolution


def explicit_sketched_outer(x, y, hx, sx, hy, sy, d: int) -> torch.Tensor:
    """The slow reference: form ``x ⊗ y`` ``(..., n1, n2)`` and count-sketch it directly."""
    outer = x[..., :, None] * y[..., None, :]  # (..., n1, n2)
    h = (hx[:, None] + hy[None, :]) % d  # (n1, n2)
    s = sx[:, None] * sy[None, :]
    return count_sketch(outer.flatten(-2), h.flatten(), s.flatten(), d)  # (..., d)


def signed_sqrt(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``sign(x) (√(|x| + ε) − √ε)``: MCB's signed square root, finite gradient at 0."""
    return torch.sign(x) * (torch.sqrt(x.abs() + eps) - eps ** 0.5)


class CompactBilinearPooling(nn.Module):
    """MCB with fixed random hashes (buffers, saved with the weights; never trained).

    Args:
        n1, n2: sizes of the two inputs; d: output size; seed: seed of the hashes.

    ``forward(x (..., n1), y (..., n2)) -> (..., d)``, then signed square root and L2
    normalisation over ``d`` when ``normalize`` (as MCB does after every pooling).
    """

    def __init__(self, n1: int, n2: int, d: int, seed: int = 0, normalize: bool = True):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        for name, n in (("1", n1), ("2", n2)):
            h, s = sketch_hashes(n, d, g)
            self.register_buffer("h" + name, h)
            self.register_buffer("s" + name, s)
        self.n1, self.n2, self.d, self.normalize = n1, n2, d, normalize

    def forward(self, x, y):
        z = compact_bilinear(x, y, self.h1, self.s1, self.h2, self.s2, self.d)  # (..., d)
        if self.normalize:
            z = F.normalize(signed_sqrt(z), dim=-1) * self.d ** 0.5  # unit RMS per entry
        return z


class QuestionEncoder(nn.Module):
    """Word embedding + LSTM; the question vector is the state after its last word.

    ``tokens (B, L)`` long (0 pads at the end), ``lengths (B,)`` -> ``(B, hidden)``.
    """

    def __init__(self, vocab_size: int, embed: int = 32, hidden: int = 128):
        super().__init__()
        for value, name in ((vocab_size, "vocab_size"), (embed, "embed"), (hidden, "hidden")):
            check_positive(value, name)
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.out_channels = hidden

    def forward(self, tokens, lengths):
        self.check_inputs(tokens, lengths)
        out, _ = self.lstm(torch.tanh(self.embed(tokens)))  # (B, L, hidden)
        last = (lengths.to(out.device).long() - 1).clamp_min(0)  # padding comes after: ignore it
        return out[torch.arange(len(out), device=out.device), last]  # (B, hidden)


    def check_inputs(self, tokens, lengths) -> None:
        """``tokens`` ``(B, L)`` integer ids, ``L >= 1``; ``lengths`` ``(B,)`` integers.

        Their *values* (ids in ``[0, vocab_size)``, lengths in ``[1, L]``) are checked only
        for tensors on the CPU, where reading them costs no device sync (the experiments
        keep ``lengths`` on the CPU; on a GPU a bad id fails inside the embedding)."""
        check_rank(tokens, 2, "question", "(B, L)")
        B, L = tokens.shape
        if tokens.is_floating_point() or tokens.dtype == torch.bool or tokens.is_complex():
            raise ValueError(f"question: expected an integer tensor of token ids, "
                             f"got {tokens.dtype}")
        if L == 0:
            raise ValueError(f"question: expected at least one word, "
                             f"got shape {tuple(tokens.shape)}")
        check_rank(lengths, 1, "lengths", f"({B},)")
        if lengths.shape != (B,):
            raise ValueError(f"lengths: expected shape ({B},) (one per question), "
                             f"got {tuple(lengths.shape)}")
        if lengths.is_floating_point() or lengths.dtype == torch.bool or lengths.is_complex():
            raise ValueError(f"lengths: expected an integer tensor, got {lengths.dtype}")
        if tokens.device.type == "cpu" and B:
            low, high = int(tokens.min()), int(tokens.max())
            if low < 0 or high >= self.vocab_size:
                raise ValueError(f"question: expected token ids in [0, {self.vocab_size}), "
                                 f"got {low if low < 0 else high}")
        if lengths.device.type == "cpu" and B:
            low, high = int(lengths.min()), int(lengths.max())
            if low < 1 or high > L:
                raise ValueError(f"lengths: expected values in [1, {L}] (words in each question), "
                                 f"got {low if low < 1 else high}")


def _conv(cin, cout):
    """3×3 conv (same padding) → BatchNorm → ReLU."""
    return nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()


class ImageEncoder(nn.Module):
    """Pixels ``(B, 3, S, S)`` -> features ``(B, C, S/4, S/4)``: three 3×3 conv + BN + ReLU
    blocks, two 2×2 max-pools.
    With ``in_channels`` other than 3 it takes precomputed features (e.g. ResNet) and
    only applies a 1×1 convolution."""

    def __init__(self, channels: int = 64, in_channels: int = 3):
        super().__init__()
        check_positive(channels, "channels")
        check_positive(in_channels, "in_channels")
        if in_channels == 3 and channels < 2:
            raise ValueError(f"channels: expected at least 2 (the first block has channels // 2), "
                             f"got {channels}")
        if in_channels == 3:
            c = channels // 2
            self.net = nn.Sequential(
                *_conv(3, c), nn.MaxPool2d(2),  # (B, c, S/2, S/2)
                *_conv(c, channels), nn.MaxPool2d(2), *_conv(channels, channels))  # (B, C, S/4, S/4)
        else:
            self.net = nn.Sequential(nn.Conv2d(in_channels, channels, 1), nn.ReLU())
        self.in_channels, self.out_channels = in_channels, channels
        self.min_size = 4 if in_channels == 3 else 1  # two 2×2 max-pools on pixels

    def check_inputs(self, image) -> None:
        """``image`` must be ``(B, in_channels, H, W)`` float, ``H, W >= 4`` for pixels."""
        check_features(image, self.in_channels, "image", self.min_size,
                       "two 2×2 max-pools" if self.min_size > 1 else "")

    def forward(self, image):
        self.check_inputs(image)
        return self.net(image)


class MCBNet(nn.Module):
    """MCB, MCB+ATT or MCB+ARNN: ``image, question, lengths -> logits (B, A), mask``.

    Args:
        attention: ``"none"``, ``"att"`` or ``"arnn"``.
        vocab_size, num_answers: sizes of the word and answer vocabularies.
        d: MCB output size (16000 in MCB; small here); d_att: that of the per-position
            MCB feeding the attention (default ``d``; smaller is much cheaper); channels: image feature size ``C``;
        hidden: question vector size; att_channels: ``C'`` of the attention's 1×1 context;
        glimpses: attention maps ``G``; arnn_hidden: ARNN state size per direction;
        image_channels: 3 for pixels, else the channels of precomputed features.

    The returned mask is ``(B, G, H, W)`` (each map sums to one), or ``None`` for "none".
    """

    def __init__(self, attention="att", vocab_size=40, num_answers=20, d=1024, d_att=None,
                 channels=64, hidden=128, att_channels=64, glimpses=1, arnn_hidden=16, image_channels=3,
                 dropout=0.2, seed=0):
        super().__init__()
        check_choice(attention, ATTENTIONS, "attention")
        check_positive(glimpses, "glimpses")
        for value, name in ((vocab_size, "vocab_size"), (num_answers, "num_answers"), (d, "d"),
                            (channels, "channels"), (hidden, "hidden"),
                            (att_channels, "att_channels"), (arnn_hidden, "arnn_hidden"),
                            (image_channels, "image_channels")):
            check_positive(value, name)
        if d_att is not None:
            check_positive(d_att, "d_att")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.attention, self.glimpses = attention, glimpses
        self.question = QuestionEncoder(vocab_size, hidden=hidden)
        self.image = ImageEncoder(channels, image_channels)
        n_v = channels * (glimpses if attention != "none" else 1)
        self.fuse = CompactBilinearPooling(hidden, n_v, d, seed=seed)
        self.attend = nn.ModuleList()
        if attention != "none":
            d_att = d_att or d
            self.fuse_att = CompactBilinearPooling(hidden, channels, d_att, seed=seed + 1)
            for _ in range(glimpses):  # att: relu(1×1 conv), 1×1 conv to a logit; arnn: the same
                self.attend.append(make_attention(  # 1×1 context, then the scans
                    attention, d_att, normalization="softmax", hidden=arnn_hidden, context_size=1,
                    context_channels=att_channels))
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(d, num_answers))

    def masks(self, v, q):
        """Attention maps ``(B, G, H, W)`` from features ``v`` ``(B, C, H, W)`` and ``q`` ``(B, n1)``."""
        joint = self.fuse_att(q[:, None, None, :], v.permute(0, 2, 3, 1))  # (B, H, W, d_att): q tiled
        joint = joint.permute(0, 3, 1, 2)  # (B, d_att, H, W)
        return torch.cat([att(joint) for att in self.attend], dim=1)  # (B, G, H, W)

    def forward(self, image, question, lengths):
        """Args: image ``(B, C, H, W)`` float; question ``(B, L)`` token ids; lengths
        ``(B,)`` words per question, in ``[1, L]``. Returns ``(logits (B, A), mask)``."""
        self.question.check_inputs(question, lengths)
        self.image.check_inputs(image)
        if image.shape[0] != question.shape[0]:
            raise ValueError(f"image: expected batch size {question.shape[0]} (that of question), "
                             f"got {image.shape[0]}")
        q = self.question(question, lengths)  # (B, n1)
        v = self.image(image)  # (B, C, H, W)
        if self.attention == "none":
            return self.classifier(self.fuse(q, v.mean(dim=(2, 3)))), None
        mask = self.masks(v, q)  # (B, G, H, W)
        attended = torch.einsum("bghw,bchw->bgc", mask, v).flatten(1)  # (B, G*C)
        return self.classifier(self.fuse(q, attended)), mask
