"""Each test item's prediction for the shipped results files that predate them.

    python -m arnn_lite.experiments.predictions [--only mbg/book ...] [--allow-dirty]

Results files written since runs keep per-item predictions hold them in ``metrics.test``;
the older shipped ones do not. This command reloads each one's shipped weights (SHA-256
checked), rebuilds its model and test split exactly as its config says (MBG with the
generator version it was made with, :func:`~arnn_lite.datasets.mbg.config_version`),
evaluates it with its experiment's own ``evaluate``, **checks that the accuracy equals the
recorded one** (else the file is reported as not reproduced and nothing is written for it),
and writes ``data/predictions/<experiment>/<protocol>/<stem>.json``: the results file it
belongs to (path and SHA-256), predictions and labels (one small int per test item),
the recomputed accuracy, mask saturation per stage, :func:`arnn_lite.stats.health` and
provenance. Chapters read them with :func:`arnn_lite.experiments.results.read_predictions` and compare
two runs paired (:func:`arnn_lite.stats.compare`).

Skipped, with the reason printed: results files without shipped weights (the U-Net runs),
experiments that are not a classification test (MGAN), and VQA v2 runs (data not shipped).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import time
from pathlib import Path

import torch

from .. import stats
from .._files import atomic_write
from .._repo import ROOT, data_dir
from ..datasets.mbg import MBG, config_generator, config_version
from ..datasets.mnist import default_root
from ..train import TrainConfig, load_checkpoint, make_loader, sha256
from . import results
from .common import ArgumentParser, Refused, parse_command, refusals_exit

__all__ = ["EXPERIMENTS", "TOLERANCE", "Outcome", "rebuild", "reproduce", "run", "main",
           "health_label", "paired_row", "reading", "PAIRED_COLUMNS", "PAIRED_FORMATS"]

EXPERIMENTS = ("mbg", "mbg_inv", "mbg_scale", "cbam", "vqa")  # classification runs we can rebuild
TOLERANCE = 1e-9  # recomputed vs recorded test accuracy


@dataclasses.dataclass
class Outcome:
    """What happened to one results file: ``status`` is ``"reproduced"`` (``written`` names
    the predictions file), ``"not reproduced"`` (the accuracy differs: nothing written) or
    ``"skipped"``; ``reason`` says why in words."""
    path: str
    status: str
    reason: str
    written: str | None = None


def _mbg(result, device):
    """MBGNet and test split of an mbg, mbg_inv or mbg_scale results file, and its evaluate."""
    from ..models.mbg import MBGNet
    from .mbg import evaluate, mbg_split

    c, seed = result["config"], result["provenance"]["seed"]
    inverse = result["experiment"] == "mbg_inv"
    if result["experiment"] == "mbg_scale":
        net = MBGNet(c["model"], front=c["front"], block_size=c["block_size"])
    else:
        net = MBGNet(c["model"], num_classes=10 if inverse else 5, query_dim=5 if inverse else 10)
    test = mbg_split(MBG("test", c["test"], seed, inverse, c["canvas"], version=config_version(c),
                         **config_generator(c)), default_root() / "mbg")
    return net, test, evaluate


def _cbam(result, device):
    from ..datasets.cifar import ImageTensors, load_cifar100
    from ..datasets.cluttered import cluttered_mnist
    from ..models.cbam import cbam_resnet
    from .cbam import evaluate

    c, seed = result["config"], result["provenance"]["seed"]
    if c["dataset"] == "mnist":
        test, classes = cluttered_mnist("test", c["test"], seed), 10
    else:  # CIFAR-100's test split is its first ``test`` images, in file order
        images, labels, names = load_cifar100("test")
        test, classes = ImageTensors(images[:c["test"]], labels[:c["test"]]), len(names)
    net = cbam_resnet(c["depth"], classes, c["spatial"], c["context_size"], c["width"])
    return net, test, evaluate


def _vqa(result, device):
    from ..datasets.vqa import VQAScenes
    from .vqa import build_model, evaluate, scene_split

    c, seed = result["config"], result["provenance"]["seed"]
    if c.get("data") != "synthetic scenes":
        raise Refused(f"data: only the synthetic question set can be rebuilt, got {c.get('data')!r}")
    test = scene_split(VQAScenes("test", c["test"], seed, c["canvas"], **c["scene"]), default_root() / "vqa")
    net = build_model(c["attention"], test, seed, **c["model"])
    return net, test, functools.partial(evaluate, qtype_names=test.qtype_names)


BUILDERS = {"mbg": _mbg, "mbg_inv": _mbg, "mbg_scale": _mbg, "cbam": _cbam, "vqa": _vqa}


def rebuild(result, device="cpu"):
    """The model of ``result`` (a results file as read by :func:`~arnn_lite.experiments.results.read_result`,
    with its ``path``) with its shipped weights loaded (SHA-256 checked), its test split and
    its experiment's ``evaluate``. Raises :class:`~.common.Refused` when it cannot be rebuilt."""
    if result["experiment"] not in BUILDERS:
        raise Refused(f"not a classification run this command rebuilds ({', '.join(EXPERIMENTS)}): "
                      f"experiment {result['experiment']!r}")
    record = result.get("checkpoint")
    weights = Path(result["path"]).parent / record["file"] if record else None
    if weights is None or not weights.exists():
        raise Refused(f"no shipped weights ({weights.name if weights else 'none recorded'} is not "
                      "next to the results file)")
    net, test, evaluate = BUILDERS[result["experiment"]](result, device)
    net.load_state_dict(load_checkpoint(weights, record["sha256"]))
    return net.eval().to(device), test, evaluate


