"""The paper's published numbers, each with the table it comes from.

Only what our sources contain is here: the supplementary material (its text is in
``shared/reference``). The main paper's tables are not available to us, so no number
from them appears in the book. Book tables show these next to ours, always labelled
"paper".
"""

from __future__ import annotations

__all__ = ["PAPER", "SCALE_COLUMNS", "paper_row"]

SCALE_COLUMNS = ("total", "0.5-1.0", "1.0-1.5", "1.5-2.0", "2.0-2.5", "2.5-3.0")

# MBG colour accuracy (%), supplement Table 1: all models share the Table 2 base network.
_MBG_UNET = {
    "unet2": (85.86, 84.25, 91.28, 89.84, 85.41, 86.44),
    "unet3": (86.64, 84.52, 92.98, 91.35, 91.96, 86.44),
    "unet2_arnn": (91.73, 90.47, 95.78, 93.98, 92.26, 93.89),
    "unet3_arnn": (92.29, 90.86, 96.14, 94.54, 97.02, 94.91),
}

PAPER = {
    ("mbg", model): {"source": "Khandelwal & Sigal (2019), supplementary material, Table 1",
                     "metric": "colour accuracy (%)",
                     "values": dict(zip(SCALE_COLUMNS, values))}
    for model, values in _MBG_UNET.items()
}


def paper_row(experiment: str, model: str):
    """The paper's entry for ``(experiment, model)``, or ``None`` if our sources lack it."""
    return PAPER.get((experiment, model))
