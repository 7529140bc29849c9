"""Paired statistics: exact McNemar, paired difference, seed aggregation and the verdict rule,
against hand-computed cases and, where installed, scipy.stats."""

import math

import numpy as np
import pytest

from arnn_lite import stats

Z95 = 1.959963984540054  # Phi^{-1}(0.975)


def correctness(b01, b10, both=0, neither=0):
    """Per-item correctness of A and B with the given counts of each (A, B) outcome:
    b01 items (1, 0), b10 items (0, 1), ``both`` (1, 1), ``neither`` (0, 0)."""
    a = [1] * b01 + [0] * b10 + [1] * both + [0] * neither
    b = [0] * b01 + [1] * b10 + [1] * both + [0] * neither
    return np.array(a), np.array(b)


def comparison(b01, b10, both=0, neither=0):
    """A :func:`stats.compare` result with those counts (labels all 0; a wrong answer is 1)."""
    a, b = correctness(b01, b10, both, neither)
    labels = np.zeros(len(a), dtype=np.int64)
    return stats.compare(1 - a, 1 - b, labels)


# --- exact McNemar -------------------------------------------------------------------------

def test_mcnemar_hand_computed():
    # b01 = 6, b10 = 1: m = 7 discordant pairs, X ~ Bin(7, 1/2).
    # P(X <= 1) = (C(7,0) + C(7,1)) / 2^7 = (1 + 7) / 128, so p = 2 * 8 / 128 = 0.125.
    result = stats.mcnemar_exact(*correctness(6, 1, both=50, neither=10))
    assert (result.b01, result.b10) == (6, 1)
    assert result.p_value == 0.125
    # b01 = 2, b10 = 8: m = 10, P(X <= 2) = (1 + 10 + 45) / 1024, p = 112 / 1024 = 0.109375.
    assert stats.mcnemar_exact(*correctness(2, 8, both=3)).p_value == 0.109375


def test_mcnemar_without_discordant_pairs_is_one():
    a, b = correctness(0, 0, both=5, neither=3)
    assert stats.mcnemar_exact(a, b).p_value == 1.0
    assert stats.mcnemar_exact(*correctness(4, 4)).p_value == 1.0  # balanced: capped at 1


def test_mcnemar_is_symmetric_and_accepts_booleans():
    a, b = correctness(9, 2, both=4, neither=1)
    ab, ba = stats.mcnemar_exact(a, b), stats.mcnemar_exact(b, a)
    assert (ab.b01, ab.b10) == (ba.b10, ba.b01) and ab.p_value == ba.p_value
    assert stats.mcnemar_exact(a.astype(bool), b.astype(bool)) == ab


def test_mcnemar_large_n_does_not_overflow():
    # 10,000 discordant pairs: 2^10000 overflows a float, exact integers do not. Reference:
    # the same tail summed in log space with lgamma, an independent route.
    n, k = 10_000, 4900
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
                 for i in range(k + 1)]
    top = max(log_terms)
    reference = 2 * math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    p = stats.mcnemar_exact(*correctness(5100, 4900)).p_value
    assert p == pytest.approx(reference, rel=1e-9) and 0.04 < p < 0.05
    assert stats.mcnemar_exact(*correctness(10_000, 0)).p_value == 0.0  # 2^-9999 underflows
    assert stats.mcnemar_exact(*correctness(5000, 5000)).p_value == 1.0


def test_mcnemar_matches_scipy_binomtest():
    scipy_stats = pytest.importorskip("scipy.stats")
    for b01, b10 in [(6, 1), (0, 3), (12, 30), (250, 200), (5100, 4900), (1, 1)]:
        ours = stats.mcnemar_exact(*correctness(b01, b10)).p_value
        theirs = scipy_stats.binomtest(b01, b01 + b10, 0.5, alternative="two-sided").pvalue
        assert ours == pytest.approx(theirs, rel=1e-9), (b01, b10)


# --- paired difference ---------------------------------------------------------------------

