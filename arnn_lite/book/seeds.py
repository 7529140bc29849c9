"""Several training seeds of one experiment, as chapters 12-14 show them: results files grouped
by model and seed, a table of mean and spread over seeds, and paired comparisons per seed
pooled into one verdict (:func:`arnn_lite.stats.verdict`, chapter 09 explains it).
"""

from __future__ import annotations

from .. import stats
from ..experiments import results
from ..experiments.predictions import health_label, paired_row

__all__ = ["group", "spread", "settings_differ", "spread_rows", "paired_rows", "pooled", "compare_pairs",
           "LINESTYLES", "MARKERS"]

# One line style per seed and one marker per model: curves stay apart in print and in grey.
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v")


def group(found: list[dict], key: str, protocol: str = "book") -> dict[str, dict[int, dict]]:
    """``{model: {seed: results file}}`` of the loaded ``found`` files of ``protocol``;
    the model is ``config[key]`` (``"spatial"``, ``"attention"``), seeds in ascending order."""
    out: dict[str, dict[int, dict]] = {}
    for r in found:
        if r["protocol"] == protocol:
            out.setdefault(r["config"][key], {})[r["provenance"]["seed"]] = r
    return {m: dict(sorted(runs.items())) for m, runs in out.items()}


def spread(values) -> str:
    """``"90.1% ± 0.4 (3 seeds)"``: mean and sample standard deviation in points, or the
    single value with ``(1 seed)``."""
    s = stats.aggregate_seeds(values)
    if s.std is None:
        return f"{s.mean:.1%} (1 seed)"
    return f"{s.mean:.1%} ± {100 * s.std:.1f} ({s.n} seeds)"


def settings_differ(runs: dict) -> list[str]:
    """The config keys, other than the seed, in which the runs of one model (``{seed: results
    file}``) differ from its lowest seed's: a mean over such seeds mixes two protocols."""
    from ..experiments.common import config_diff

    first, keys = runs[min(runs)]["config"], set()
    for r in runs.values():
        keys.update(k for k in config_diff(first, r["config"]) if k != "seed" and not k.endswith(".seed"))
    return sorted(keys)


def spread_rows(groups: dict, names: dict, metrics: dict, root=None) -> list[dict]:
    """One row per model of ``groups`` (in ``names``' order; ``names`` maps model to its
    label): its seeds, each of ``metrics`` (``{column: result -> fraction}``) as
    :func:`spread`, its runs' health (``ok`` when every seed trained, and the settings in which
    its seeds differ, if any: :func:`settings_differ`) and mean minutes."""
    rows = []
    for model, name in names.items():
        runs = groups.get(model)
        if not runs:
            continue
        health = {s: health_label(r, root) for s, r in runs.items()}
        bad = [f"seed {s}: {h}" for s, h in health.items() if h != "ok"]
        differ = settings_differ(runs)
        if differ:
            bad.append(f"seeds differ in {', '.join(differ)}: not one protocol")
        rows.append({"model": name, "seeds": ", ".join(map(str, runs)),
                     **{col: spread([f(r) for r in runs.values()]) for col, f in metrics.items()},
                     "health": "; ".join(bad) if bad else "ok",
                     "minutes (mean)": sum(r["provenance"]["duration_s"] for r in runs.values()) / 60 / len(runs)})
    return rows


def paired_rows(name_a: str, runs_a: dict, name_b: str, runs_b: dict, root=None) -> list[dict]:
    """:func:`~arnn_lite.experiments.predictions.paired_row` for every seed both models have,
    each with a ``seed`` column; a seed whose two runs were tested on different items gets a row
    that says so instead of a comparison."""
    rows = []
    for s in sorted(set(runs_a) & set(runs_b)):
        pa, pb = (results.read_predictions(r[s], root) for r in (runs_a, runs_b))
        if pa is not None and pb is not None and pa["labels"] != pb["labels"]:  # another generator, size or seed
            rows.append({"seed": s, "A": name_a, "B": name_b,
                         "accuracy A": runs_a[s]["metrics"]["test"]["accuracy"],
                         "accuracy B": runs_b[s]["metrics"]["test"]["accuracy"],
                         "note": "not paired: the two runs were tested on different items"})
        else:
            rows.append({"seed": s, **paired_row(name_a, runs_a[s], name_b, runs_b[s], root=root)})
    return rows


def pooled(name_a: str, runs_a: dict, name_b: str, runs_b: dict, root=None) -> stats.Verdict | None:
    """The seeds' paired comparisons of A and B pooled into one :func:`~arnn_lite.stats.verdict`
    on "A beats B", leaving out seeds where either run lacks predictions or did not train
    or were tested on different items (their rows in :func:`paired_rows` say why), and seeds
    tested on another number of items than the first (another protocol); ``None`` when no seed
    is left. Each seed draws its own test items (the data seed is the run's seed);
    :func:`~arnn_lite.stats.verdict`'s item term then treats them as independent items."""
    comparisons = []
    for s in sorted(set(runs_a) & set(runs_b)):
        pa, pb = (results.read_predictions(r[s], root) for r in (runs_a, runs_b))
        if (pa is None or pb is None or pa["health"]["attention_dead"] or pb["health"]["attention_dead"]
                or pa["labels"] != pb["labels"]):
            continue
        comparisons.append(stats.compare(pa["predictions"], pb["predictions"], pa["labels"]))
    comparisons = [c for c in comparisons if c.n == comparisons[0].n]  # one test size (a protocol) only
    return stats.verdict(comparisons, a=name_a, b=name_b) if comparisons else None


def compare_pairs(by_model: dict, names: dict, pairs, root=None) -> tuple[list[dict], list[str]]:
    """Every ``(a, b)`` of ``pairs`` whose two models have runs in ``by_model``: the rows of
    :func:`paired_rows` (one per seed), and one line per pair with its seeds pooled
    (:func:`pooled`), for the table and the lines under it."""
    rows, lines = [], []
    for a, b in pairs:
        if a in by_model and b in by_model:
            rows += paired_rows(names[a], by_model[a], names[b], by_model[b], root)
            v = pooled(names[a], by_model[a], names[b], by_model[b], root)
            lines.append(f"{names[a]} vs {names[b]}, pooled over seeds: "
                         + (f"{v.label}: {v.reason}" if v else "no seed left to pool (the rows' notes say why)"))
    return rows, lines
