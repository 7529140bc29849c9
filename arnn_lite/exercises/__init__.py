"""Automatic checkers for the book's exercises, one module per chapter (``ch01`` ...).

Every checker takes the reader's function, runs it on inputs where the right answer is
known (usually the package's own implementation), and either prints a short
confirmation or raises :class:`ExerciseError` with a message that says what went wrong
and how to look for the mistake: not a bare ``AssertionError``.

Convention used by every chapter (and by :mod:`arnn_lite.classroom`):
a code cell tagged ``exercise`` holds the stub (``...`` then ``raise NotImplementedError``),
the solution cells are tagged ``solution``, and a cell tagged ``check`` calls the checker.

Grading (``python -m arnn_lite.classroom grade``) runs every checker twice: on the visible
cases, then inside :func:`hidden` with a seed the grader picks, so random inputs change and
each checker's extra cases (:func:`cases`) are added; a reader never sees those. Where an
exercise asks for a function the package has, the checker passes it as ``forbid=`` to
:func:`run_student`, which fails an answer that calls it. An experiment exercise, whose
answer runs the package's own training, passes what the answer must compute itself as
``forbid_direct=``: refused when the answer calls it, allowed when the package does.
"""

from __future__ import annotations

import contextlib
import inspect
import random
import sys
from pathlib import Path

import torch

__all__ = ["ExerciseError", "run_student", "check_shape", "check_close", "passed",
           "hidden", "is_hidden", "rng", "seed", "cases"]

_HIDDEN_SEED: int | None = None  # set by `hidden` while the grader runs the hidden cases


class ExerciseError(AssertionError):
    """An exercise answer is not right yet; the message explains why."""


@contextlib.contextmanager
def hidden(seed: int):
    """Run the checkers called inside on their hidden cases: random inputs drawn with
    ``seed`` mixed in (chosen by the grader, so never seen by the reader) and every
    checker's extra :func:`cases`."""
    global _HIDDEN_SEED
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"hidden: expected an int seed, got {type(seed).__name__} {seed!r}")
    previous, _HIDDEN_SEED = _HIDDEN_SEED, seed
    try:
        yield
    finally:
        _HIDDEN_SEED = previous


def is_hidden() -> bool:
    """Whether the checkers run on their hidden cases (inside :func:`hidden`)."""
    return _HIDDEN_SEED is not None


def _mixed(base: int) -> int:
    return base if _HIDDEN_SEED is None else random.Random(f"{base}:{_HIDDEN_SEED}").randrange(2**31)


def rng(base: int) -> torch.Generator:
    """A checker's random generator: seeded with ``base``, or, for the hidden cases, with
    ``base`` mixed with the grader's seed."""
    return torch.Generator().manual_seed(_mixed(base))


def seed(base: int) -> None:
    """``torch.manual_seed`` for a checker that builds modules (hidden cases: mixed seed)."""
    torch.manual_seed(_mixed(base))


def cases(visible, extra=()) -> list:
    """A checker's cases: ``visible``, plus ``extra`` for the hidden cases. ``extra`` is a
    list, or a function of a ``random.Random`` (seeded by the grader) returning one."""
    if _HIDDEN_SEED is None:
        return list(visible)
    more = extra(random.Random(_HIDDEN_SEED)) if callable(extra) else extra
    return list(visible) + list(more)


def _code(fn):
    """The code object run when ``fn`` (a function, method or decorated function) is called."""
    fn = inspect.unwrap(getattr(fn, "__func__", fn))
    return getattr(fn, "__code__", None)


def _checker_functions() -> list:
    """The module-level functions of the loaded checker modules (their references and
    helpers compute the right answers: an answer may not call them)."""
    found = []
    for name, module in list(sys.modules.items()):
        if name.startswith(__name__ + ".") and module is not None:
            found += [f for f in vars(module).values() if inspect.isfunction(f)
                      and f.__module__ == name]
    return found


_PACKAGE = str(Path(__file__).resolve().parent.parent)  # arnn_lite/: the package's own code


def _from_package(frame) -> bool:
    """Whether ``frame`` runs code of the package (not the reader's answer)."""
    return frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE)


def _watched_call(fn, args, kwargs, forbid, forbid_direct=()):
    """``fn(*args, **kwargs)``, and the names of the ``forbid`` functions (and of the
    checker modules' own functions) it called; of ``forbid_direct``, only those called by
    code outside the package (the answer itself, not the package on its behalf)."""
    given = {id(a) for a in [fn, *args, *kwargs.values()]}
    # keyed by id: hashing a code object hashes its bytecode, on every call of a training loop
    codes = {id(_code(f)): f"{f.__module__}.{f.__qualname__}"
             for f in [*forbid, *_checker_functions()] if _code(f) and id(f) not in given}
    direct = {id(_code(f)): f"{f.__module__}.{f.__qualname__}" for f in forbid_direct if _code(f)}
    hits, previous = [], sys.getprofile()

    def profile(frame, event, arg):
        if event != "call":
            return
        key = id(frame.f_code)
        name = codes.get(key) or (direct.get(key) if key in direct
                                  and not _from_package(frame.f_back) else None)
        if name and name not in hits:
            hits.append(name)

    sys.setprofile(profile)
    try:
        result = fn(*args, **kwargs)
    finally:
        sys.setprofile(previous)
    return result, hits


def run_student(fn, *args, name=None, forbid=(), forbid_direct=(), **kwargs):
    """Call the reader's ``fn``; turn an unfinished stub or a crash into a helpful error.

    ``forbid``: the package's own implementations of what the exercise asks the reader to
    write; an answer that calls one of them (under any name) fails with a hint.
    ``forbid_direct``: the same, but only calls made by the answer's own code count (an
    experiment exercise runs the package's training, which may call them itself)."""
    name = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        raise ExerciseError(f"{name}: expected a function, got {type(fn).__name__}")
    try:
        result, hits = _watched_call(fn, args, kwargs, forbid, forbid_direct)
    except NotImplementedError:
        raise ExerciseError(
            f"{name} is not implemented yet: replace the `...` and the "
            "`raise NotImplementedError` line in the exercise cell with your code."
        ) from None
    except ExerciseError:
        raise
    except Exception as err:  # the reader's code crashed: say where, keep it short
        raise ExerciseError(f"{name} raised {type(err).__name__}: {err}") from err
    if hits:
        raise ExerciseError(
            f"{name} calls the package's own implementation ({', '.join(hits)}): this "
            "exercise asks you to write it yourself, with tensor operations and Python only.")
    return result


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


def passed(message: str) -> None:
    """Print the success line every checker ends with."""
    print(f"Correct! {message}")