def test_paired_difference_hand_computed():
    # n = 10: d = (1, 1, 1, -1, 0 x 6), mean 0.2; sum of squared deviations
    # 3 * 0.8^2 + 1.2^2 + 6 * 0.2^2 = 3.6, sample variance 3.6 / 9 = 0.4, SE = sqrt(0.4 / 10) = 0.2.
    result = stats.paired_difference(*correctness(3, 1, both=4, neither=2))
    assert result.n == 10 and result.difference == pytest.approx(0.2)
    assert result.se == pytest.approx(0.2)
    assert (result.low, result.high) == pytest.approx((0.2 - Z95 * 0.2, 0.2 + Z95 * 0.2))
    narrow = stats.paired_difference(*correctness(3, 1, both=4, neither=2), level=0.5)
    assert narrow.high - narrow.low == pytest.approx(2 * 0.6744897501960817 * 0.2)


def test_paired_difference_matches_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a, b = rng.random(500) < 0.8, rng.random(500) < 0.75
    ours = stats.paired_difference(a, b, level=0.9)
    t = scipy_stats.ttest_rel(a.astype(float), b.astype(float))
    assert ours.difference / ours.se == pytest.approx(t.statistic, rel=1e-12)
    low, high = scipy_stats.norm.interval(0.9, loc=ours.difference, scale=ours.se)
    assert (ours.low, ours.high) == pytest.approx((low, high), rel=1e-9)


# --- compare -------------------------------------------------------------------------------

def test_compare_combines_the_pieces():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    pred_a = np.array([0, 1, 2, 3, 4, 0, 0, 0])  # right on items 0-4
    pred_b = np.array([0, 1, 0, 0, 0, 5, 0, 0])  # right on items 0, 1, 5
    result = stats.compare(pred_a, pred_b, labels)
    assert (result.n, result.accuracy_a, result.accuracy_b) == (8, 5 / 8, 3 / 8)
    assert (result.mcnemar.b01, result.mcnemar.b10) == (3, 1)
    assert result.paired.difference == pytest.approx(2 / 8)
    assert result.differences.tolist() == [0, 0, 1, 1, 1, -1, 0, 0]


