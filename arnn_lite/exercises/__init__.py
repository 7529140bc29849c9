"""Automatic checkers for the book's exercises, one module per chapter (``ch01`` ...).

Every checker takes the reader's function, runs it on inputs where the right answer is
known (usually the package's own implementation), and either prints a short
confirmation or raises :class:`ExerciseError` with a message that says what went wrong
and how to look for the mistake: not a bare ``AssertionError``.

Convention used by every chapter (and by :mod:`arnn_lite.classroom`):
a code cell tagged ``exercise`` holds the stub (``...`` then ``raise NotImplementedError``),
the solution cells are tagged ``solution``, and a cell tagged ``check`` calls the checker.
"""

from __future__ import annotations

import importlib
import inspect

import torch

__all__ = ["ExerciseError", "run_student", "check_shape", "check_close", "passed", "load"]


class ExerciseError(AssertionError):
    """An exercise answer is not right yet; the message explains why."""


def load(chapter: str):
    """Import the checker module of a chapter, e.g. ``load("ch02")``."""
    return importlib.import_module(f"{__name__}.{chapter}")


def run_student(fn, *args, name=None, **kwargs):
    """Call the reader's ``fn``; turn an unfinished stub or a crash into a helpful error."""
    name = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise ExerciseError(f"{name}: expected a function, got {type(fn).__name__}")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise ExerciseError(
            f"{name} is not implemented yet: replace the `...` and the "
            "`raise NotImplementedError` line in the exercise cell with your code."
        ) from None
    except ExerciseError:
        raise
    except Exception as err:  # the reader's code crashed: say where, keep it short
        raise ExerciseError(f"{name} raised {type(err).__name__}: {err}") from err


def check_shape(name, got, expected_shape, hint=""):
    """Raise :class:`ExerciseError` unless ``got`` is a tensor of ``expected_shape``."""
    if not isinstance(got, torch.Tensor):
        raise ExerciseError(f"{name}: expected a tensor, got {type(got).__name__}. {hint}".strip())
    if tuple(got.shape) != tuple(expected_shape):
        raise ExerciseError(
            f"{name}: expected shape {tuple(expected_shape)}, got {tuple(got.shape)}. {hint}".strip())


def check_close(name, got, expected, atol=1e-6, hint=""):
    """Raise :class:`ExerciseError` unless ``got`` matches ``expected`` (shape and values);
    the message names the first wrong position."""
    check_shape(name, got, expected.shape, hint)
    diff = (got.detach().to(expected.dtype) - expected.detach()).abs()
    if not torch.all(diff <= atol):
        idx = tuple(int(i) for i in (diff == diff.max()).nonzero()[0])
        raise ExerciseError(
            f"{name}: wrong value at index {idx}: got {got[idx].item():.6g}, "
            f"expected {expected[idx].item():.6g} (max error {diff.max().item():.3g}). {hint}".strip())


def same_signature(a, b) -> bool:
    """Whether two functions take the same parameters (names, order, defaults)."""
    return inspect.signature(a) == inspect.signature(b)


def passed(message: str) -> None:
    """Print the success line every checker ends with."""
    print(f"Correct! {message}")
