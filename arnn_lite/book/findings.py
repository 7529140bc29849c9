"""The book's claims as data, and one verdict row per claim computed from results files.

The page *What we reproduced* (``book/findings.ipynb``) renders :func:`findings` as a table;
the intro prints :func:`summary`. A :class:`Claim` names the two models it compares (A, the
one the paper says is better, and B) and the folders under ``data/results`` that may hold
their runs, **in order of preference**: the first folder where both models have a results
file for at least one common seed is used, and the row names it. A model's seeds are
``<stem>.json`` (seed 0) and ``<stem>_seed<N>.json`` (:func:`~arnn_lite.experiments.common.
results_stem`). To add a source, add one line to a ``*_SOURCES`` tuple below.

The test is the book's one: per seed, :func:`arnn_lite.stats.compare` on the per-item
predictions (:func:`arnn_lite.experiments.results.read_predictions`), seeds pooled by
:func:`arnn_lite.stats.verdict`. A seed in which either model did not train (a constant
prediction or a saturated mask stage, :func:`arnn_lite.stats.health`) is left out, and the
row says so; with none left the comparison is ``void``. The MGAN mask claim is tested the
same way on a continuous measure: per seed, :func:`arnn_lite.stats.compare_values` on each
test face's mask TV over the true hair, read with the masks' IoU with the hair (a mask that
misses the hair voids it). Labels: the four of
:data:`arnn_lite.stats.VERDICTS`, plus ``void``, ``not tested`` (results without what the
test needs) and ``not run`` (no results in any source).
"""

from __future__ import annotations

import dataclasses
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .. import stats
from ..datasets.mbg import config_version
from ..experiments import results
from . import paper
from .seeds import settings_differ

__all__ = ["CAMPAIGN", "SEEDS_WANTED", "TARGET_SE", "LABELS", "Model", "Claim", "Finding",
           "CLAIMS", "COLUMNS", "seed_runs", "pick_source", "evaluate", "findings", "table",
           "counts", "summary", "settle_list", "budget", "runs_used", "rank_test", "LEARNED_RATIO",
           "probes", "PROBE_COLUMNS", "CAMPAIGN_FOLDERS", "CAMPAIGN_COLUMNS", "learned",
           "CAMPAIGN_PLAN_COLUMNS", "campaign_plan"]

CAMPAIGN = "cpu"  # the CPU reproduction campaign's protocol name (rename here if it changes)
SEEDS_WANTED = 3  # the campaign's plan: at least three seeds for every compared pair
TARGET_SE = 0.01  # the campaign's power target: a paired standard error of at most 1 point
LABELS = stats.VERDICTS + ("void", "not tested", "not run")

# Candidate folders under data/results, most wanted first: one line per source.
MBG_SOURCES = (
    f"mbg/{CAMPAIGN}",          # the paper's MBG, campaign protocol
    f"mbg_narrow/{CAMPAIGN}",   # ours: the CPU-scale MBG variant, campaign protocol
    "mbg/custom",
    "mbg_v2/book",              # generator v2, book protocol
    "mbg/book",                 # generator v1 (shortcut), book protocol
)
INV_SOURCES = (
    f"mbg_inv/{CAMPAIGN}",
    f"mbg_inv_narrow/{CAMPAIGN}",
    "mbg_inv/custom",
    "mbg_inv/book",
)
SCALE_SOURCES = (f"mbg_scale/{CAMPAIGN}", "mbg_scale/custom", "mbg_scale/book")
CBAM_SOURCES = (f"cbam/{CAMPAIGN}", "cbam/custom", "cbam/book")
VQA_SOURCES = (f"vqa/{CAMPAIGN}", "vqa/custom", "vqa/book")
MGAN_SOURCES = (f"mgan/{CAMPAIGN}", "mgan/custom", "mgan/book")


@dataclass(frozen=True)
class Model:
    """One compared model: its results-file ``stem``, its ``name`` on the page and the CLI
    ``option`` that trains it (for the row's "what would settle it")."""
    stem: str
    name: str
    option: str


@dataclass(frozen=True)
class Claim:
    """One claim our sources make, as the book tests it: "A beats B" (``kind="accuracy"``,
    paired per-item test), "A takes less time per training step than B" (``"time"``) or
    "A's masks are more uniform over the hair" (``"masks"``). ``claimed``: the paper's effect
    A - B as a fraction, where our sources give one."""
    key: str
    claim: str
    about: str
    paper: str
    a: Model
    b: Model
    sources: tuple[str, ...]
    module: str
    claimed: float | None = None
    kind: str = "accuracy"


@dataclass(frozen=True)
class Finding:
    """One row of the page: the claim, what the paper says, what our runs say and the label.
    ``source`` is the folder used (None: not run), ``seeds`` the seeds compared."""
    claim: Claim
    label: str
    reason: str
    source: str | None = None
    seeds: tuple[int, ...] = ()
    ours: str = "no results yet"
    protocol: str = "–"
    test: str = "–"
    trained: str = "–"
    settle: str = ""
    verdict: stats.Verdict | None = field(default=None, compare=False)
    needed: tuple[tuple[str, str, int, float], ...] = ()  # (source, stem, seed, minutes) to run

    def row(self) -> dict:
        """The row for :func:`table`."""
        return {"claim": self.claim.claim, "verdict": f"**{self.label}**", "the paper's": self.claim.paper,
                "ours": self.ours, "both trained?": self.trained, "source and protocol": self.protocol,
                "test": self.test}