@pytest.mark.parametrize("args, name", [
    (([0, 1], [0, 1, 1], [0, 1]), "pred_b"),
    (([0, 1], [0, 1], [0]), "labels"),
    (([], [], []), "pred_a"),
    (([0.0, 1.0], [0, 1], [0, 1]), "pred_a"),
    (([0, 1], [[0, 1]], [0, 1]), "pred_b"),
    (([0, 1], [0, 1], [True, False]), "labels"),
    (([0], [0], [0]), "pred_a"),
])
def test_compare_rejects_bad_inputs(args, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        stats.compare(*args)


def test_correctness_inputs_are_checked():
    with pytest.raises(ValueError, match="^correct_a: expected 0/1"):
        stats.mcnemar_exact([0, 2], [0, 1])
    with pytest.raises(ValueError, match="^correct_b: expected length 2"):
        stats.paired_difference([0, 1], [1])
    with pytest.raises(ValueError, match="^level:"):
        stats.paired_difference([0, 1], [1, 1], level=95)


# --- seeds ---------------------------------------------------------------------------------

def test_aggregate_seeds_known_list():
    summary = stats.aggregate_seeds([0.70, 0.74, 0.72])
    # mean 0.72; deviations (-0.02, 0.02, 0): sample variance 0.0008 / 2, sd 0.02.
    assert summary.n == 3 and summary.mean == pytest.approx(0.72)
    assert summary.std == pytest.approx(0.02) and (summary.min, summary.max) == (0.70, 0.74)
    single = stats.aggregate_seeds([0.5])
    assert single.std is None and single.mean == 0.5 and single.n == 1


@pytest.mark.parametrize("values", [[], [0.5, float("nan")], [[0.5, 0.6]], ["a"]])
def test_aggregate_seeds_rejects_bad_values(values):
    with pytest.raises(ValueError, match="^values:"):
        stats.aggregate_seeds(values)


# --- verdict -------------------------------------------------------------------------------

def test_verdict_pools_items_and_seeds():
    # Same 4 items, two seeds: per-item differences (1, 1, 0, 0) and (1, 0, 0, -1).
    # Item means over seeds (1, .5, 0, -.5): mean D = 0.25, sample variance 1.25 / 3,
    # item term (1.25 / 3) / 4 = 5/48. Per-seed differences 0.5 and 0: sample variance 0.125,
    # seed term 0.125 / 2 = 3/48. SE^2 = 8/48 = 1/6.
    labels = np.zeros(4, dtype=np.int64)
    seed1 = stats.compare(np.array([0, 0, 1, 0]), np.array([1, 1, 1, 0]), labels)
    seed2 = stats.compare(np.array([0, 1, 1, 1]), np.array([1, 1, 1, 0]), labels)
    result = stats.verdict([seed1, seed2])
    assert result.seeds == 2 and result.difference == pytest.approx(0.25)
    assert result.se == pytest.approx(math.sqrt(1 / 6))
    assert result.detectable == pytest.approx(Z95 * math.sqrt(1 / 6))
    single = stats.verdict(seed1)  # one seed: the paired SE of that comparison
    assert single.seeds == 1 and single.se == pytest.approx(seed1.paired.se)


def test_verdict_reproduced():
    result = stats.verdict([comparison(30, 5, both=60, neither=5)] * 3, claimed=0.2)
    assert result.label == "reproduced" and result.low > 0 and result.label in stats.VERDICTS
    assert "A beats B" in result.reason and "claimed" not in result.reason


def test_verdict_reproduced_but_smaller_than_claimed():
    result = stats.verdict(comparison(60, 20, both=900, neither=20), claimed=0.2)
    assert result.label == "reproduced" and result.high < 0.2
    assert "less than the claimed +20.0" in result.reason


def test_verdict_opposite():
    result = stats.verdict([comparison(5, 30, both=60, neither=5)] * 2, a="ARNN", b="CTX")
    assert result.label == "opposite" and result.high < 0
    assert "CTX beats ARNN" in result.reason


def test_verdict_not_reproduced():
    # D = 0, SE = sqrt(40 / 999 / 1000) ~ 0.0063, half-width ~ 0.0124 < claimed 0.05.
    result = stats.verdict(comparison(20, 20, both=900, neither=60), claimed=0.05)
    assert result.label == "not reproduced" and result.low <= 0 <= result.high < 0.05
    assert "rules out the claimed +5.0" in result.reason


def test_verdict_inconclusive():
    small = comparison(2, 1, both=15, neither=2)
    result = stats.verdict(small, claimed=0.05)
    assert result.label == "inconclusive" and result.high >= 0.05 and result.low <= 0
    assert f"{100 * result.detectable:.1f} points" in result.reason
    # Without a claimed effect, a CI around 0 is inconclusive however narrow it is.
    tight = stats.verdict(comparison(20, 20, both=900, neither=60))
    assert tight.label == "inconclusive"
    # CI upper end +1.24 points: a claimed +1 point is inside it, so it is not ruled out.
    near = stats.verdict(comparison(20, 20, both=900, neither=60), claimed=0.01)
    assert near.label == "inconclusive"


def test_verdict_when_the_models_agree_on_every_item():
    # No discordant item: D = 0 and SE = 0, CI [0, 0]. Zero is inside (low > 0 is strict).
    same = comparison(0, 0, both=900, neither=100)
    assert stats.verdict(same, claimed=0.01).label == "not reproduced"
    assert stats.verdict(same).label == "inconclusive"


def test_verdict_rejects_bad_inputs():
    with pytest.raises(ValueError, match="^comparisons:"):
        stats.verdict([])
    with pytest.raises(ValueError, match="^comparisons:.*same test items"):
        stats.verdict([comparison(3, 1), comparison(3, 1, both=1)])
    with pytest.raises(ValueError, match="^claimed:"):
        stats.verdict(comparison(3, 1), claimed=-0.1)
    with pytest.raises(ValueError, match="^comparisons:"):
        stats.verdict([0.3, 0.1])
    with pytest.raises(ValueError, match="^comparisons:"):
        stats.verdict(0.3)


def test_verdict_text_in_points_is_unchanged():
    small = stats.verdict(comparison(2, 1, both=15, neither=2), claimed=0.05, a="ARNN", b="CTX")
    assert small.reason == ("ARNN - CTX = +5.0 points (95% CI -12.3 to +22.3, 1 seed): no difference "
                            "found; differences under 17.3 points could not be detected, and the "
                            "claimed +5.0 points cannot be ruled out.")
    assert stats.verdict([comparison(30, 5, both=60, neither=5)] * 3, claimed=0.2).reason == \
        "A - B = +25.0 points (95% CI +14.4 to +35.6, 3 seeds): A beats B."


# --- continuous per-item measures ----------------------------------------------------------

def test_compare_values_hand_computed():
    # Lower is better: per-item "A better by" = b - a = (1, 0, 2, 1), mean 1; deviations
    # (0, -1, 1, 0), sample variance 2 / 3, SE = sqrt(2 / 3 / 4) = sqrt(1 / 6).
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 5.0, 5.0]
    result = stats.compare_values(a, b)
    assert (result.n, result.accuracy_a, result.accuracy_b) == (4, 2.5, 3.5)
    assert result.mcnemar is None and result.differences.tolist() == [1, 0, 2, 1]
    assert result.paired.difference == pytest.approx(1.0) and result.paired.se == pytest.approx(math.sqrt(1 / 6))
    assert (result.paired.low, result.paired.high) == pytest.approx((1 - Z95 * math.sqrt(1 / 6),
                                                                     1 + Z95 * math.sqrt(1 / 6)))
    higher = stats.compare_values(a, b, lower_is_better=False, level=0.5)  # A better by a - b
    assert higher.differences.tolist() == [-1, 0, -2, -1] and higher.paired.difference == pytest.approx(-1.0)
    assert higher.paired.high - higher.paired.low == pytest.approx(2 * 0.6744897501960817 * math.sqrt(1 / 6))


