"""Paired statistics for two models tested on the same items, seed aggregation, and the
book's verdict vocabulary (DESIGN.md section 6).

Two models scored on the same test items are compared *paired*: per item, A right and B
wrong (or the reverse) is what carries information; items both get right or both get wrong
cancel. Two overlapping unpaired +-2 SE intervals say little, a paired test says more.

Every accuracy and difference here is a fraction (0.024 = 2.4 points), except those of
:func:`compare_values`, which pairs a continuous per-item measure (a mask's total variation
over one face, say) in the measure's own unit. NumPy only: no
torch, no scipy (the tests check against ``scipy.stats`` where it is installed).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["saturation", "VERDICTS", "McNemar", "PairedDifference", "Comparison", "SeedSummary", "Verdict",
           "mcnemar_exact", "paired_difference", "compare", "compare_values", "aggregate_seeds",
           "verdict"]

VERDICTS = ("reproduced", "not reproduced", "opposite", "inconclusive")


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test: ``b01`` items A got right and B wrong, ``b10`` the reverse."""
    b01: int
    b10: int
    p_value: float


@dataclass(frozen=True)
class PairedDifference:
    """Difference A - B over ``n`` paired items (accuracy, or for :func:`compare_values` A's
    advantage in the measure), its SE and ``level`` CI [low, high]."""
    difference: float
    se: float
    low: float
    high: float
    level: float
    n: int


@dataclass(frozen=True, eq=False)
class Comparison:
    """Everything :func:`compare` measures; ``differences`` is the per-item
    ``correct_a - correct_b`` in {-1, 0, 1}, shape (N,), kept so seeds can be pooled.
    From :func:`compare_values`: ``accuracy_a``/``accuracy_b`` are the two means of the
    measure, ``differences`` the per-item amounts by which A is better (float) and
    ``mcnemar`` is None (McNemar counts right/wrong items; a continuous measure has none)."""
    accuracy_a: float
    accuracy_b: float
    paired: PairedDifference
    mcnemar: McNemar | None
    differences: np.ndarray

    @property
    def n(self) -> int:
        return len(self.differences)


@dataclass(frozen=True)
class SeedSummary:
    """A metric over seeds: ``std`` is the sample standard deviation (None for one seed)."""
    mean: float
    std: float | None
    min: float
    max: float
    n: int


@dataclass(frozen=True)
class Verdict:
    """:func:`verdict`'s answer: ``label`` is one of ``VERDICTS``; ``detectable`` is the CI
    half-width, the smallest observed difference that would have been significant."""
    label: str
    difference: float
    se: float
    low: float
    high: float
    detectable: float
    level: float
    seeds: int
    reason: str


# --- input checks ---------------------------------------------------------------------------

def _vector(x, name: str) -> np.ndarray:
    """``x`` as a non-empty 1-d array, or a ``ValueError`` naming ``name``."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d array, one entry per test item, "
                         f"got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one test item, got an empty array")
    return arr


def _same_length(arr: np.ndarray, n: int, name: str, first: str) -> None:
    if len(arr) != n:
        raise ValueError(f"{name}: expected length {n} (the same test items as {first}), "
                         f"got {len(arr)}")


def _correct(x, name: str) -> np.ndarray:
    """Per-item correctness (bool or 0/1) as an int8 array, or a ``ValueError``."""
    arr = _vector(x, name)
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name}: expected 0/1 or boolean per-item correctness, "
                         f"got values {np.unique(arr)[:5].tolist()}")
    return arr.astype(np.int8)


def _pair(correct_a, correct_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _correct(correct_a, "correct_a"), _correct(correct_b, "correct_b")
    _same_length(b, len(a), "correct_b", "correct_a")
    return a, b


def _predictions(x, name: str) -> np.ndarray:
    """Per-item integer class indices, or a ``ValueError``."""
    arr = _vector(x, name)
    if not np.issubdtype(arr.dtype, np.integer):  # bool is not an integer dtype here
        raise ValueError(f"{name}: expected integer class indices, got dtype {arr.dtype}")
    return arr


def _values(x, name: str) -> np.ndarray:
    """A per-item measure as a float64 array of finite numbers, or a ``ValueError``."""
    arr = _vector(x, name)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name}: expected one number per test item, got dtype {arr.dtype}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite numbers, got {int((~np.isfinite(arr)).sum())} "
                         "NaN or infinite values")
    return arr.astype(np.float64)


def _z(level) -> float:
    """Two-sided standard normal quantile for a ``level`` confidence interval."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"level: expected a confidence level in (0, 1), e.g. 0.95, got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