# --------------------------------------------------------------------------- the claims
def _unet(depth: int) -> Claim:
    """Supplement Table 1: ARNN on top of a depth-``depth`` U-Net (numbers from paper.py)."""
    base, top = (paper.paper_row("mbg", m) for m in (f"unet{depth}", f"unet{depth}_arnn"))
    gain = top["values"]["total"] - base["values"]["total"]
    return Claim(
        f"unet{depth}", f"ARNN on top of UNet d={depth} raises MBG accuracy",
        f"The supplement's Table 1 puts ARNN on top of a depth-{depth} U-Net attention "
        "(the U-Net computes ARNN's local context) and reports MBG colour accuracy with and "
        "without it.",
        f"supplement Table 1: UNet d={depth} + ARNN {top['values']['total']:.2f}% vs UNet "
        f"d={depth} {base['values']['total']:.2f}% ({gain:+.2f} points)",
        Model(f"unet{depth}_arnn", f"UNet d={depth} + ARNN", f"--attention unet{depth}_arnn"),
        Model(f"unet{depth}", f"UNet d={depth}", f"--attention unet{depth}"),
        MBG_SOURCES, "mbg", claimed=gain / 100)


_MAIN = "the main paper's numbers for it are not in our sources"


def _capacity() -> str:
    """MBGNet's parameter counts with CTX, ARNN and CTX-wide, computed from the models."""
    from ..models.mbg import MBGNet
    from ..models.zoo import matched_context_channels

    count = {a: sum(p.numel() for p in MBGNet(a).parameters()) for a in ("ctx", "arnn", "ctx_wide")}
    return (f"in MBGNet: CTX {count['ctx']:,} parameters, ARNN {count['arnn']:,} "
            f"({count['arnn'] / count['ctx'] - 1:+.0%}), CTX-wide {count['ctx_wide']:,} with a "
            f"{matched_context_channels(32, 10)}-channel context instead of 32")
CLAIMS = (
    _unet(2),
    _unet(3),
    Claim("arnn_ctx", "ARNN beats CTX on MBG",
          "On MBG (name the colour of the queried digit), ARNN against CTX, the local "
          "attention with the same k×k context: the core claim that structure across the mask "
          "helps.",
          "supplement §1 and Table 2: ARNN adds global structure to a local attention; "
          f"{_MAIN}",
          Model("arnn", "ARNN", "--attention arnn"), Model("ctx", "CTX", "--attention ctx"),
          MBG_SOURCES, "mbg"),
    Claim("arnn_ctx_wide", "ARNN beats a CTX with its parameter count on MBG",
          "ARNN has more parameters than CTX (its two LSTM scans). CTX-wide widens CTX's k×k "
          "context until it has at least as many parameters as ARNN "
          f"({_capacity()}). If ARNN beats CTX but not CTX-wide, the extra parameters, not "
          "the structure, would explain the gain.",
          f"not a claim of the paper: our control for ARNN's larger size; {_MAIN}",
          Model("arnn", "ARNN", "--attention arnn"), Model("ctx_wide", "CTX-wide", "--attention ctx_wide"),
          MBG_SOURCES, "mbg"),
    Claim("ctx_noctx", "CTX beats ¬CTX on MBG",
          "On MBG, CTX (k×k context) against ¬CTX (1×1, no context): does local context help "
          "at all?",
          f"supplement Table 2 lists both as baselines; {_MAIN}",
          Model("ctx", "CTX", "--attention ctx"), Model("noctx", "¬CTX", "--attention noctx"),
          MBG_SOURCES, "mbg"),
    Claim("inverse", "ARNN beats CTX on MBGⁱⁿᵛ",
          "On MBGⁱⁿᵛ (name the digit of the queried colour) the supplement shows ARNN's masks "
          "covering the whole digit while the others cover part of it or same-coloured "
          "background, which it says leads to wrong answers. We test that consequence: "
          "accuracy, paired.",
          "supplement §3.2, Figures 8-10 (pictures only): ARNN covers the whole digit, the "
          "other mechanisms part of it or background of its colour, leading to wrong answers",
          Model("arnn", "ARNN", "--attention arnn"), Model("ctx", "CTX", "--attention ctx"),
          INV_SOURCES, "mbg"),
    Claim("brnn_accuracy", "BRNNᵟ keeps ARNN's accuracy",
          "The scalability study puts ARNN or its block-wise version BRNNᵟ after an extra "
          "front stack. Tested as BRNNᵟ against ARNN: *opposite* means BRNNᵟ loses accuracy; "
          "*inconclusive* means no loss was found, and the reason gives the smallest loss that "
          "could have been seen.",
          f"supplement Table 3 describes the networks; {_MAIN}",
          Model("front_brnn", "BRNNᵟ", "--attention brnn"), Model("front_arnn", "ARNN", "--attention arnn"),
          SCALE_SOURCES, "scalability"),
    Claim("brnn_time", "BRNNᵟ takes less time per training step than ARNN",
          "The same two networks, timed: BRNNᵟ scans a grid δ times coarser, so it has fewer "
          "sequential steps.",
          f"supplement §1: ARNN's structure comes at a cost in time; {_MAIN}",
          Model("front_brnn", "BRNNᵟ", "--attention brnn"), Model("front_arnn", "ARNN", "--attention arnn"),
          SCALE_SOURCES, "scalability", kind="time"),
    Claim("cbam", "CBAM+ARNN beats CBAM",
          "Image classification with CBAM's spatial gate replaced by ARNN (3×3 context for "
          "both), same recipe.",
          f"supplement §2.2 describes CBAM+ARNN; {_MAIN} (CIFAR-100)",
          Model("arnn", "CBAM+ARNN", "--attention arnn"), Model("cbam", "CBAM", "--attention cbam"),
          CBAM_SOURCES, "cbam"),
    Claim("vqa", "MCB+ARNN beats MCB+ATT",
          "Visual question answering with MCB's attention (two 1×1 convolutions) replaced by "
          "ARNN with a 1×1 context.",
          f"supplement §2.3 describes MCB+ARNN; {_MAIN} (VQA)",
          Model("arnn", "MCB+ARNN", "--attention arnn"), Model("att", "MCB+ATT", "--attention att"),
          VQA_SOURCES, "vqa"),
    Claim("mgan", "MGAN+ARNN's hair masks are more uniform",
          "Hair-colour translation with ModularGAN's transformer attention replaced by ARNN. "
          "On our synthetic faces the true hair mask is known, so uniformity over the hair is "
          "measured: the mask's total variation (TV) over true hair positions, lower is more "
          "uniform, read with the mask's IoU with the hair (a constant mask has TV 0 without "
          "finding the hair).",
          "supplement §3.3, Figures 11-12 (pictures only): MGAN+ARNN's masks are more uniform "
          "and continuous over the hair, MGAN's have sharp discontinuities",
          Model("arnn", "MGAN+ARNN", "--attention arnn"), Model("mgan", "MGAN", "--attention mgan"),
          MGAN_SOURCES, "mgan", kind="masks"),
)


