"""Results files with provenance, and the tables the book renders from them (DESIGN §6).

A results file is JSON with ``experiment, protocol, config, metrics`` and a
``provenance`` block (``command, git_commit, device, torch_version, seed, started,
duration_s``). Only experiment runs write them (:func:`write_result`); chapters only
read them (:func:`load_results`), so every number on a page has a recorded origin.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import torch

from .._files import atomic_write
from .._repo import data_dir, git_commit, now  # noqa: F401  (re-exported: runs stamp results with them)

__all__ = ["REQUIRED", "PROVENANCE", "provenance", "write_result", "load_results",
           "validate", "read_result", "markdown_table", "standard_error",
           "read_predictions", "uncommitted"]

REQUIRED = ("experiment", "protocol", "config", "metrics", "provenance")
PROVENANCE = ("command", "git_commit", "device", "torch_version", "seed", "started", "duration_s")
# JSON type of each field (bool is an int in Python, never a valid seed or number here)
_TYPES = {"experiment": str, "protocol": str, "config": dict, "metrics": dict, "provenance": dict,
          "command": str, "git_commit": str, "device": str, "torch_version": str, "seed": int,
          "started": str, "duration_s": (int, float)}
_NAMES = {str: "a string", dict: "an object ({...})", int: "an integer", (int, float): "a number"}


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


def _json_type(value) -> str:
    names = {type(None): "null", bool: "bool", dict: "object", list: "list"}
    return names.get(type(value), type(value).__name__)


def _check_type(value, key: str, where: str, prefix="") -> None:
    expected = _TYPES[key]
    if isinstance(value, bool) or not isinstance(value, expected):
        raise ValueError(f"{where}: {prefix}{key!r}: expected {_NAMES[expected]}, got {_json_type(value)}")


def validate(result: dict, where="result") -> dict:
    """Raise ``ValueError`` naming the missing or mistyped key unless ``result`` is complete."""
    if not isinstance(result, dict):
        raise ValueError(f"{where}: expected a JSON object, got {_json_type(result)}")
    for key in REQUIRED:
        if key not in result:
            raise ValueError(f"{where}: missing key {key!r} (expected {list(REQUIRED)})")
        _check_type(result[key], key, where)
    for key in PROVENANCE:
        if key not in result["provenance"]:
            raise ValueError(f"{where}: provenance lacks {key!r} (expected {list(PROVENANCE)})")
        _check_type(result["provenance"][key], key, where, "provenance ")
    return result


def read_result(path) -> dict:
    """One results file, validated; ``ValueError`` naming the file when it is empty,
    not UTF-8, HTML (a saved error page), not JSON (truncated?) or incomplete."""
    data = Path(path).read_bytes()
    if not data.strip():
        raise ValueError(f"{path}: empty file (expected a JSON results file)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text (byte {err.start}), so not a results file") from None
    if text.lstrip().startswith("<"):  # JSON never starts with "<"
        raise ValueError(f"{path}: HTML or XML, not JSON (a saved web page or error page?)")
    try:
        result = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (truncated?): {err.msg} at line {err.lineno}, "
                         f"column {err.colno}") from None
    return validate(result, str(path))


def write_result(path, experiment, protocol, config, metrics, prov, **extra) -> Path:
    """Validate and write a results file atomically (a killed run never leaves half a file).
    ``extra`` keys are stored too (e.g. ``checkpoint={"file": ..., "sha256": ...}``)."""
    result = validate({"experiment": experiment, "protocol": protocol, "config": config,
                       "metrics": metrics, "provenance": prov, **extra}, str(path))
    path = Path(path)
    with atomic_write(path, "w") as f:
        json.dump(result, f, indent=2, sort_keys=False)
        f.write("\n")
    return path


def load_results(pattern="**/*.json", root=None) -> list[dict]:
    """Every results file under ``root`` (default ``data/results`` of the repository, see
    :func:`arnn_lite._repo.data_dir`) matching ``pattern``, validated, each with its
    ``path``; sorted by path. A missing ``root`` raises ``FileNotFoundError`` (a wrong
    folder must not read as "no runs yet"); an unreadable file, ``ValueError`` naming it."""
    if root is None:
        root = data_dir() / "results"
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"root: results folder {root} does not exist")
    return [{**read_result(path), "path": str(path)} for path in sorted(root.glob(pattern))]


def uncommitted(found: list[dict]) -> list[dict]:
    """The results files among ``found`` whose run was made from a worktree with uncommitted
    changes (its recorded commit ends in ``+dirty``): no commit holds exactly the code that
    made them, so a chapter that shows them says so."""
    return [r for r in found if r["provenance"]["git_commit"].endswith("+dirty")]


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


def read_predictions(result: dict, root=None) -> dict | None:
    """Each test item's ``predictions`` and ``labels`` (int lists) of a loaded results file,
    with its ``health`` (:func:`arnn_lite.stats.health`) and ``mask_saturation`` (per stage,
    on the test set): from the file itself, or for files that predate per-item predictions
    from ``<root>/<experiment>/<protocol>/<stem>.json`` (default root ``data/predictions``,
    written by ``python -m arnn_lite.experiments.predictions``). ``None`` when neither has
    them. A predictions file made for another version of the results file (its SHA-256
    differs) is a ``ValueError``."""
    from .. import stats
    from ..train import sha256

    test = result["metrics"].get("test") or {}
    if test.get("predictions"):
        return {"predictions": test["predictions"], "labels": test["labels"],
                "health": result.get("health") or stats.health(test),
                "mask_saturation": test.get("mask_saturation"), "source": result["path"]}
    if root is None:
        root = data_dir() / "predictions"
    path = Path(root) / result["experiment"] / result["protocol"] / f"{Path(result['path']).stem}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if record["results_file"]["sha256"] != (got := sha256(result["path"])):
        raise ValueError(f"{path}: made for another version of {result['path']} (SHA-256 "
                         f"{record['results_file']['sha256'][:12]}..., the file has {got[:12]}...); "
                         "rerun python -m arnn_lite.experiments.predictions")
    return {"predictions": record["predictions"], "labels": record["labels"],
            "health": record["health"], "mask_saturation": record["mask_saturation"],
            "source": str(path)}