# --- the tests ------------------------------------------------------------------------------

def mcnemar_exact(correct_a, correct_b) -> McNemar:
    """Exact (binomial) McNemar test of "A and B are equally accurate on these items".

    With m = b01 + b10 discordant items, under the null each is A's win with probability 1/2:
    ``p = min(1, 2 P(X <= min(b01, b10)))``, X ~ Bin(m, 1/2), and p = 1 when m = 0.

    Args:
        correct_a, correct_b: per-item correctness of A and B, bool or 0/1, shape (N,).
    Returns:
        :class:`McNemar` with ``b01`` (A right, B wrong), ``b10`` and the two-sided ``p_value``.
    """
    a, b = _pair(correct_a, correct_b)
    b01, b10 = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
    m, k = b01 + b10, min(b01, b10)
    if m == 0:
        return McNemar(b01, b10, 1.0)
    # Sum C(m, i) for i <= k in exact integers (C(m, i+1) = C(m, i) (m-i) / (i+1)); Python's
    # int / int is correctly rounded however large, so m = 10,000 neither overflows nor drifts.
    term = tail = 1
    for i in range(k):
        term = term * (m - i) // (i + 1)
        tail += term
    return McNemar(b01, b10, min(1.0, tail / 2 ** (m - 1)))


def paired_difference(correct_a, correct_b, level: float = 0.95) -> PairedDifference:
    """Accuracy difference A - B on the same items, with a normal-approximation CI.

    With per-item differences d_i = a_i - b_i in {-1, 0, 1}: ``difference = mean(d)``,
    ``se = sd(d, ddof=1) / sqrt(N)`` and the CI is ``difference +- z se``, z the standard
    normal quantile for ``level``. The normal approximation is good when there are tens of
    discordant items; when A and B agree on every item, se = 0 and the CI is a point.

    Args:
        correct_a, correct_b: per-item correctness, bool or 0/1, shape (N,), N >= 2.
        level: confidence level of the interval.
    Returns:
        :class:`PairedDifference` (difference, se, low, high, level, n).
    """
    a, b = _pair(correct_a, correct_b)
    z = _z(level)
    if len(a) < 2:
        raise ValueError(f"correct_a: expected at least 2 items for a standard error, got {len(a)}")
    return _paired(a.astype(np.float64) - b, level, z)


def _paired(d: np.ndarray, level: float, z: float) -> PairedDifference:
    """Mean of the per-item differences ``d`` (N,), its SE ``sd(d, ddof=1) / sqrt(N)`` and CI."""
    diff, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
    return PairedDifference(diff, se, diff - z * se, diff + z * se, level, len(d))


def compare(pred_a, pred_b, labels, level: float = 0.95) -> Comparison:
    """Compare two models' predictions on the same test items.

    Args:
        pred_a, pred_b: per-item predicted class indices of A and B, integer arrays (N,), N >= 2.
        labels: the true class of each item, integer array (N,).
        level: confidence level of the paired difference's interval.
    Returns:
        :class:`Comparison`: both accuracies, :func:`paired_difference`, :func:`mcnemar_exact`
        and the per-item differences (N,).
    """
    a, b = _predictions(pred_a, "pred_a"), _predictions(pred_b, "pred_b")
    y = _predictions(labels, "labels")
    _same_length(b, len(a), "pred_b", "pred_a")
    _same_length(y, len(a), "labels", "pred_a")
    if len(a) < 2:
        raise ValueError(f"pred_a: expected at least 2 test items, got {len(a)}")
    correct_a, correct_b = a == y, b == y
    return Comparison(float(correct_a.mean()), float(correct_b.mean()),
                      paired_difference(correct_a, correct_b, level),
                      mcnemar_exact(correct_a, correct_b),
                      correct_a.astype(np.int8) - correct_b.astype(np.int8))