# --------------------------------------------------------------------------- finding runs
def _default_root(kind: str) -> Path:
    from . import data_dir
    return data_dir() / kind


def seed_runs(folder, stem: str) -> dict[int, dict]:
    """``{seed: results file}`` of one model in ``folder``: ``<stem>.json`` is seed 0,
    ``<stem>_seed<N>.json`` seed N. Each file is validated and carries its ``path``; a file
    whose recorded seed differs from its name's is a ``ValueError``."""
    folder, found = Path(folder), {}
    pattern = re.compile(rf"^{re.escape(stem)}(?:_seed(\d+))?$")
    for path in sorted(folder.glob(f"{stem}*.json")) if folder.is_dir() else []:
        match = pattern.match(path.stem)
        if not match:
            continue
        seed = int(match.group(1) or 0)
        result = {**results.read_result(path), "path": str(path)}
        if result["provenance"]["seed"] != seed:
            raise ValueError(f"{path}: its name says seed {seed}, its provenance records seed "
                             f"{result['provenance']['seed']}")
        found[seed] = result
    return found


def pick_source(claim: Claim, root=None):
    """``(source, runs of A, runs of B, seeds left out)`` from the first of ``claim.sources``
    (folders under ``root``, default ``data/results``) where both models have a run with a
    common seed; ``None`` when no source has both. The runs dicts hold the common seeds whose
    configs, apart from the seed, equal those of the lowest common seed (a rerun with another
    generator or size in the same folder is not pooled with it: it is left out, and named)."""
    root = Path(root) if root is not None else _default_root("results")
    for source in claim.sources:
        a, b = seed_runs(root / source, claim.a.stem), seed_runs(root / source, claim.b.stem)
        common = sorted(set(a) & set(b))
        if common:
            same = [s for s in common if all(_same_config(runs[s], runs[common[0]]) for runs in (a, b))]
            left_out = tuple(s for s in common if s not in same)
            return source, {s: a[s] for s in same}, {s: b[s] for s in same}, left_out
    return None


def _same_config(run: dict, reference: dict) -> bool:
    """Whether two runs of one model differ only in their seed (:func:`~arnn_lite.book.seeds.settings_differ`)."""
    return not settings_differ({0: reference, 1: run})


# --------------------------------------------------------------------------- describing runs
# v1 laid the queried digit out first, so it was usually the largest: answering for the largest
# digit, without reading the query, beats chance on MBG, MBGⁱⁿᵛ and the scalability data alike
# (arnn_lite.datasets.mbg.shortcut_report measures it).
_SHORTCUT = {"mbg", "mbg_inv", "mbg_scale"}


def _data_notes(result: dict) -> list[str]:
    """What a reader must know about a run's data, from its config."""
    c, experiment, notes = result["config"], result["experiment"], []
    if experiment in ("mbg", "mbg_inv", "mbg_scale"):
        version = config_version(c)
        note = f"MBG generator v{version}"
        if version == 1 and experiment in _SHORTCUT:
            note += ", with its shortcut (chapter 08)"
        notes.append(note)
        if c.get("variant", "paper") != "paper":
            notes.append(f"ours: the MBG variant {c['variant']!r}, not the paper's task")
    if c.get("dataset") == "mnist":
        notes.append("cluttered MNIST, not CIFAR-100")
    if c.get("dataset") == "synthetic":
        notes.append("synthetic faces, not CelebA")
    if c.get("data") == "synthetic scenes":
        notes.append("synthetic scenes, not VQA v2")
    return notes


def _protocol(source: str, runs: list[dict], left_out=()) -> str:
    """The row's "source and protocol" cell."""
    first = runs[0]
    c = first["config"]
    seeds = sorted({r["provenance"]["seed"] for r in runs})
    sizes = (f", {c['train']:,} train / {c['test']:,} test items"
             if isinstance(c.get("train"), int) and isinstance(c.get("test"), int) else "")
    notes = _data_notes(first)
    if any(r["provenance"]["git_commit"].endswith("+dirty") for r in runs):
        notes.append("some runs +dirty")
    if left_out:
        notes.append(f"seeds {', '.join(map(str, left_out))} left out: their config differs from "
                     f"seed {seeds[0]}'s")
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else "seeds " + ", ".join(map(str, seeds))
    return (f"`{source}`: {first['protocol']} protocol{sizes}, {seed_text}"
            + "".join(f"; {n}" for n in notes))


