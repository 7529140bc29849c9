"""The findings page's verdict rows (arnn_lite.book.findings): which source a claim uses, how seeds
are found and pooled, when a comparison is void, not tested or not run, and that the shipped
results give one row per claim."""

import dataclasses
import json

import numpy as np
import pytest

from arnn_lite import stats
from arnn_lite.book import data_dir, findings
from arnn_lite.experiments import results
from arnn_lite.experiments.common import results_stem

ARNN_CTX = next(c for c in findings.CLAIMS if c.key == "arnn_ctx")  # ARNN (A) vs CTX (B), on MBG
TIME = next(c for c in findings.CLAIMS if c.key == "brnn_time")
N = 400


def labels(seed=0):
    return np.random.default_rng(100 + seed).integers(0, 5, N)


def right_on(share, truth, seed):
    """Predictions that are right on the first ``share`` of items, wrong on the rest."""
    wrong = (truth + 1 + np.random.default_rng(seed).integers(0, 4, len(truth))) % 5
    k = int(share * len(truth))
    return np.concatenate([truth[:k], wrong[k:]])


def write_run(root, folder, stem, seed, predictions=None, truth=None, config=None, saturation=None,
              timing=None, history=None, **test):
    """One results file ``root/folder/<stem>[_seedN].json`` as an experiment run writes it."""
    experiment, protocol = folder.split("/")
    test = dict(test)
    if predictions is not None:
        test.update(accuracy=float(np.mean(predictions == truth)), predictions=predictions.tolist(),
                    labels=truth.tolist(), mask_saturation=saturation or [0.0, 0.0, 0.0, 0.0])
    metrics = {"test": test, **({"timing": timing} if timing else {}), **({"history": history} if history else {})}
    command = f"python -m arnn_lite.experiments.mbg --attention {stem} --protocol {protocol}"
    prov = results.provenance(seed, "cpu", results.now(), 60.0, command=command, commit="0123abc")
    extra = {"health": stats.health(test)} if predictions is not None else {}
    config = {"model": stem, "train": 100, "test": N, "generator_version": 2, **(config or {})}
    path = root / folder / f"{results_stem(stem, seed)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return results.write_result(path, experiment, protocol, config, metrics, prov, **extra)


def pair(root, folder, seed=0, a=0.8, b=0.5, b_predictions=None, **kw):
    truth = labels(seed)
    write_run(root, folder, "arnn", seed, right_on(a, truth, seed), truth, **kw)
    write_run(root, folder, "ctx", seed, right_on(b, truth, seed + 50) if b_predictions is None
              else b_predictions, truth, **kw)


@pytest.fixture
def root(tmp_path):
    """A results folder; its predictions folder (none here) would be its sibling."""
    return tmp_path / "results"


def claim(*sources):
    return dataclasses.replace(ARNN_CTX, sources=sources)


def test_the_first_source_where_both_models_ran_is_used(root):
    truth = labels()
    write_run(root, "mbg/cpu", "arnn", 0, right_on(0.8, truth, 0), truth)  # CTX missing here
    pair(root, "mbg/custom", a=0.8, b=0.4)
    pair(root, "mbg/book", a=0.4, b=0.8)
    row = findings.evaluate(claim("mbg/cpu", "mbg/custom", "mbg/book"), root)
    assert row.source == "mbg/custom" and "`mbg/custom`: custom protocol" in row.protocol
    assert row.label == "reproduced" and row.verdict.difference == pytest.approx(0.4, abs=0.02)


def test_seeds_are_found_by_file_name_and_only_common_seeds_are_pooled(root):
    for seed in (0, 1, 2):
        pair(root, "mbg/book", seed)
    (root / "mbg/book/ctx_seed2.json").unlink()  # CTX has seeds 0 and 1 only
    write_run(root, "mbg/book", "arnn_sample", 3, right_on(0.1, labels(3), 3), labels(3))  # another model
    runs = findings.seed_runs(root / "mbg/book", "arnn")
    assert sorted(runs) == [0, 1, 2] and runs[1]["path"].endswith("arnn_seed1.json")
    row = findings.evaluate(claim("mbg/book"), root)
    assert row.seeds == (0, 1) and row.verdict.seeds == 2
    assert "seeds 0, 1" in row.protocol and "(SD " in row.ours and "McNemar p =" in row.test
    assert "seeds 2 for ARNN and CTX" in row.settle and "--seed 2" in row.settle


