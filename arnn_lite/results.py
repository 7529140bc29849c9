"""Results files with provenance, and the tables the book renders from them (DESIGN §6).

A results file is JSON with ``experiment, protocol, config, metrics`` and a
``provenance`` block (``command, git_commit, device, torch_version, seed, started,
duration_s``). Only experiment runs write them (:func:`write_result`); chapters only
read them (:func:`load_results`), so every number on a page has a recorded origin.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

__all__ = ["REQUIRED", "PROVENANCE", "provenance", "write_result", "load_results",
           "validate", "git_commit", "now", "markdown_table", "standard_error"]

REQUIRED = ("experiment", "protocol", "config", "metrics", "provenance")
PROVENANCE = ("command", "git_commit", "device", "torch_version", "seed", "started", "duration_s")


def now() -> str:
    """UTC time stamp, ISO 8601, seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit(cwd=None) -> str:
    """``HEAD``'s hash, with ``+dirty`` when tracked files changed; ``"unknown"`` outside git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def provenance(seed: int, device, started: str, duration_s: float, command=None, commit=None) -> dict:
    """The provenance block of a results file; ``command`` defaults to this process's and
    ``commit`` to the current one (pass the commit read when the run *started*)."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {
        "command": command or " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "git_commit": commit or git_commit(),
        "device": f"{device.type} ({name}, {torch.get_num_threads()} threads)",
        "torch_version": torch.__version__,
        "seed": seed,
        "started": started,
        "duration_s": round(float(duration_s), 1),
    }


def validate(result: dict, where="result") -> dict:
    """Raise ``ValueError`` naming the missing key unless ``result`` is complete."""
    for key in REQUIRED:
        if key not in result:
            raise ValueError(f"{where}: missing key {key!r} (expected {list(REQUIRED)})")
    for key in PROVENANCE:
        if key not in result["provenance"]:
            raise ValueError(f"{where}: provenance lacks {key!r} (expected {list(PROVENANCE)})")
    return result


def write_result(path, experiment, protocol, config, metrics, prov, **extra) -> Path:
    """Validate and write a results file atomically (a killed run never leaves half a file).
    ``extra`` keys are stored too (e.g. ``checkpoint={"file": ..., "sha256": ...}``)."""
    result = validate({"experiment": experiment, "protocol": protocol, "config": config,
                       "metrics": metrics, "provenance": prov, **extra}, str(path))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
    return path


def load_results(pattern="**/*.json", root=None) -> list[dict]:
    """Every results file under ``root`` (default ``data/results`` of the repository, see
    :func:`arnn_lite.book.data_dir`) matching ``pattern``, validated, each with its
    ``path``; sorted by path."""
    if root is None:
        from .book import data_dir
        root = data_dir() / "results"
    root = Path(root)
    out = []
    for path in sorted(root.glob(pattern)):
        result = validate(json.loads(path.read_text()), str(path))
        out.append({**result, "path": str(path)})
    return out


def standard_error(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent test items (binomial):
    ``sqrt(p (1 - p) / n)``. Book tables quote two of them as the run-to-run noise."""
    return (accuracy * (1 - accuracy) / n) ** 0.5


def markdown_table(rows: list[dict], columns: list[str], formats: dict | None = None) -> str:
    """A Markdown table of ``rows`` (dicts) with the given ``columns``; ``formats`` maps a
    column to a format string (missing values print as "–"). Chapters display it with
    ``IPython.display.Markdown`` so the book renders a real table."""
    formats = formats or {}

    def cell(row, col):
        value = row.get(col)
        if value is None:
            return "–"
        return formats[col].format(value) if col in formats else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