def _mean(values, fmt="{:.1%}") -> str:
    """A metric over seeds: the value for one seed, else mean and sample SD."""
    s = stats.aggregate_seeds(values)
    return fmt.format(s.mean) if s.n == 1 else f"{fmt.format(s.mean)} (SD {fmt.format(s.std)}, {s.n} seeds)"


def _minutes(runs: list[dict]) -> float:
    return statistics.mean(r["provenance"]["duration_s"] for r in runs) / 60


def _command(run: dict, seed: int) -> str:
    """A run's recorded command, for another ``seed``."""
    command = re.sub(r"\s--(seed[ =]\d+|overwrite|resume)\b", "", run["provenance"]["command"])
    return f"{command} --seed {seed}"


def _missing_seeds(runs: dict) -> list[int]:
    """The lowest seeds a model still needs for :data:`SEEDS_WANTED` of them."""
    return [s for s in range(SEEDS_WANTED + max(runs)) if s not in runs][:max(0, SEEDS_WANTED - len(runs))]


def _more_seeds(claim: Claim, ra: dict, rb: dict) -> str:
    """What more seeds would cost: the missing seeds, runs, recorded minutes, a command."""
    missing = _missing_seeds(ra)
    if not missing:
        return ""
    runs = list(ra.values()) + list(rb.values())
    seeds = ", ".join(map(str, missing))
    return (f"seeds {seeds} for {claim.a.name} and {claim.b.name}: {2 * len(missing)} runs at "
            f"about {_minutes(runs):.0f} minutes each (the mean recorded run time in this source), "
            f"e.g. `{_command(rb[min(rb)], missing[0])}`")


# --------------------------------------------------------------------------- the tests
def _health(result: dict, pred_root) -> str:
    from ..experiments.predictions import health_label
    return health_label(result, pred_root)


def _accuracy(claim: Claim, source: str, ra: dict, rb: dict, pred_root, left_out=()) -> Finding:
    seeds = tuple(ra)
    runs = list(ra.values()) + list(rb.values())
    acc = {m.name: [r["metrics"]["test"]["accuracy"] for r in rs.values()]
           for m, rs in ((claim.a, ra), (claim.b, rb))}
    ours = f"{claim.a.name} {_mean(acc[claim.a.name])}, {claim.b.name} {_mean(acc[claim.b.name])}"
    base = dict(claim=claim, source=source, seeds=seeds, ours=ours,
                protocol=_protocol(source, runs, left_out))
    labels = {s: (_health(ra[s], pred_root), _health(rb[s], pred_root)) for s in seeds}
    trained = "; ".join(f"{m.name}: {h[k]} (seed {s})" for s, h in labels.items()
                        for k, m in enumerate((claim.a, claim.b)) if h[k] != "ok") or "both trained"
    if all(h == ("unknown (no predictions)",) * 2 for h in labels.values()):
        trained = "unknown (no predictions)"
    preds = {s: (results.read_predictions(ra[s], pred_root), results.read_predictions(rb[s], pred_root))
             for s in seeds}
    absent = sorted({m.name for s in seeds for m, p in zip((claim.a, claim.b), preds[s]) if p is None})
    if absent:
        gap = statistics.mean(acc[claim.a.name]) - statistics.mean(acc[claim.b.name])
        return Finding(**base, label="not tested", trained=trained, test="none possible",
                       reason=f"No per-item predictions for {' and '.join(absent)} (weights not "
                              f"shipped), so no paired test; the recorded accuracies differ by "
                              f"{100 * gap:+.1f} points ({claim.a.name} − {claim.b.name}), untested.",
                       settle="rerun both with today's code, which keeps per-item predictions; "
                              + (_more_seeds(claim, ra, rb) or "then pool the seeds"))
    void = {s for s, h in labels.items() if h != ("ok", "ok")}
    kept = [s for s in seeds if s not in void]
    test = "paired"
    if not kept:
        failed = sorted({m.name for h in labels.values()
                         for m, x in zip((claim.a, claim.b), h) if x != "ok"})
        return Finding(**base, label="void", trained=trained, test=test,
                       reason=f"No seed in which both models trained ({trained}): a gap to a "
                              "model that did not train says nothing about attention.",
                       settle=f"runs of {' and '.join(failed)} that train (a recipe under which "
                              "both models learn), then "
                              + (_more_seeds(claim, ra, rb) or "the paired test"))
    comparisons = []
    for s in kept:
        pa, pb = preds[s]
        if pa["labels"] != pb["labels"]:
            return Finding(**base, label="not tested", trained=trained, test=test,
                           reason=f"Seed {s}: the two runs were tested on different items "
                                  f"({pa['source']}, {pb['source']}).",
                           settle="rerun both on the same test split")
        comparisons.append(stats.compare(pa["predictions"], pb["predictions"], pa["labels"]))
    v = stats.verdict(comparisons, claim.claimed, a=claim.a.name, b=claim.b.name)
    pvalues = ", ".join(f"{c.mcnemar.p_value:.3g} (seed {s})" for s, c in zip(kept, comparisons))
    reason = v.reason + ("" if not void else
                         f" Seeds left out, a model did not train: {', '.join(map(str, sorted(void)))}.")
    n = comparisons[0].n
    return Finding(**base, label=v.label, reason=reason, trained=trained, verdict=v,
                   test=f"paired; McNemar p = {pvalues}; {n:,} test items",
                   settle=_settle_power(claim, ra, rb, v, n))