def test_a_file_whose_recorded_seed_disagrees_with_its_name_is_refused(root):
    pair(root, "mbg/book", 1)
    (root / "mbg/book/arnn_seed1.json").rename(root / "mbg/book/arnn_seed4.json")
    with pytest.raises(ValueError, match="arnn_seed4.json: its name says seed 4"):
        findings.seed_runs(root / "mbg/book", "arnn")


def test_a_constant_prediction_baseline_voids_the_comparison(root):
    pair(root, "mbg/book", b_predictions=np.zeros(N, dtype=int))
    row = findings.evaluate(claim("mbg/book"), root)
    assert row.label == "void" and row.verdict is None
    assert "CTX: DEAD: predicts one class (seed 0)" in row.trained
    assert "says nothing about attention" in row.reason and "runs of CTX that train" in row.settle


def test_a_seed_whose_baseline_is_dead_is_left_out_and_named(root):
    pair(root, "mbg/book", 0)
    pair(root, "mbg/book", 1, saturation=[1.0, 0.0, 0.0, 0.0])  # both saturated at stage 1
    row = findings.evaluate(claim("mbg/book"), root)
    assert row.label == "reproduced" and row.verdict.seeds == 1
    assert "Seeds left out, a model did not train: 1." in row.reason
    assert "stage 1 mask saturated (seed 1)" in row.trained


def test_a_claim_without_runs_is_not_run_and_says_what_would_settle_it(root):
    row = findings.evaluate(claim("mbg/cpu", "mbg/book"), root)
    assert row.label == "not run" and row.source is None and row.seeds == ()
    assert "mbg/cpu, mbg/book" in row.reason
    assert "python -m arnn_lite.experiments.mbg --attention arnn" in row.settle and "--attention ctx" in row.settle


def test_runs_without_per_item_predictions_are_not_tested(root):
    for stem, acc in (("arnn", 0.7), ("ctx", 0.6)):
        write_run(root, "mbg/book", stem, 0, accuracy=acc)
    row = findings.evaluate(claim("mbg/book"), root)
    assert row.label == "not tested" and "+10.0 points" in row.reason
    assert "No per-item predictions for ARNN and CTX" in row.reason


def test_a_clear_loss_is_opposite_and_a_null_inconclusive(root):
    pair(root, "mbg/book", a=0.3, b=0.9)
    assert findings.evaluate(claim("mbg/book"), root).label == "opposite"
    truth = labels()
    same = right_on(0.6, truth, 0)
    write_run(root, "mbg/custom", "arnn", 0, same, truth)
    write_run(root, "mbg/custom", "ctx", 0, np.where(np.arange(N) == 0, (truth + 1) % 5, same), truth)
    row = findings.evaluate(claim("mbg/custom"), root)
    assert row.label == "inconclusive" and "test items for a paired SE of 1 point" not in row.settle


def test_a_claimed_effect_the_interval_rules_out_is_not_reproduced(root):
    truth = labels()
    same = right_on(0.6, truth, 0)
    write_run(root, "mbg/book", "unet2_arnn", 0, same, truth)
    write_run(root, "mbg/book", "unet2", 0, same, truth)
    unet = next(c for c in findings.CLAIMS if c.key == "unet2")
    assert unet.claimed == pytest.approx(0.0587)  # supplement Table 1, from paper.py
    row = findings.evaluate(dataclasses.replace(unet, sources=("mbg/book",)), root)
    assert row.label == "not reproduced" and "+5.9 points" in row.reason