def reproduce(path, device="cpu") -> tuple[dict, dict]:
    """Evaluate the shipped model of the results file at ``path`` on its rebuilt test split.

    Returns ``(result, test metrics)``; the metrics hold ``predictions`` and ``labels``
    (one int per test item). Raises :class:`~.common.Refused` when the file cannot be
    rebuilt (no weights, not a classification run)."""
    result = {**results.read_result(path), "path": str(path)}
    if "predictions" in result["metrics"].get("test", {}):
        raise Refused("the results file holds its own predictions")
    net, test, evaluate = rebuild(result, device)
    loader = make_loader(test, TrainConfig(batch_size=result["config"]["batch_size"]), 0, shuffle=False)
    with torch.no_grad():
        return result, evaluate(net, loader, device)


def _write(path, record: dict) -> None:
    """One key per line; the per-item lists stay on one line each (a few KB a file)."""
    compact = {"separators": (",", ":")}
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, **compact if isinstance(v, list) else {})}"
             for k, v in record.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def predictions_record(path, result: dict, test: dict, prov: dict) -> dict:
    """The predictions file's content for the results file at ``path``."""
    saturation = test.get("mask_saturation")
    return {"results_file": {"path": _relative(path), "sha256": sha256(path)},
            "checkpoint": result["checkpoint"],
            "experiment": result["experiment"], "protocol": result["protocol"],
            "accuracy": test["accuracy"], "recorded_accuracy": result["metrics"]["test"]["accuracy"],
            "n": len(test["predictions"]),
            "health": stats.health(test),
            "mask_saturation": saturation if isinstance(saturation, list) else [saturation],
            "provenance": prov,
            "predictions": test["predictions"], "labels": test["labels"]}