def _settle_power(claim: Claim, ra: dict, rb: dict, v: stats.Verdict, n: int) -> str:
    """How many test items a paired SE of :data:`TARGET_SE` needs, and the seeds missing."""
    parts = []
    if v.label == "inconclusive" and v.se > TARGET_SE:
        parts.append(f"about {math.ceil(n * (v.se / TARGET_SE) ** 2):,} test items for a paired "
                     f"SE of {100 * TARGET_SE:.0f} point (now {n:,} items, SE "
                     f"{100 * v.se:.1f} points)")
    if more := _more_seeds(claim, ra, rb):
        parts.append(more)
    return "; ".join(parts)


def rank_test(x, y) -> float:
    """Exact two-sided Mann-Whitney test of "x and y come from one distribution": the
    probability, over every way of splitting the pooled values into groups of len(x) and
    len(y), of a U statistic at least as far from its mean as the observed one (ties count
    half). Small samples only (it counts splits by dynamic programming)."""
    n, m = len(x), len(y)
    if n < 1 or m < 1:
        raise ValueError(f"x, y: expected at least one value each, got {n} and {m}")
    u = sum((a > b) + 0.5 * (a == b) for a in x for b in y)
    # ways[i][j][k]: splits of i x-values and j y-values with U = k (U counts x above y)
    ways = [[[0] * (n * m + 1) for _ in range(m + 1)] for _ in range(n + 1)]
    for j in range(m + 1):
        ways[0][j][0] = 1
    for i in range(1, n + 1):
        ways[i][0][0] = 1
        for j in range(1, m + 1):
            for k in range(n * m + 1):  # the largest value is an x (beats j ys) or a y
                ways[i][j][k] = (ways[i - 1][j][k - j] if k >= j else 0) + ways[i][j - 1][k]
    total, centre = math.comb(n + m, n), n * m / 2
    extreme = sum(c for k, c in enumerate(ways[n][m]) if abs(k - centre) >= abs(u - centre) - 1e-9)
    return min(1.0, extreme / total)


def _time(claim: Claim, source: str, ra: dict, rb: dict, pred_root, left_out=(),
          level=0.95) -> Finding:
    seeds = tuple(ra)
    runs = list(ra.values()) + list(rb.values())
    steps = {m.name: [t for r in rs.values() for t in r["metrics"]["timing"]["step_times"]]
             for m, rs in ((claim.a, ra), (claim.b, rb))}
    ta, tb = steps[claim.a.name], steps[claim.b.name]
    ratio = statistics.median(ta) / statistics.median(tb)
    ours = (f"median {statistics.median(ta):.2f} s ({claim.a.name}) vs "
            f"{statistics.median(tb):.2f} s ({claim.b.name}) per training step: ratio {ratio:.2f}")
    devices = sorted({r["provenance"]["device"] for r in runs})
    base = dict(claim=claim, source=source, seeds=seeds, ours=ours,
                protocol=_protocol(source, runs, left_out), trained="n/a (a timing)",
                test=f"rank test on {len(ta)} and {len(tb)} timed training steps")
    if len(devices) > 1:
        return Finding(**base, label="void", reason=f"Timed on different devices ({'; '.join(devices)}).",
                       settle="time both on one machine")
    p = rank_test(ta, tb)
    smallest = 2 / math.comb(len(ta) + len(tb), len(ta))
    alpha = 1 - level
    if p < alpha:
        label = "reproduced" if ratio < 1 else "opposite"
        reason = (f"{claim.a.name if ratio < 1 else claim.b.name} takes less time per step "
                  f"(ratio {ratio:.2f}, p = {p:.2g}, {devices[0]}).")
    else:
        label = "inconclusive"
        reason = (f"Ratio {ratio:.2f} with p = {p:.2g}; with {len(ta)} and {len(tb)} timed steps "
                  f"the smallest p this test can give is {smallest:.2g}.")
    extra = "more timed steps per run (`--timing-steps`)"
    more = _more_seeds(claim, ra, rb)
    return Finding(**base, label=label, reason=reason, settle=extra + (f"; {more}" if more else ""))


MASK_KEYS = ("mask_tv_hair", "mask_iou", "mask_mean_hair", "mask_mean_outside")
MASK_IOU_VOID = 0.5  # A's mean IoU with the hair under this share of B's voids the TV comparison
MASK_IOU_LOW = 0.8  # under this share of B's, the reason warns that A's masks find less hair


def _per_face(run: dict, key: str):
    """A run's per-face values of ``key`` as a list, or None (files written before them)."""
    values = (run["metrics"]["test"].get("per_face") or {}).get(key)
    return values if isinstance(values, list) and len(values) >= 2 else None


def _faces(values: list, faces) -> list:
    """Per-pair values averaged per face when the file holds two pairs per face (the two
    other colours, consecutive: :func:`~arnn_lite.experiments.mgan_eval.translation_pairs`):
    a face's two translations are not independent items. Else the pairs unchanged."""
    if isinstance(faces, int) and len(values) == 2 * faces:
        return [(values[2 * i] + values[2 * i + 1]) / 2 for i in range(faces)]
    return values