def test_runs_used_lists_each_file_behind_the_rows_once(root):
    pair(root, "mbg/book")
    write_run(root, "mbg/book", "noctx", 0, right_on(0.3, labels(), 7), labels())
    write_run(root, "mbg/book", "san", 0, right_on(0.3, labels(), 8), labels())  # used by no claim
    both = [c for c in findings.CLAIMS if c.key in ("arnn_ctx", "ctx_noctx")]
    rows = findings.findings(root, claims=[dataclasses.replace(c, sources=("mbg/book",)) for c in both])
    used = findings.runs_used(rows, root)
    assert sorted(u["file"] for u in used) == [f"mbg/book/{m}.json" for m in ("arnn", "ctx", "noctx")]
    assert used[0]["commit"] == "0123abc" and used[0]["minutes"] == pytest.approx(1.0)


def test_the_budget_counts_a_run_two_rows_need_once(root):
    pair(root, "mbg/book")
    write_run(root, "mbg/book", "noctx", 0, right_on(0.3, labels(), 7), labels())
    both = [c for c in findings.CLAIMS if c.key in ("arnn_ctx", "ctx_noctx")]
    rows = findings.findings(root, claims=[dataclasses.replace(c, sources=("mbg/book",)) for c in both])
    assert [len(r.needed) for r in rows] == [4, 4]  # seeds 1 and 2 of both models, per row
    runs, minutes = findings.budget(rows)
    assert runs == 6 and minutes == pytest.approx(6.0)  # CTX's two runs counted once; 1 minute each


def test_runs_of_another_config_in_the_same_folder_are_not_pooled(root):
    pair(root, "mbg/book", 0)
    pair(root, "mbg/book", 1, config={"generator_version": 1})
    row = findings.evaluate(claim("mbg/book"), root)
    assert row.seeds == (0,) and "seeds 1 left out: their config differs" in row.protocol


def test_generator_v1_rows_say_so(root):
    pair(root, "mbg/book", config={"generator_version": 1})
    assert "MBG generator v1, with its shortcut" in findings.evaluate(claim("mbg/book"), root).protocol
    for stem in ("arnn", "ctx"):  # files written before the key existed are v1 too
        path = root / "mbg/book" / f"{stem}.json"
        record = json.loads(path.read_text())
        del record["config"]["generator_version"]
        path.write_text(json.dumps(record))
    assert "MBG generator v1, with its shortcut" in findings.evaluate(claim("mbg/book"), root).protocol
    pair(root, "mbg/custom")  # version 2: no warning
    assert "generator v2" in findings.evaluate(claim("mbg/custom"), root).protocol


def test_timing_claim_uses_a_rank_test_on_the_timed_steps(root):
    quick, slow = [1.0, 1.1, 1.2, 1.05, 1.15], [2.0, 2.1, 2.2, 2.05, 2.15]
    for stem, steps in (("front_brnn", quick), ("front_arnn", slow)):
        timing = {"step_times": steps, "seconds_per_step": float(np.median(steps))}
        write_run(root, "mbg_scale/book", stem, 0, timing=timing, accuracy=0.5)
    row = findings.evaluate(dataclasses.replace(TIME, sources=("mbg_scale/book",)), root)
    assert row.label == "reproduced" and "ratio 0.52" in row.ours
    three = [1.0, 1.1, 1.2]
    assert findings.rank_test(three, [2.0, 2.1, 2.2]) == pytest.approx(0.1)  # 2 / C(6, 3)
    assert findings.rank_test(three, three) == pytest.approx(1.0)


def test_rank_test_agrees_with_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n, m in ((1, 4), (3, 3), (5, 7), (9, 9)):
        x, y = rng.normal(size=n), rng.normal(0.8, size=m)
        expected = scipy_stats.mannwhitneyu(x, y, method="exact").pvalue
        assert findings.rank_test(x.tolist(), y.tolist()) == pytest.approx(expected)


def test_every_claim_kind_is_known_and_sources_are_folders():
    for c in findings.CLAIMS:
        assert c.kind in findings.KINDS and c.sources
        assert all(s.count("/") == 1 for s in c.sources), c.sources
    with pytest.raises(ValueError, match="claim.kind: expected one of"):
        findings.evaluate(dataclasses.replace(ARNN_CTX, kind="vibes"))


