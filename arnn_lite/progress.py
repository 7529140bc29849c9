"""Progress for long loops: a live tqdm bar for a reader, one summary line in the static book.

A tqdm bar in a notebook is an ipywidget. The static book has no kernel to update it, so
the saved page shows it frozen mid-way (or as an empty gap once hidden). When the book is
built (``ARNN_STATIC_WIDGETS=1``, exported by the Makefile), :func:`bar` shows no widget and
prints one line when the loop ends, e.g. ``training: 300 steps in 4.1 s``; anywhere else it is
``tqdm.auto.tqdm``. :func:`widgets.slider <arnn_lite.book.figures.slider>` reads the same switch.

This module is a layer helper: it never imports the book runtime (``arnn_lite.book``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, Optional

__all__ = ["STATIC_ENV", "static_build", "bar"]

STATIC_ENV = "ARNN_STATIC_WIDGETS"


def static_build() -> bool:
    """True when the notebook runs for the static book: ``$ARNN_STATIC_WIDGETS`` is set and
    not ``""``, ``"0"`` or ``"false"``."""
    return os.environ.get(STATIC_ENV, "").strip().lower() not in ("", "0", "false", "no")


class _Summary:
    """Iterate ``iterable`` unchanged; when the loop ends (or is left early) print
    ``"{desc}: {n} {unit} in {s:.1f} s"`` once."""

    def __init__(self, iterable: Iterable, desc: str, total: Optional[int], unit: str):
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit

    def __len__(self) -> int:
        return self.total if self.total is not None else len(self.iterable)

    def __iter__(self) -> Iterator:
        count, start = 0, time.perf_counter()
        try:
            for item in self.iterable:
                count += 1  # counted when handed out: a loop that breaks has used it
                yield item
        finally:  # also on break (the generator is closed) and on an exception
            seconds = time.perf_counter() - start
            stopped = "" if self.total is None or count >= self.total else f" of {self.total}"
            label = f"{self.desc}: " if self.desc else ""
            print(f"{label}{count}{stopped} {self.unit} in {seconds:.1f} s", file=sys.stdout,
                  flush=True)


def bar(iterable: Optional[Iterable] = None, desc: str = "", total: Optional[int] = None,
        disable: bool = False, leave: bool = False, unit: str = "steps",
        static: Optional[bool] = None):
    """Wrap a loop's iterable with progress: tqdm for a reader, one line in the static book.

    Args:
        iterable: what the loop runs over (``None``: ``range(total)``).
        desc: label of the bar and of the summary line (``"training"``, ``"epoch 2/5"``).
        total: number of items, if ``len(iterable)`` does not say.
        disable: no progress at all (no bar, no line); the iterable is returned as it is.
        leave: keep the finished tqdm bar on screen (live only).
        unit: what one item is, for the summary line (``"steps"``, ``"batches"``).
        static: force the static (``True``) or live (``False``) behaviour; ``None`` reads
            ``$ARNN_STATIC_WIDGETS`` (:func:`static_build`).

    Returns:
        An iterable yielding the same items as ``iterable``.
    """
    if iterable is None:
        if total is None:
            raise ValueError("bar: give an iterable or total (the number of steps), got neither")
        iterable = range(total)
    if disable:
        return iterable
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if static_build() if static is None else static:
        return _Summary(iterable, desc, total, unit)
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc or None, total=total, leave=leave)