def _masks(claim: Claim, source: str, ra: dict, rb: dict, pred_root, left_out=()) -> Finding:
    seeds = tuple(ra)
    runs = list(ra.values()) + list(rb.values())
    value = {(m.name, k): [r["metrics"]["test"][k] for r in rs.values()]
             for m, rs in ((claim.a, ra), (claim.b, rb)) for k in MASK_KEYS}
    a, b = claim.a.name, claim.b.name
    tv, iou = ({m: _mean(value[m, key], "{:.3f}") for m in (a, b)} for key in ("mask_tv_hair", "mask_iou"))
    ours = (f"mask TV over the true hair (lower is more uniform): {a} {tv[a]}, {b} {tv[b]}; "
            f"IoU with the true hair: {a} {iou[a]}, {b} {iou[b]}")
    contrast = {m: statistics.mean(value[m, "mask_mean_hair"])
                - statistics.mean(value[m, "mask_mean_outside"]) for m in (a, b)}
    trained = ("no health check for GAN masks; mask mean on the hair minus off it: "
               + ", ".join(f"{m} {c:+.3f}" for m, c in contrast.items()))
    base = dict(claim=claim, source=source, seeds=seeds, ours=ours, protocol=_protocol(source, runs, left_out),
                trained=trained)
    lists = [_per_face(r, k) for r in runs for k in ("mask_tv_hair", "mask_iou")]
    if any(v is None for v in lists) or len({len(v) for v in lists}) > 1:
        return _masks_untested(claim, base, ra, rb)
    return _masks_paired(claim, base, ra, rb)


def _masks_paired(claim: Claim, base: dict, ra: dict, rb: dict) -> Finding:
    """The mask row when every run keeps per-face values: TV paired per seed, seeds pooled."""
    a, b = claim.a.name, claim.b.name
    faces = ra[min(ra)]["config"].get("test")
    per = {(m, k): {s: _faces(_per_face(r, k), faces) for s, r in rs.items()}
           for m, rs in ((a, ra), (b, rb)) for k in ("mask_tv_hair", "mask_iou")}
    comparisons = [stats.compare_values(per[a, "mask_tv_hair"][s], per[b, "mask_tv_hair"][s]) for s in ra]
    v = stats.verdict(comparisons, a=a, b=b, unit="mask TV")
    n, k = comparisons[0].n, len(comparisons)
    by_face = n == faces and n < len(_per_face(ra[min(ra)], "mask_tv_hair"))
    item = "face" if by_face else "translation pair"
    test = (f"paired over {n:,} {item}s, {k} seed{'s' * (k > 1)}: per {item}, {b}'s mask TV minus {a}'s"
            + ("; a face's two translations averaged" if by_face else ""))
    iou = {m: statistics.mean(x for values in per[m, "mask_iou"].values() for x in values) for m in (a, b)}
    ratio = iou[a] / iou[b] if iou[b] > 0 else math.inf
    found = f"IoU with the true hair: {a} {iou[a]:.3f}, {b} {iou[b]:.3f}"
    more = _more_seeds(claim, ra, rb)
    if ratio < MASK_IOU_VOID:
        return Finding(**base, label="void", test=test,
                       reason=(f"{a}'s masks match the true hair far worse than {b}'s, a mean IoU under half "
                               f"of {b}'s ({found}): a mask that misses the hair can be uniform (a constant "
                               f"mask has TV 0), so a lower TV is no win. The TV test alone: {v.reason}"),
                       settle=f"{a} runs whose masks find the hair; " + (more or "then the paired test"))
    reason = v.reason
    if ratio < MASK_IOU_LOW:
        reason += (f" But {a}'s masks overlap the true hair less ({found}): part of a lower TV may come "
                   "from a mask that covers less of the hair, not one more uniform over it.")
    else:
        reason += f" {found}."
    settle = "; ".join(x for x in (("more test faces (`--test`)" if v.label == "inconclusive" else ""),
                                   more) if x)
    return Finding(**base, label=v.label, reason=reason, test=test, verdict=v, settle=settle)


def _masks_untested(claim: Claim, base: dict, ra: dict, rb: dict) -> Finding:
    """The mask row for results files without per-face values (written before they were kept)."""
    seeds, n = base["seeds"], ra[min(ra)]["config"].get("test")
    return Finding(**base, label="not tested", test="none possible",
                   reason=("The measurement against the true hair masks is in the results files "
                           f"(TV over true hair positions, IoU with the true hair), but only as "
                           f"means over the {n} test faces, with no per-face values, and "
                           f"{len(seeds)} seed{'s' * (len(seeds) > 1)} per model: no test of the "
                           "difference is possible."),
                   settle="per-face mask measures in the results files (`arnn_lite.experiments."
                          "mgan_eval`) for a paired test over faces; "
                          + (_more_seeds(claim, ra, rb) or "seeds pooled"))


def _not_run(claim: Claim) -> Finding:
    return Finding(claim=claim, label="not run",
                   reason=f"No source holds runs of both {claim.a.name} and {claim.b.name} "
                          f"(looked in {', '.join(claim.sources)}).",
                   settle=f"`python -m arnn_lite.experiments.{claim.module} {claim.a.option}` and "
                          f"`{claim.b.option}` with seeds 0-{SEEDS_WANTED - 1}, results in one of "
                          f"{', '.join(claim.sources)}")


KINDS = {"accuracy": _accuracy, "time": _time, "masks": _masks}