def test_the_repository_data_gives_one_row_per_claim():
    rows = findings.findings()
    assert [r.claim.key for r in rows] == [c.key for c in findings.CLAIMS]
    assert len({c.key for c in findings.CLAIMS}) == len(findings.CLAIMS) >= 10
    assert all(r.label in findings.LABELS and r.reason for r in rows)
    for r in rows:
        if r.source is not None:  # the folder the row names holds both models' runs
            assert findings.seed_runs(data_dir() / "results" / r.source, r.claim.a.stem)
        if r.source and r.source.startswith("mbg") and "v1" in r.protocol:
            assert "shortcut" in r.protocol, r.protocol
    table = findings.table(rows).splitlines()
    assert len(table) == len(rows) + 2 and table[0].startswith("| claim | verdict |")
    lines = findings.summary(rows)
    assert 2 <= len(lines) <= 4 and f"tests {len(rows)} claims" in lines[0]
    assert sum(findings.counts(rows).values()) == len(rows)


def test_probes_read_the_mass_against_a_uniform_mask(tmp_path):
    """A probe row divides the last stage's mass in the box by a uniform mask's (from the
    test split's own boxes) and says 'yes' only at LEARNED_RATIO or more; NONE gets no ratio."""
    import json as _json

    from arnn_lite.datasets.mbg import MBG

    shipped = sorted((findings._default_root("results") / "probes").glob("*/*.json"))
    assert shipped, "data/results/probes holds the probe runs"
    base = _json.loads(shipped[0].read_text())
    c = base["config"]
    share = MBG("test", c["test"], c["seed"], False, c["canvas"], num_digits=tuple(c["num_digits"]),
                scales=tuple(c["scales"]), version=c["generator_version"]).uniform_share(20)
    for name, mass in (("a", findings.LEARNED_RATIO * share * 1.01), ("b", findings.LEARNED_RATIO * share * 0.99)):
        r = _json.loads(shipped[0].read_text())
        r["metrics"]["test"]["mask_mass_in_box"][-1] = mass
        (tmp_path / name).mkdir()
        (tmp_path / name / "ctx.json").write_text(_json.dumps(r))
    rows = {r["probe"]: r for r in findings.probes(tmp_path, items=20)}
    assert rows["a/ctx"]["attention learned"] == "yes" and rows["b/ctx"]["attention learned"] == "no"
    assert abs(rows["a/ctx"]["uniform mask's"] - share) < 1e-9


def test_probe_rows_say_when_a_run_did_not_train():
    """A probe that predicts one class is flagged in its row, not only by its ratio."""
    rows = {r["probe"]: r for r in findings.probes(items=20)}
    assert rows["paper_lr3e-3/ctx"]["health"].startswith("DEAD: predicts one class")
    assert rows["small_book/none"]["health"] == "ok"


def test_campaign_runs_get_the_learned_attention_verdict(tmp_path):
    """The campaign's finished runs are read from its two folders, MBG and MBGⁱⁿᵛ, each
    with the probes' criterion; nothing else under data/results is read."""
    probe = data_dir() / "results" / "probes" / "narrow_book_lr_long" / "ctx.json"
    for folder in findings.CAMPAIGN_FOLDERS:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "ctx.json").write_text(probe.read_text())
    (tmp_path / "mbg" / "book").mkdir(parents=True)
    (tmp_path / "mbg" / "book" / "ctx.json").write_text(probe.read_text())
    rows = findings.learned(tmp_path, items=20)
    assert [r["run"] for r in rows] == ["mbg_narrow/ctx", "mbg_inv_narrow/ctx"]
    assert all(r["attention learned"] in ("yes", "no") and r["seed"] == 0 for r in rows)
    assert findings.learned(tmp_path / "nothing") == []


def test_the_campaign_plan_is_on_the_page_with_its_costs(tmp_path):
    rows = findings.campaign_plan(tmp_path)  # no runs yet: everything planned
    assert rows and all(r["state"] == "planned" for r in rows)
    assert set(findings.CAMPAIGN_PLAN_COLUMNS) <= set(rows[0])


# --- the MGAN mask claim: paired over faces --------------------------------------------------
MGAN = dataclasses.replace(next(c for c in findings.CLAIMS if c.key == "mgan"), sources=("mgan/book",))
FACES = 40  # test faces; each gives two translation pairs (the two other hair colours)


