"""Seeds as chapters 12-14 show them (arnn_lite.book.seeds): grouping, mean and spread, paired
rows per seed and the pooled verdict, with dead or prediction-less seeds left out."""

import numpy as np
import pytest

from arnn_lite.book import seeds

N = 200


def _run(model, seed, right, protocol="book", dead=False):
    """A results file of ``model`` whose first ``right`` of N test items are correct."""
    labels = [i % 5 for i in range(N)]
    preds = [y if i < right else (y + 1) % 5 for i, y in enumerate(labels)]
    if dead:
        preds = [0] * N
    return {"experiment": "cbam", "protocol": protocol, "path": f"/x/{model}_seed{seed}.json",
            "config": {"spatial": model}, "provenance": {"seed": seed, "duration_s": 120.0},
            "metrics": {"test": {"accuracy": sum(p == y for p, y in zip(preds, labels)) / N,
                                 "predictions": preds, "labels": labels}}}


def test_group_keeps_one_protocol_by_model_and_seed():
    found = [_run("cbam", 1, 100), _run("cbam", 0, 90), _run("arnn", 0, 95), _run("arnn", 0, 10, "paper")]
    g = seeds.group(found, "spatial")
    assert list(g["cbam"]) == [0, 1] and list(g["arnn"]) == [0]
    assert g["arnn"][0]["metrics"]["test"]["accuracy"] == 95 / N


def test_spread_is_mean_and_sample_sd_in_points():
    assert seeds.spread([0.5]) == "50.0% (1 seed)"
    assert seeds.spread([0.5, 0.6, 0.7]) == "60.0% ± 10.0 (3 seeds)"


def test_spread_rows_flag_the_seed_that_did_not_train():
    g = seeds.group([_run("cbam", 0, 100), _run("cbam", 1, 120, dead=True), _run("arnn", 0, 110)], "spatial")
    rows = seeds.spread_rows(g, {"none": "no gate", "cbam": "CBAM", "arnn": "CBAM+ARNN"},
                             {"top-1": lambda r: r["metrics"]["test"]["accuracy"]})
    assert [r["model"] for r in rows] == ["CBAM", "CBAM+ARNN"]  # names' order; none has no runs
    assert rows[0]["seeds"] == "0, 1" and rows[0]["health"].startswith("seed 1: DEAD")
    assert rows[1]["health"] == "ok" and rows[1]["minutes (mean)"] == 2.0


def test_paired_rows_per_common_seed_and_a_pooled_verdict():
    a = {0: _run("arnn", 0, 150), 1: _run("arnn", 1, 150), 2: _run("arnn", 2, 150)}
    b = {0: _run("cbam", 0, 100), 1: _run("cbam", 1, 100)}
    rows = seeds.paired_rows("A", a, "B", b)
    assert [r["seed"] for r in rows] == [0, 1] and rows[0]["A − B (points)"] == pytest.approx(25.0)
    v = seeds.pooled("A", a, "B", b)
    assert v.label == "reproduced" and v.seeds == 2 and v.difference == pytest.approx(0.25)


def test_pooled_leaves_out_dead_seeds_and_says_none_when_nothing_is_left():
    a = {0: _run("arnn", 0, 150), 1: _run("arnn", 1, 150, dead=True)}
    b = {0: _run("cbam", 0, 150), 1: _run("cbam", 1, 100)}
    v = seeds.pooled("A", a, "B", b)
    assert v.seeds == 1 and v.difference == 0 and v.label == "inconclusive"
    assert seeds.pooled("A", {1: a[1]}, "B", {1: b[1]}) is None
    assert np.isclose(seeds.pooled("B", b, "A", a).difference, 0)


def test_compare_pairs_gives_rows_and_one_pooled_line_per_pair_with_runs():
    runs = {"arnn": {0: _run("arnn", 0, 150)}, "cbam": {0: _run("cbam", 0, 100)}}
    names = {"arnn": "A", "cbam": "B", "none": "N"}
    rows, lines = seeds.compare_pairs(runs, names, [("arnn", "cbam"), ("arnn", "none")])
    assert [(r["A"], r["B"], r["seed"]) for r in rows] == [("A", "B", 0)]
    assert lines == [lines[0]] and lines[0].startswith("A vs B, pooled over seeds: reproduced: A - B = +25.0")


def test_runs_tested_on_different_items_are_not_paired_and_not_pooled():
    a = {0: _run("arnn", 0, 150)}
    b = {0: _run("cbam", 0, 100)}
    b[0]["metrics"]["test"]["labels"] = [(y + 1) % 5 for y in b[0]["metrics"]["test"]["labels"]]
    rows = seeds.paired_rows("A", a, "B", b)
    assert rows[0]["note"].startswith("not paired: ") and "n" not in rows[0]
    assert seeds.pooled("A", a, "B", b) is None


def test_seeds_run_under_other_settings_are_flagged_in_the_row():
    a, b = _run("cbam", 0, 100), _run("cbam", 1, 120)
    b["config"]["generator_version"] = 2
    g = seeds.group([a, b], "spatial")
    assert seeds.settings_differ(g["cbam"]) == ["generator_version"]
    row = seeds.spread_rows(g, {"cbam": "CBAM"}, {"top-1": lambda r: r["metrics"]["test"]["accuracy"]})[0]
    assert "seeds differ in generator_version" in row["health"]


def test_pooled_keeps_one_test_size():
    a = {0: _run("arnn", 0, 150), 1: _run("arnn", 1, 150)}
    b = {0: _run("cbam", 0, 100), 1: _run("cbam", 1, 100)}
    for r in (a[1], b[1]):  # seed 1 tested on fewer items
        t = r["metrics"]["test"]
        t["predictions"], t["labels"] = t["predictions"][:100], t["labels"][:100]
    assert seeds.pooled("A", a, "B", b).seeds == 1


def test_a_seed_nested_in_the_config_is_not_a_difference_in_settings():
    """MGAN's config holds the seed again under gan.seed: seeds 0-2 are still one protocol."""
    a, b = _run("cbam", 0, 100), _run("cbam", 1, 120)
    a["config"]["gan"], b["config"]["gan"] = {"seed": 0, "lr": 1e-3}, {"seed": 1, "lr": 1e-3}
    assert seeds.settings_differ({0: a, 1: b}) == []
    b["config"]["gan"]["lr"] = 2e-3
    assert seeds.settings_differ({0: a, 1: b}) == ["gan.lr"]