def evaluate(claim: Claim, root=None, predictions_root=None) -> Finding:
    """The row of one claim: its source (:func:`pick_source`), the test its kind calls for,
    and the label. ``root``: the results folder (default ``data/results``);
    ``predictions_root``: the predictions folder (default: ``predictions`` next to ``root``)."""
    if claim.kind not in KINDS:
        raise ValueError(f"claim.kind: expected one of {tuple(KINDS)}, got {claim.kind!r}")
    picked = pick_source(claim, root)
    if picked is None:
        return _campaign_plan(_not_run(claim), root)
    if predictions_root is None and root is not None:
        predictions_root = Path(root).parent / "predictions"
    pred_root = Path(predictions_root) if predictions_root is not None else None
    source, ra, rb, left_out = picked
    row = KINDS[claim.kind](claim, source, ra, rb, pred_root, left_out)
    needed = tuple((source, m.stem, seed, _minutes(list(runs.values())))
                   for m, runs in ((claim.a, ra), (claim.b, rb)) for seed in _missing_seeds(runs))
    return _campaign_plan(dataclasses.replace(row, needed=needed), root)


def _campaign_plan(row: Finding, root=None) -> Finding:
    """``row`` with its "what would settle it" and its needed runs taken from the CPU campaign's
    plan, for a claim whose sources hold a campaign folder and whose two models the plan still
    has runs of: the campaign's runs, not more runs like those in a smaller source, settle it
    (their commands, sizes and estimated CPU hours come from :mod:`arnn_lite.experiments.campaign`)."""
    from ..experiments import campaign

    claim, stems = row.claim, (row.claim.a.stem, row.claim.b.stem)
    runs = [run for run in campaign.PLAN if run.folder in claim.sources and run.attention in stems]
    if not runs:
        return row
    planned = [(run, status) for run, status in zip(runs, campaign.status(root, runs)) if status["state"] != "done"]
    if not planned:
        return row
    minutes = [status["minutes"] or 0.0 for _, status in planned]
    names = ", ".join(f"{claim.a.name if run.attention == claim.a.stem else claim.b.name} seed {run.seed}"
                      for run, _ in planned)
    unknown = sum(status["minutes"] is None for _, status in planned)
    settle = (f"the CPU campaign's runs still to make ({planned[0][0].folder}): {names}; about "
              f"{sum(minutes) / 60:.1f} CPU hours at one thread, estimated from recorded runs"
              + (f" ({unknown} without an estimate)" if unknown else "")
              + "; `python -m arnn_lite.experiments.campaign --run` makes them in the plan's order")
    needed = tuple((run.folder, run.stem, run.seed, m) for (run, _), m in zip(planned, minutes))
    return dataclasses.replace(row, settle=settle, needed=needed)


def findings(root=None, predictions_root=None, claims=CLAIMS) -> list[Finding]:
    """One :class:`Finding` per claim, in the order of ``claims``."""
    return [evaluate(c, root, predictions_root) for c in claims]


# --------------------------------------------------------------------------- for the pages
COLUMNS = ["claim", "verdict", "the paper's", "ours", "both trained?", "source and protocol", "test"]


def table(rows: list[Finding]) -> str:
    """The page's Markdown table, one row per finding (``|`` in a cell is escaped)."""
    cells = [{k: str(v).replace("|", "\\|").replace("\n", " ") for k, v in f.row().items()} for f in rows]
    return results.markdown_table(cells, COLUMNS)


def counts(rows: list[Finding]) -> dict[str, int]:
    """How many rows carry each label, in :data:`LABELS` order (zero counts left out)."""
    return {label: n for label in LABELS if (n := sum(f.label == label for f in rows))}


def summary(rows: list[Finding]) -> list[str]:
    """Two to four sentences on what the experiments found, for the intro."""
    tally = ", ".join(f"{n} {label}" for label, n in counts(rows).items())
    used = [f for f in rows if f.source]
    protocols = sorted({f.source.split("/")[1] for f in used})
    most_seeds = max((len(f.seeds) for f in used), default=0)
    lines = [f"The book tests {len(rows)} claims of the paper, as our sources state them; the "
             f"experiments so far give: {tally}."]
    if used:
        seeds = "one training seed" if most_seeds == 1 else f"at most {most_seeds} training seeds"
        lines.append(f"They rest on runs of the {' and '.join(protocols)} protocol"
                     f"{'s' * (len(protocols) > 1)}, far smaller than the paper's, with {seeds} "
                     "per model.")
    won = [f.claim.claim for f in rows if f.label == "reproduced"]
    lines.append("Reproduced: " + "; ".join(won) + "." if won else
                 "None of them is reproduced yet: the runs that would settle them are listed on "
                 "the findings page.")
    return lines


def runs_used(rows: list[Finding], root=None) -> list[dict]:
    """One dict per results file the rows use (each once): ``file`` (under ``root``, default
    ``data/results``), and its provenance's ``command``, ``commit``, ``device``,
    ``minutes`` and ``started`` (date)."""
    root = Path(root) if root is not None else _default_root("results")
    used = {}
    for f in rows:
        for model in (f.claim.a, f.claim.b) if f.source else ():
            for seed, r in seed_runs(root / f.source, model.stem).items():
                if seed in f.seeds:
                    p = r["provenance"]
                    used[r["path"]] = {"file": f"{f.source}/{Path(r['path']).name}", "command": p["command"],
                                       "commit": p["git_commit"][:12], "device": p["device"],
                                       "minutes": p["duration_s"] / 60, "started": p["started"][:10]}
    return list(used.values())


def budget(rows: list[Finding]) -> tuple[int, float]:
    """The runs the open rows still need for :data:`SEEDS_WANTED` seeds, each counted once
    (rows share runs), and their minutes at the recorded run times: ``(runs, minutes)``."""
    runs = {(source, stem, seed): minutes for f in rows for source, stem, seed, minutes in f.needed}
    return len(runs), sum(runs.values())