def mask_values(mean, spread, seed):
    """One value per translation pair (2 per face), around ``mean``."""
    return mean + spread * np.random.default_rng(seed).standard_normal(2 * FACES)


def mgan_run(root, stem, seed, tv, iou, per_face=True):
    """An MGAN results file as ``experiments.mgan.run`` writes it: mask means and, unless
    ``per_face`` is False, the per-pair lists."""
    tv, iou = np.asarray(tv, dtype=float), np.asarray(iou, dtype=float)
    test = dict(target_accuracy=0.9, mask_tv_hair=float(tv.mean()), mask_iou=float(iou.mean()),
                mask_mean_hair=0.6, mask_mean_outside=0.2)
    if per_face:
        test["per_face"] = {"mask_tv_hair": tv.tolist(), "mask_iou": iou.tolist()}
    return write_run(root, "mgan/book", stem, seed, config={"attention": stem, "test": FACES,
                                                            "dataset": "synthetic"}, **test)


def test_the_mask_claim_is_paired_over_faces_and_pooled_over_seeds(root):
    for seed in (0, 1):
        mgan_run(root, "arnn", seed, mask_values(0.05, 0.01, seed), mask_values(0.7, 0.05, 10 + seed))
        mgan_run(root, "mgan", seed, mask_values(0.08, 0.01, 20 + seed), mask_values(0.7, 0.05, 30 + seed))
    row = findings.evaluate(MGAN, root)
    assert row.label == "reproduced" and row.verdict.seeds == 2
    assert row.test.startswith(f"paired over {FACES} faces, 2 seeds")
    assert row.verdict.difference == pytest.approx(0.03, abs=0.005)
    assert f"MGAN+ARNN's advantage over MGAN = {row.verdict.difference:+.3g} mask TV" in row.reason
    assert "points" not in row.reason and "IoU with the true hair" in row.ours


def test_the_mask_test_pairs_faces_not_translations(root):
    """A face's two translations are averaged first: the SE is that of FACES face differences."""
    a, b = mask_values(0.05, 0.02, 0), mask_values(0.06, 0.02, 1)
    mgan_run(root, "arnn", 0, a, mask_values(0.7, 0.05, 2))
    mgan_run(root, "mgan", 0, b, mask_values(0.7, 0.05, 3))
    row = findings.evaluate(MGAN, root)
    faces = (b - a).reshape(FACES, 2).mean(1)  # per face: MGAN's TV minus MGAN+ARNN's
    assert row.verdict.difference == pytest.approx(faces.mean())
    assert row.verdict.se == pytest.approx(faces.std(ddof=1) / np.sqrt(FACES))
    assert row.test.startswith(f"paired over {FACES} faces, 1 seed")
    mgan_run(root, "arnn", 0, a[:-1], mask_values(0.7, 0.05, 2)[:-1])  # not 2 pairs per face: pairs as they are
    mgan_run(root, "mgan", 0, b[:-1], mask_values(0.7, 0.05, 3)[:-1])
    row = findings.evaluate(MGAN, root)
    assert row.test.startswith(f"paired over {2 * FACES - 1} translation pairs, 1 seed")
    assert row.verdict.se == pytest.approx((b - a)[:-1].std(ddof=1) / np.sqrt(2 * FACES - 1))


def test_a_clearly_rougher_mask_is_opposite_and_a_tie_inconclusive(root):
    mgan_run(root, "arnn", 0, mask_values(0.09, 0.01, 0), mask_values(0.7, 0.05, 1))
    mgan_run(root, "mgan", 0, mask_values(0.05, 0.01, 2), mask_values(0.7, 0.05, 3))
    assert findings.evaluate(MGAN, root).label == "opposite"
    mgan_run(root, "mgan", 0, mask_values(0.09, 0.01, 4), mask_values(0.7, 0.05, 3))
    row = findings.evaluate(MGAN, root)
    assert row.label == "inconclusive" and "could not be detected" in row.reason


