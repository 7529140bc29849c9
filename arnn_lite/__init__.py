"""arnn_lite: AttentionRNN (Khandelwal & Sigal, ICCV 2019), from scratch.

The companion package of the book *AttentionRNN, from scratch*: the layer at the top level,
what the book, the experiments and teachers need in subpackages the layer never imports.

    ops              skew, unskew: anti-diagonals become columns            chapter 02
    rnn              DiagonalLSTM, DiagonalBiLSTM                           chapters 03-04
    attention        the baselines ¬CTX, CTX, SAN, U-Net (CBAM's gate: 12)   chapter 01
    arnn             AttentionRNN, sampling mode ARNN~, BlockAttentionRNN   chapters 05-07
    reference        slow per-pixel versions, the tests' oracle             chapters 03, 05
    scan, scan_triton  the fast scan: hand-written backward, Triton kernel  chapter 15
    train, stats     one training loop; paired comparisons, seeds           chapter 09
    models/          the experiment networks: MBG, CBAM, VQA, ModularGAN    chapters 09-14
    datasets/        MNIST, MBG, CIFAR-100, VQA, faces (offline first)      chapters 08-14
    toys/            the small teaching problems of Part I                  chapters 01, 05-07
    experiments/     one command per experiment, results files, benchmark   chapters 09-15
    book/            setup(), figures, sliders, the paper's numbers         every chapter
    exercises/       one checker module per chapter                         every chapter
    classroom/       student edition, convention check, grading (an extra)  book/teaching.md
    _checks, _files, _repo, progress   input checks, atomic writes, repository facts, progress
"""

from .arnn import AttentionRNN, BlockAttentionRNN
from .attention import (
                        CBAMSpatialGate,
                        ContextAttention,
                        NoContextAttention,
                        SANAttention,
                        SpatialAttention,
                        UNetAttention,
)
from .ops import skew, unskew
from .rnn import DiagonalBiLSTM, DiagonalLSTM

__version__ = "0.1.0"

__all__ = [
    "skew", "unskew", "DiagonalLSTM", "DiagonalBiLSTM", "AttentionRNN", "BlockAttentionRNN",
    "SpatialAttention", "NoContextAttention", "ContextAttention", "SANAttention",
    "UNetAttention", "CBAMSpatialGate",
]