def settle_list(rows: list[Finding]) -> list[str]:
    """For each row not settled (inconclusive, void, not tested, not run, or missing seeds),
    what would settle it, with its budget."""
    open_labels = {"inconclusive", "void", "not tested", "not run"}
    return [f"**{f.claim.claim}** ({f.label}): {f.settle}." for f in rows
            if f.settle and (f.label in open_labels or len(f.seeds) < SEEDS_WANTED)]


# --------------------------------------------------------------------------- probes
LEARNED_RATIO = 2.0  # attention counts as learned when the last stage's mass in the box is
# at least this many times a uniform mask's (the campaign's criterion)
PROBE_COLUMNS = ["probe", "model", "variant", "recipe", "images x epochs", "test accuracy",
                 "last-stage mass in box", "uniform mask's", "ratio", "box-shaped mask's", "best ratio",
                 "attention learned", "health"]


def _mask_rows(paths, items: int, name) -> list[dict]:
    """The rows of :func:`probes` for the MBG results files ``paths``; ``name(path)`` labels a row."""
    import torch

    from ..datasets.mbg import MBG, config_generator
    from ..experiments.predictions import health_label
    from ..models.mbg import map_sizes
    from ..models.metrics import box_mask_mass

    rows, shares = [], {}
    for path in paths:
        r = {**results.read_result(path), "path": str(path)}
        c, test = r["config"], r["metrics"]["test"]
        generator = config_generator(c)
        key = (c["test"], c["seed"], r["experiment"] == "mbg_inv", c["canvas"], config_version(c),
               *generator.values())
        if key not in shares:
            ds = MBG("test", *key[:4], version=key[4], **generator)
            boxes = torch.tensor([[x0, y0, x0 + side, y0 + side] for _, side, x0, y0, _ in
                                  (ds.placement(i)[0] for i in range(min(items, ds.size)))])
            last = map_sizes(c["canvas"], stacks=4)[-1]  # the last mask stage of MBGNet
            shares[key] = ds.uniform_share(items), float(box_mask_mass(boxes, c["canvas"], last).mean())
        share, best = shares[key]
        mass = (test.get("mask_mass_in_box") or [None])[-1]
        ratio = None if mass is None else mass / share
        rows.append({"probe": name(path), "run": name(path), "model": c["model"],
                     "variant": c.get("variant", "paper"), "seed": r["provenance"]["seed"],
                     "recipe": f"{c.get('optimizer', 'rmsprop')} lr {c['lr']:g}, batch {c['batch_size']}",
                     "images x epochs": f"{c['train']:,} x {len(r['metrics']['history'])}",
                     "test accuracy": test["accuracy"], "last-stage mass in box": mass,
                     "uniform mask's": share, "ratio": ratio, "box-shaped mask's": best,
                     "best ratio": best / share,
                     "attention learned": None if ratio is None else
                     ("yes" if ratio >= LEARNED_RATIO else "no"), "health": health_label(r)})
    return rows


def probes(root=None, items: int = 300) -> list[dict]:
    """One row per run under ``data/results/probes`` (short runs made to find a protocol on
    which attention is learned on a CPU): its recipe, test accuracy, the last mask stage's
    mass in the queried digit's box, the mass a uniform mask would put there (over the first
    ``items`` test items, :meth:`~arnn_lite.datasets.mbg.MBG.uniform_share`), their ratio and
    whether it reaches :data:`LEARNED_RATIO`; the mass a box-shaped mask at the last stage's
    resolution would put there (:func:`~arnn_lite.models.metrics.box_mask_mass`, the most any
    mask at that resolution can) and its ratio to the uniform share, the ceiling of the
    ratio; and the run's health (a constant prediction or a saturated mask stage). Models
    without a mask get no ratio."""
    root = Path(root) if root is not None else _default_root("results") / "probes"
    paths = sorted(root.glob("*/*.json")) if root.is_dir() else []
    return _mask_rows(paths, items, lambda path: f"{path.parent.name}/{path.stem}")


# The campaign's results folders (arnn_lite.experiments.campaign): MBG and MBGⁱⁿᵛ, narrow variant.
CAMPAIGN_FOLDERS = (f"mbg_narrow/{CAMPAIGN}", f"mbg_inv_narrow/{CAMPAIGN}")
CAMPAIGN_COLUMNS = ["run", "model", "seed", "images x epochs", "test accuracy", "last-stage mass in box",
                    "uniform mask's", "ratio", "best ratio", "attention learned", "health"]


def learned(root=None, items: int = 300, folders=CAMPAIGN_FOLDERS) -> list[dict]:
    """:func:`probes`' rows for the campaign's finished runs: did each model learn where to
    look (the last stage's mass in the box at least :data:`LEARNED_RATIO` times uniform)?"""
    root = Path(root) if root is not None else _default_root("results")
    paths = [p for f in folders if (root / f).is_dir() for p in sorted((root / f).glob("*.json"))]
    return _mask_rows(paths, items, lambda path: f"{path.parent.parent.name}/{path.stem}")


CAMPAIGN_PLAN_COLUMNS = ["run", "state", "epochs", "minutes", "minutes are", "why"]


def campaign_plan(root=None) -> list[dict]:
    """The campaign's planned runs in order, each with its state and its minutes (measured
    when done, else estimated): :func:`arnn_lite.experiments.campaign.status`."""
    from ..experiments import campaign
    return campaign.status(root)