def test_a_uniform_mask_that_misses_the_hair_is_no_win(root):
    """A constant mask has TV 0: with under half of MGAN's IoU the row is void, and a
    markedly lower IoU is named in the reason."""
    mgan_run(root, "arnn", 0, np.zeros(2 * FACES), mask_values(0.3, 0.05, 1))
    mgan_run(root, "mgan", 0, mask_values(0.08, 0.01, 2), mask_values(0.7, 0.05, 3))
    row = findings.evaluate(MGAN, root)
    assert row.label == "void" and "IoU" in row.reason and "under half" in row.reason
    mgan_run(root, "arnn", 0, mask_values(0.05, 0.01, 0), mask_values(0.5, 0.05, 1))  # 0.5 / 0.7: low
    row = findings.evaluate(MGAN, root)
    assert row.label == "reproduced" and "overlap the true hair less" in row.reason
    mgan_run(root, "arnn", 0, mask_values(0.05, 0.01, 0), mask_values(0.7, 0.05, 1))  # same IoU
    assert "overlap the true hair less" not in findings.evaluate(MGAN, root).reason


def test_mask_files_without_per_face_values_stay_not_tested(root):
    mgan_run(root, "arnn", 0, mask_values(0.05, 0.01, 0), mask_values(0.7, 0.05, 1))
    mgan_run(root, "mgan", 0, mask_values(0.08, 0.01, 2), mask_values(0.7, 0.05, 3), per_face=False)
    row = findings.evaluate(MGAN, root)
    assert row.label == "not tested" and "no per-face values" in row.reason
    mgan_run(root, "mgan", 0, mask_values(0.08, 0.01, 2)[:-2], mask_values(0.7, 0.05, 3)[:-2])
    assert findings.evaluate(MGAN, root).label == "not tested"  # lengths differ: not the same faces


def test_seeds_whose_configs_differ_only_in_a_nested_seed_are_pooled():
    run = {"config": {"model": "x", "gan": {"seed": 0}}}
    other = {"config": {"model": "x", "gan": {"seed": 2}}}
    assert findings._same_config(other, run)
    assert not findings._same_config({"config": {"model": "y", "gan": {"seed": 2}}}, run)


def test_rows_the_campaign_plans_runs_for_are_settled_by_the_campaign(root):
    """A claim with a campaign folder among its sources: "what would settle it" lists the
    campaign's planned runs of its two models (not more seeds of a smaller source, whose
    recorded commands would make other configurations), and a finished campaign run drops out."""
    from arnn_lite.experiments import campaign

    folder = "mbg_narrow/cpu"
    pair(root, "mbg/book")  # seed 0 of both, on a smaller source
    row = findings.evaluate(claim(folder, "mbg/book"), root)
    assert row.source == "mbg/book" and "CPU campaign" in row.settle and "campaign --run" in row.settle
    planned = [(r.folder, r.stem, r.seed) for r in campaign.PLAN if r.attention in ("arnn", "ctx") and not r.inverse]
    assert [n[:3] for n in row.needed] == planned and len(planned) == 6
    assert "(6 without an estimate)" in row.settle  # these stand-in runs record no thread count
    write_run(root, folder, "arnn", 0, right_on(0.8, labels(), 0), labels(), history=[{"accuracy": 0.5}])
    row = findings.evaluate(claim(folder, "mbg/book"), root)
    assert (folder, "arnn", 0) not in [n[:3] for n in row.needed] and "ARNN seed 0" not in row.settle
    assert "ARNN seed 1" in row.settle and "CTX seed 0" in row.settle
    untouched = findings.evaluate(claim("mbg/book"), root)  # no campaign folder: seeds of its own source
    assert "--seed 1" in untouched.settle and "campaign" not in untouched.settle


def test_a_claim_not_run_yet_points_at_the_campaign_when_it_plans_it(root):
    wide = next(c for c in findings.CLAIMS if c.key == "arnn_ctx_wide")
    root.mkdir()
    row = findings.evaluate(wide, root)
    assert row.label == "not run" and "CPU-" not in row.settle
    assert "CTX-wide seed 2" in row.settle and len(row.needed) == 6
