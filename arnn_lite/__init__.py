"""arnn_lite: AttentionRNN (Khandelwal & Sigal, ICCV 2019), from scratch.

The companion package of the book *AttentionRNN, from scratch*. Every chapter imports
it; each docstring names the chapter that derives it.
"""

from .ops import skew, unskew
from .rnn import DiagonalLSTM, DiagonalBiLSTM
from .attention import (SpatialAttention, NoContextAttention, ContextAttention, SANAttention,
                        UNetAttention, CBAMSpatialGate)
from .arnn import AttentionRNN, BlockAttentionRNN

__version__ = "0.1.0"

__all__ = [
    "skew", "unskew", "DiagonalLSTM", "DiagonalBiLSTM", "AttentionRNN", "BlockAttentionRNN",
    "SpatialAttention", "NoContextAttention", "ContextAttention", "SANAttention",
    "UNetAttention", "CBAMSpatialGate",
]