def test_verdict_pools_value_comparisons_as_it_pools_accuracy():
    # The per-item differences of test_verdict_pools_items_and_seeds: D = 0.25, SE^2 = 1/6.
    zeros = np.zeros(4)
    seed1 = stats.compare_values(zeros, [1.0, 1.0, 0.0, 0.0])
    seed2 = stats.compare_values(zeros, [1.0, 0.0, 0.0, -1.0])
    result = stats.verdict([seed1, seed2], a="ARNN", b="MGAN", unit="mask TV")
    assert result.seeds == 2 and result.difference == pytest.approx(0.25)
    assert result.se == pytest.approx(math.sqrt(1 / 6)) and result.label == "inconclusive"
    assert result.reason.startswith("ARNN's advantage over MGAN = +0.25 mask TV (95% CI -0.55 to +1.05, 2 seeds)")
    assert "points" not in result.reason and "under 0.8 mask TV could not be detected" in result.reason


def test_verdict_in_a_unit_labels_as_in_points():
    lower = stats.compare_values(np.full(50, 0.2) + np.linspace(0, 0.01, 50), np.full(50, 0.3))
    assert stats.verdict(lower, unit="mask TV").label == "reproduced"
    assert stats.verdict(stats.compare_values(np.full(50, 0.3), np.full(50, 0.2) + np.linspace(0, 0.01, 50)),
                         a="ARNN", b="MGAN", unit="mask TV").reason.endswith(": MGAN beats ARNN.")
    claimed = stats.verdict(lower, claimed=0.5, unit="mask TV")
    assert "less than the claimed +0.5 mask TV" in claimed.reason


def test_compare_values_agrees_with_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.1, 0.02, 300), rng.normal(0.11, 0.02, 300)
    ours = stats.compare_values(a, b)
    t = scipy_stats.ttest_rel(b, a)
    assert ours.paired.difference / ours.paired.se == pytest.approx(t.statistic, rel=1e-12)


@pytest.mark.parametrize("args, kw, name", [
    (([0.1, 0.2], [0.1, 0.2, 0.3]), {}, "values_b"),
    (([], []), {}, "values_a"),
    (([0.1, 0.2], [[0.1, 0.2]]), {}, "values_b"),
    (([0.1, float("nan")], [0.1, 0.2]), {}, "values_a"),
    (([0.1, 0.2], ["a", "b"]), {}, "values_b"),
    (([True, False], [0.1, 0.2]), {}, "values_a"),
    (([0.1], [0.2]), {}, "values_a"),
    (([0.1, 0.2], [0.1, 0.2]), {"lower_is_better": "yes"}, "lower_is_better"),
    (([0.1, 0.2], [0.1, 0.2]), {"level": 95}, "level"),
])
def test_compare_values_rejects_bad_inputs(args, kw, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        stats.compare_values(*args, **kw)


def test_verdict_rejects_a_bad_unit():
    with pytest.raises(ValueError, match="^unit:"):
        stats.verdict(comparison(3, 1), unit="")
    with pytest.raises(ValueError, match="^unit:"):
        stats.verdict(comparison(3, 1), unit=100)
