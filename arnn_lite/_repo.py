"""Repository facts, in one place: where the checkout and its ``data/`` folder are, which
commit and time a run records, where the book is published, and whether we run on Colab.

Every module that needs one of these imports it from here (the experiments' results files,
the book's setup cell, the datasets' download rules), so ``$ARNN_DATA_DIR`` and a fork's
``$ARNN_REPOSITORY`` are honoured everywhere alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The folder above the package: the repository root in a checkout (see :func:`checkout`)."""
RESULTS_PATH = "data/results"
"""Shipped results, relative to the repository root (outputs of runs; :func:`git_commit` ignores them)."""


# Where the book is published. One command changes it everywhere (this file, _config.yml,
# pyproject.toml, README, every chapter's badge and install cell; tested to agree):
#     python book/set_repository.py https://github.com/OWNER/REPO [--branch main]
REPOSITORY_URL = "https://github.com/arnn-book/attentionrnn-from-scratch"
REPOSITORY_BRANCH = "main"
# The URL the book was written with; no such repository exists. While REPOSITORY_URL equals
# it, the Colab install stops with a sentence naming the command above instead of a git
# error. set_repository.py never rewrites this line.
PLACEHOLDER_URL = "https://github.com/arnn-book/attentionrnn-from-scratch"
SET_REPOSITORY = "python book/set_repository.py https://github.com/OWNER/REPO"
# A fork's student copies (`python -m arnn_lite.classroom student --repo-url URL`) call
# setup(repository=URL), which sets this variable: the Colab install and the data clone then
# use the fork, in this process and in the ones it starts.
REPOSITORY_ENV = "ARNN_REPOSITORY"


def on_colab() -> bool:
    """True inside Google Colab (its module is loaded, or its runtime variable is set)."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _configured_url() -> str:
    """``$ARNN_REPOSITORY`` (a fork) if set, else `REPOSITORY_URL`; not checked."""
    return os.environ.get(REPOSITORY_ENV) or REPOSITORY_URL


def repository_url(purpose: str) -> str:
    """The repository to install from and clone the data of: ``$ARNN_REPOSITORY`` (a fork,
    set by ``setup(repository=...)``), else `REPOSITORY_URL`; a ``RuntimeError`` of one
    sentence while that is the placeholder.

    Args:
        purpose: what the URL is needed for, e.g. ``"install arnn_lite"`` (said in the error).
    """
    url = _configured_url()
    if url.rstrip("/") == PLACEHOLDER_URL:
        raise RuntimeError(
            f"Cannot {purpose}: the repository URL is still the placeholder {PLACEHOLDER_URL} "
            f"(no such repository), so whoever publishes this book must set the real one with "
            f"`{SET_REPOSITORY}` in its checkout and push (a reader can meanwhile set "
            f"ARNN_DATA_DIR to a checkout's data folder, or run the chapters from a clone).")
    return url.rstrip("/")


def checkout() -> Path | None:
    """The source checkout this package is imported from (``None`` for a pip install)."""
    return ROOT if (ROOT / "pyproject.toml").is_file() and (ROOT / "arnn_lite").is_dir() else None


def data_dir() -> Path:
    """The repository's ``data/`` folder (shipped results and checkpoints).

    ``$ARNN_DATA_DIR`` wins; then the checkout this package was installed from; on Colab,
    where only the package is installed, a shallow clone of the repository is made once
    (``~/attentionrnn-book``). Anywhere else a missing folder raises ``FileNotFoundError``.
    """
    if os.environ.get("ARNN_DATA_DIR"):
        return Path(os.environ["ARNN_DATA_DIR"])
    here = ROOT / "data"
    if here.is_dir():
        return here
    clone = Path.home() / "attentionrnn-book"
    if on_colab() and not (clone / "data").is_dir():
        url = repository_url("download the book's data/ folder")
        partial = clone.with_name(clone.name + ".partial")  # an interrupted clone is retried
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", REPOSITORY_BRANCH,
                        url, str(partial)], check=True)
        shutil.rmtree(clone, ignore_errors=True)
        partial.rename(clone)
    if (clone / "data").is_dir():
        return clone / "data"
    raise FileNotFoundError(
        f"data/ not found next to the package ({here}); set ARNN_DATA_DIR to a checkout's "
        f"data folder, or clone {_configured_url()}")


def now() -> str:
    """UTC time stamp, ISO 8601, seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit(cwd=None) -> str:
    """``HEAD``'s hash, with ``+dirty`` when tracked files changed; ``"unknown"`` outside git.

    Shipped results (``data/results``) do not count: they are what runs write, not what they
    run, so a queue of runs in one clean worktree records a clean commit for every run even
    after the first rewrote a shipped file."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ":(top)", f":(top,exclude){RESULTS_PATH}"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")