def _relative(path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if ROOT in path.parents else str(path)


def _selected(path: Path, root: Path, only) -> bool:
    """Whether ``root/<experiment>/<protocol>/<stem>.json`` matches one of ``only``
    (``"mbg"``, ``"mbg/book"`` or ``"mbg/book/arnn"``); everything when ``only`` is empty."""
    rel = path.relative_to(root).with_suffix("").as_posix()
    return not only or any(rel == o.strip("/") or rel.startswith(o.strip("/") + "/") for o in only)


def run(results_root=None, out_dir=None, only=(), device="cpu", command=None, allow_dirty=False,
        progress=True) -> list[Outcome]:
    """Reproduce every results file under ``results_root`` (default ``data/results``) that
    ``only`` selects and write its predictions file into ``out_dir`` (default
    ``data/predictions``), same relative path. Returns one :class:`Outcome` per file.

    Predictions for the repository's ``data/predictions`` come from a clean worktree
    (a dirty one is refused unless ``allow_dirty``)."""
    root = Path(results_root) if results_root else data_dir() / "results"
    out = Path(out_dir) if out_dir else data_dir() / "predictions"
    if not root.is_dir():
        raise Refused(f"results_root (--results-root): {root} is not a folder")
    commit = results.git_commit()
    shipped = (data_dir() / "predictions").resolve()
    if commit.endswith("+dirty") and not allow_dirty and \
            (out.resolve() == shipped or shipped in out.resolve().parents):
        raise Refused(f"the worktree has uncommitted changes (commit {commit}): predictions in "
                      f"{out} must come from a clean one; pass --allow-dirty to write them anyway")
    paths = [p for p in sorted(root.glob("*/*/*.json")) if _selected(p, root, only)]
    if not paths:
        raise Refused(f"only (--only): no results file under {root} matches {list(only) or 'anything'}")
    outcomes = []
    for path in paths:
        started, t0 = results.now(), time.perf_counter()
        try:
            result, test = reproduce(path, device)
        except Refused as why:
            outcomes.append(Outcome(str(path), "skipped", str(why)))
        else:
            recorded = result["metrics"]["test"]["accuracy"]
            if abs(test["accuracy"] - recorded) > TOLERANCE:
                why = f"recomputed accuracy {test['accuracy']!r}, the file records {recorded!r}"
                outcomes.append(Outcome(str(path), "not reproduced", why))
            else:
                prov = results.provenance(result["provenance"]["seed"], device, started,
                                          time.perf_counter() - t0, command, commit)
                target = out / path.relative_to(root)
                _write(target, predictions_record(path, result, test, prov))
                outcomes.append(Outcome(str(path), "reproduced", f"accuracy {test['accuracy']!r}",
                                        str(target)))
        if progress:
            o = outcomes[-1]
            print(f"{_relative(path)}: {o.status} ({o.reason}, {time.perf_counter() - t0:.1f} s)", flush=True)
    return outcomes


# --------------------------------------------------------------------------- for the chapters
PAIRED_COLUMNS = ["A", "B", "accuracy A", "accuracy B", "A − B (points)", "95% CI (points)",
                  "McNemar p", "discordant: A only / B only", "n", "note"]
PAIRED_FORMATS = {"accuracy A": "{:.1%}", "accuracy B": "{:.1%}", "A − B (points)": "{:+.1f}",
                  "McNemar p": "{:.3g}"}


def health_label(result: dict, root=None) -> str:
    """A results table's health cell for one run: ``ok``, ``DEAD: ...`` (constant prediction
    or saturated stages, :func:`arnn_lite.stats.health`), or ``unknown (no predictions)``."""
    found = results.read_predictions(result, root)
    if found is None:
        return "unknown (no predictions)"
    h = found["health"]
    if not h["attention_dead"]:
        return "ok"
    why = ["predicts one class"] * h["constant_prediction"] + \
          [f"stage {k} mask saturated" for k in h["saturated_stages"]]
    return "DEAD: " + ", ".join(why)


def paired_row(name_a: str, a: dict, name_b: str, b: dict, level: float = 0.95, root=None) -> dict:
    """One row of a paired comparison table (:data:`PAIRED_COLUMNS`) of two loaded results
    files tested on the same items: :func:`arnn_lite.stats.compare` of their per-item
    predictions. Without predictions for either, only the two recorded accuracies (the row's
    note says so); a run whose health flags it dead voids the row (the note says which)."""
    row = {"A": name_a, "B": name_b, "accuracy A": a["metrics"]["test"]["accuracy"],
           "accuracy B": b["metrics"]["test"]["accuracy"]}
    found = {name_a: results.read_predictions(a, root), name_b: results.read_predictions(b, root)}
    missing = [name for name, f in found.items() if f is None]
    if missing:
        return {**row, "note": f"not paired: no predictions for {' and '.join(missing)}"}
    pa, pb = found[name_a], found[name_b]
    if pa["labels"] != pb["labels"]:
        raise ValueError(f"{name_a}, {name_b}: expected the same test items (labels), got "
                         f"{len(pa['labels'])} and {len(pb['labels'])} items that differ")
    c = stats.compare(pa["predictions"], pb["predictions"], pa["labels"], level)
    dead = [name for name, f in found.items() if f["health"]["attention_dead"]]
    return {**row, "accuracy A": c.accuracy_a, "accuracy B": c.accuracy_b,
            "A − B (points)": 100 * c.paired.difference,
            "95% CI (points)": f"{100 * c.paired.low:+.1f} to {100 * c.paired.high:+.1f}",
            "McNemar p": c.mcnemar.p_value,
            "discordant: A only / B only": f"{c.mcnemar.b01} / {c.mcnemar.b10}",
            "n": c.n, "note": f"void: {' and '.join(dead)} dead (see health)" if dead else None}


def reading(row: dict, items: str = "test images") -> str:
    """One sentence generated from a :func:`paired_row`: who is ahead, by how much, the
    McNemar p and what it says at the 5% level (or the row's note: void, not paired)."""
    if "n" not in row:
        return f"{row['A']} vs {row['B']}: {row['note']}"
    diff, p = row["A − B (points)"], row["McNemar p"]
    ahead = "neither" if diff == 0 else row["A"] if diff > 0 else row["B"]
    verdict = row["note"] or (f"a difference on these {items}" if p < 0.05 else "no difference detected")
    return f"{row['A']} vs {row['B']}: {ahead} ahead by {abs(diff):.1f} points, p = {p:.3g}: {verdict}"


def main(argv=None):
    p = ArgumentParser(prog="python -m arnn_lite.experiments.predictions",
                       description="Write each test item's prediction for shipped results files, "
                                   "after checking that their accuracy is reproduced.")
    p.add_argument("--only", nargs="+", default=(), metavar="EXPERIMENT[/PROTOCOL[/STEM]]",
                   help="e.g. mbg/book or mbg_inv/custom/ctx (default: every results file)")
    p.add_argument("--results-root", help="folder of results files (default data/results)")
    p.add_argument("--out-dir", help="where predictions files go (default data/predictions)")
    p.add_argument("--allow-dirty", action="store_true",
                   help="write into data/predictions from a worktree with uncommitted changes")
    a, command = parse_command(p, argv)
    torch.set_num_threads(1)  # the shipped runs' evaluation is reproduced on one thread
    with refusals_exit(p):
        outcomes = run(a.results_root, a.out_dir, a.only, command=command, allow_dirty=a.allow_dirty)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("reproduced", "not reproduced", "skipped")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    if counts["not reproduced"]:
        for o in outcomes:
            if o.status == "not reproduced":
                print(f"NOT REPRODUCED: {o.path}: {o.reason}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