def compare_values(values_a, values_b, lower_is_better: bool = True, level: float = 0.95) -> Comparison:
    """Compare two models on a continuous measure taken on the same test items (a mask's
    total variation over each face, say), paired.

    Per item, A's advantage is ``b - a`` when lower is better, else ``a - b``; its mean, SE
    and CI are those of :func:`paired_difference` (a normal approximation: fine for tens of
    items unless the measure is heavy-tailed). The result pools across seeds in
    :func:`verdict` exactly as accuracy comparisons do; pass ``unit`` there, as the
    differences are in the measure's unit, not fractions.

    Args:
        values_a, values_b: the measure per item for A and B, numbers, shape (N,), N >= 2.
        lower_is_better: whether a lower value is better (total variation) or a higher one.
        level: confidence level of the paired difference's interval.
    Returns:
        :class:`Comparison` with the two means in ``accuracy_a``/``accuracy_b``, the paired
        difference (A's advantage), ``mcnemar=None`` and the per-item advantages (N,).
    """
    a, b = _values(values_a, "values_a"), _values(values_b, "values_b")
    _same_length(b, len(a), "values_b", "values_a")
    if len(a) < 2:
        raise ValueError(f"values_a: expected at least 2 test items for a standard error, got {len(a)}")
    if not isinstance(lower_is_better, (bool, np.bool_)):
        raise ValueError(f"lower_is_better: expected True or False, got {lower_is_better!r}")
    d = b - a if lower_is_better else a - b
    return Comparison(float(a.mean()), float(b.mean()), _paired(d, level, _z(level)), None, d)


