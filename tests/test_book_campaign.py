"""Chapters 09-10's view of the CPU campaign (arnn_lite.book.campaign), on stand-in runs: the
narrow-variant probe files, relabelled as campaign runs."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from arnn_lite.book import campaign, data_dir  # noqa: E402

PROBES = data_dir() / "results" / "probes" / "narrow_book_lr_long"


def _campaign_root(tmp_path, models=("ctx", "none"), seeds=(0,)):
    folder = tmp_path / "mbg_narrow" / "cpu"
    folder.mkdir(parents=True)
    for model in models:
        for seed in seeds:
            r = json.loads((PROBES / f"{model}.json").read_text())
            r["protocol"], r["provenance"]["seed"] = "cpu", seed
            (folder / (f"{model}.json" if seed == 0 else f"{model}_seed{seed}.json")).write_text(json.dumps(r))
    return tmp_path


def test_nothing_finished_gives_empty_tables_and_says_how_far_the_plan_is(tmp_path):
    assert campaign.runs(root=tmp_path) == {}
    rows, columns = campaign.accuracy_rows({})
    assert rows == [] and columns[:4] == ["model", "source", "seeds", "total"]
    assert campaign.progress(root=tmp_path).startswith("0 of the ")
    assert "MBGⁱⁿᵛ" in campaign.progress(inverse=True, root=tmp_path)


def test_accuracy_rows_show_only_the_bins_the_variant_fills(tmp_path):
    by_model = campaign.runs(root=_campaign_root(tmp_path, seeds=(0, 1)))
    assert set(by_model) == {"ctx", "none"} and list(by_model["ctx"]) == [0, 1]
    rows, columns = campaign.accuracy_rows(by_model)
    assert [r["model"] for r in rows] == ["NONE", "CTX"]
    assert {"1.0-1.5", "1.5-2.0"} <= set(columns) and "0.5-1.0" not in columns and "2.5-3.0" not in columns
    assert rows[1]["seeds"] == "0, 1" and "(2 seeds)" in rows[1]["total"]
    assert rows[1]["parameters"] > rows[0]["parameters"]  # CTX's attention modules


def test_unet_rows_carry_the_supplements_row_beneath_ours(tmp_path):
    root = _campaign_root(tmp_path, models=("ctx",))
    folder = root / "mbg_narrow" / "cpu"
    (folder / "unet2.json").write_text((folder / "ctx.json").read_text().replace('"model": "ctx"', '"model": "unet2"'))
    rows, _ = campaign.accuracy_rows(campaign.runs(root=root))
    paper_rows = [r for r in rows if r["source"].startswith("paper")]
    assert len(paper_rows) == 1 and paper_rows[0]["model"] == "UNet d=2" and "Table 1" in paper_rows[0]["source"]
    assert paper_rows[0]["total"] == "85.9%"


def test_paired_rows_and_a_pooled_line_per_pair(tmp_path):
    by_model = campaign.runs(root=_campaign_root(tmp_path))
    rows, lines = campaign.paired(by_model)
    assert [(r["A"], r["B"], r["seed"]) for r in rows] == [("CTX", "NONE", 0)]
    assert len(lines) == 1 and lines[0].startswith("CTX vs NONE, pooled over seeds: reproduced")
    fig, ax = plt.subplots()
    campaign.plot_curves(ax, by_model)
    assert len(ax.lines) == 2 and ax.get_legend() is not None
    plt.close(fig)


def test_curves_tell_seeds_apart_by_line_style_and_single_seed_models_too(tmp_path):
    """Printed in grey, lines must differ in more than colour: with several seeds each seed
    has its own line style; with one seed per model, each model has its own."""
    several = campaign.runs(root=_campaign_root(tmp_path / "a", seeds=(0, 1)))
    single = campaign.runs(root=_campaign_root(tmp_path / "b"))
    for by_model, styles in ((several, ["-", "--", "-", "--"]), (single, ["-", "--"])):
        fig, ax = plt.subplots()
        campaign.plot_curves(ax, by_model)
        assert [line.get_linestyle() for line in ax.lines] == styles
        assert len({line.get_marker() for line in ax.lines}) == len(by_model)
        plt.close(fig)



def test_test_items_are_the_items_the_shipped_run_was_tested_on():
    """The masks chapter 09 shows for a campaign model are drawn on its own test split: the
    items rebuilt from the results file carry the labels its run recorded, in order; the
    paper's generator settings would give other items."""
    from arnn_lite.datasets.mbg import VARIANTS
    from arnn_lite.experiments import results

    result = results.read_result(data_dir() / "results" / "mbg_narrow" / "cpu" / "none.json")
    recorded = result["metrics"]["test"]["labels"][:8]
    assert [int(it["label"]) for it in campaign.test_items(result, count=8)] == recorded
    paper = dict(result, config={**result["config"], **VARIANTS["paper"]})
    assert [int(it["label"]) for it in campaign.test_items(paper, count=8)] != recorded


def test_show_masks_draws_one_figure_per_model_with_each_stages_mask(monkeypatch):
    """Chapters 09 and 10 draw shipped models' masks through one helper: a figure per model,
    the images in the top row and one row per attention stage, titled for the task."""
    from arnn_lite.experiments import results

    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()) or plt.close(plt.gcf()))
    mbg = {"ctx": results.load_results("mbg/book/ctx.json")[0]}
    inv = {"ctx (book)": results.load_results("mbg_inv/book/ctx.json")[0]}
    colour_answer = [f"predicted {c}" for c in campaign.COLOUR_NAMES]  # MBG names a colour
    digit_answer = [f"predicted {d}" for d in range(10)]  # MBGⁱⁿᵛ a digit
    for by_model, answers in ((mbg, colour_answer), (inv, digit_answer)):
        items = campaign.test_items(next(iter(by_model.values())), count=3)
        assert campaign.show_masks(by_model, items, "test") == list(by_model)
        fig = shown.pop()
        assert len(fig.axes) == 3 * 5  # the images, then the four stages, for 3 items
        assert "masks per stage (test)" in fig._suptitle.get_text()
        assert all(any(a in ax.get_title() for a in answers) for ax in fig.axes[:3])
    assert not shown