def aggregate_seeds(values) -> SeedSummary:
    """Mean, sample standard deviation (ddof = 1; None for one seed), min, max and count of a
    metric measured once per seed.

    Args:
        values: one finite number per seed, shape (S,).
    Returns:
        :class:`SeedSummary`.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"values: expected one number per seed, got {values!r}") from None
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"values: expected a non-empty list of finite numbers, got {values!r}")
    std = float(arr.std(ddof=1)) if arr.size > 1 else None
    return SeedSummary(float(arr.mean()), std, float(arr.min()), float(arr.max()), arr.size)


# --- the verdict ----------------------------------------------------------------------------

def _pool(comparisons) -> tuple[float, float, int]:
    """Pooled difference and SE over seeds (see :func:`verdict`)."""
    if isinstance(comparisons, Comparison):
        comparisons = [comparisons]
    comparisons = list(comparisons) if isinstance(comparisons, (list, tuple)) else [comparisons]
    if not comparisons or not all(isinstance(c, Comparison) for c in comparisons):
        raise ValueError("comparisons: expected a compare() result or a non-empty list of them "
                         f"(one per seed), got {comparisons!r}")
    sizes = sorted({c.n for c in comparisons})
    if len(sizes) > 1:
        raise ValueError("comparisons: expected every seed scored on the same test items, "
                         f"got test sets of sizes {sizes}")
    d = np.stack([c.differences for c in comparisons]).astype(np.float64)  # (S, N)
    k, n = d.shape
    item_var = d.mean(axis=0).var(ddof=1) / n  # test-item noise of the pooled difference
    seed_var = d.mean(axis=1).var(ddof=1) / k if k > 1 else 0.0  # seed-to-seed noise
    return float(d.mean()), math.sqrt(item_var + seed_var), k


def verdict(comparisons, claimed: float | None = None, level: float = 0.95,
            a: str = "A", b: str = "B", unit: str | None = None) -> Verdict:
    """The book's verdict on the claim "A beats B", from one paired comparison per seed.

    Pooling over k seeds (each a :func:`compare` on the same N test items, or each a
    :func:`compare_values`, whose d_si is A's advantage in the measure): the difference is
    D = mean over seeds and items of d_si = a_si - b_si. Its variance has two sources, and the
    SE adds both: ``SE^2 = var_i(dbar_i) / N + var_s(dbar_s) / k`` (sample variances), where
    dbar_i averages item i over seeds (test-item noise, paired, items shared by all seeds) and
    dbar_s is seed s's difference (training-seed noise, left out when k = 1: one seed cannot
    measure it). The seed term also holds some item noise, so the SE errs on the large side.
    CI = D +- z SE, and ``detectable`` = z SE, its half-width: a true effect of that size is
    detected about half of the time (80% of the time needs about 1.4 times more). Like
    :func:`paired_difference`, the interval is a normal approximation: with under ~20
    discordant items it is too narrow (a point when there are none), and each seed's exact
    McNemar p-value is the check to read next to it.

    The rule, with CI = [low, high] and ``claimed`` the paper's effect (A - B, > 0) if given:
        - ``reproduced``: low > 0 (the reason says so when high < claimed: smaller than claimed);
        - ``opposite``: high < 0;
        - ``not reproduced``: low <= 0 <= high and high < claimed (the claimed effect is ruled out);
        - ``inconclusive``: low <= 0 <= high otherwise (effects below ``detectable`` are unseen).

    Args:
        comparisons: one :class:`Comparison` or a list of them, one per seed.
        claimed: the claimed effect size as a fraction (0.02 = 2 points), or None.
        level: confidence level of the interval.
        a, b: the two models' names for the reason sentence.
        unit: None for accuracy comparisons (the reason speaks of points, 100 x the
            fractions); for :func:`compare_values` results, the measure's name ("mask TV"):
            the reason then gives A's advantage in that unit, unscaled (and ``claimed`` is
            in that unit too).
    Returns:
        :class:`Verdict` with the label, pooled difference, SE, CI, detectable effect and a
        one-sentence reason.
    """
    z = _z(level)
    if claimed is not None and (isinstance(claimed, bool) or not isinstance(claimed, numbers.Real)
                                or not 0 < claimed < math.inf):
        raise ValueError(f"claimed: expected a positive effect size A - B (0.02 = 2 points) or "
                         f"None, got {claimed!r}")
    if unit is not None and (not isinstance(unit, str) or not unit.strip()):
        raise ValueError(f"unit: expected None (points) or the measure's name, e.g. 'mask TV', got {unit!r}")
    diff, se, k = _pool(comparisons)
    low, high, half = diff - z * se, diff + z * se, z * se
    if unit is None:  # accuracy fractions, shown as points
        show, shown = (lambda x: f"{100 * x:+.1f}"), (lambda x: f"{100 * x:.1f}")
        unit, lead = "points", f"{a} - {b} ="
    else:  # a measure's own unit, unscaled
        show, shown = (lambda x: f"{x:+.3g}"), (lambda x: f"{x:.3g}")
        lead = f"{a}'s advantage over {b} ="
    pts = f"{lead} {show(diff)} {unit} ({level:.0%} CI {show(low)} to {show(high)}, {k} seed{'s' * (k > 1)})"
    claim = "" if claimed is None else f"the claimed {show(claimed)} {unit}"
    if low > 0:
        label, why = "reproduced", f"{a} beats {b}"
        if claimed is not None and high < claimed:
            why += f", by less than {claim}"
    elif high < 0:
        label, why = "opposite", f"{b} beats {a}"
    elif claimed is not None and high < claimed:
        label, why = "not reproduced", f"no difference found, and the interval rules out {claim}"
    else:
        label = "inconclusive"
        why = f"no difference found; differences under {shown(half)} {unit} could not be detected"
        if claimed is not None:
            why += f", and {claim} cannot be ruled out"
    return Verdict(label, diff, se, low, high, half, level, k, f"{pts}: {why}.")


def saturation(mask, eps: float = 1e-3) -> float:
    """Share of a mask's values within ``eps`` of 0 or 1: 1.0 means every gate is shut or
    wide open, where a sigmoid passes (almost) no gradient and the attention has stopped
    learning. Works on a torch tensor or a NumPy array of any shape."""
    if not 0 < eps < 0.5:
        raise ValueError(f"eps: expected 0 < eps < 0.5, got {eps!r}")
    values = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask, dtype=np.float64)
    if values.size == 0:
        raise ValueError("mask: expected at least one value, got an empty array")
    return float(((values <= eps) | (values >= 1 - eps)).mean())


SATURATED = 0.99  # a stage whose mask is at least this saturated is called dead (health())


def health(test: dict) -> dict:
    """Did a run's attention train? From its test metrics (``predictions`` per item and, where
    the model has masks, ``mask_saturation`` per stage): a constant prediction or a sigmoid
    stage saturated on at least :data:`SATURATED` of its values voids any comparison with
    the run, and tables flag it."""
    predictions = test.get("predictions") or []
    stages = test.get("mask_saturation")
    stages = stages if isinstance(stages, (list, tuple)) else [stages]  # VQA: one attention map
    saturated = [i + 1 for i, v in enumerate(stages) if v is not None and v >= SATURATED]
    constant = len(set(predictions)) == 1 and len(predictions) > 1
    return {"constant_prediction": constant, "saturated_stages": saturated,
            "attention_dead": constant or bool(saturated), "saturation_threshold": SATURATED}
