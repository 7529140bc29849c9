"""What a results file records so that runs can be compared and trusted (issue 16): each test
item's prediction, mask saturation per stage and epoch, a health flag for dead attention, the
book protocol's departures from PAN's recipe, and shipped results only from a clean tree."""

import json
from pathlib import Path

import pytest
import torch

from arnn_lite import stats
from arnn_lite.experiments import common, mbg
from arnn_lite.experiments.common import Refused, check_clean_tree
from tests.helpers import torch_threads

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "results"
TINY = dict(train=6, val=4, test=5, epochs=2, batch_size=3)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("records")
    with torch_threads(1):
        mbg.run("ctx", out_dir=out, overrides=TINY, progress=False, command="test")
    return json.loads((out / "ctx.json").read_text())


def test_test_predictions_are_kept_per_item(tiny_run):
    test = tiny_run["metrics"]["test"]
    assert len(test["predictions"]) == len(test["labels"]) == TINY["test"]
    right = sum(p == y for p, y in zip(test["predictions"], test["labels"]))
    assert right / TINY["test"] == pytest.approx(test["accuracy"])


def test_saturation_is_logged_per_stage_and_epoch(tiny_run):
    history = tiny_run["metrics"]["history"]
    assert len(history) == TINY["epochs"]
    for epoch in history:
        assert "predictions" not in epoch and "labels" not in epoch  # test set only
        assert len(epoch["mask_saturation"]) == 4
        assert all(0 <= v <= 1 for v in epoch["mask_saturation"])


def test_results_file_carries_a_health_flag(tiny_run):
    health = tiny_run["health"]
    assert set(health) == {"constant_prediction", "saturated_stages", "attention_dead",
                           "saturation_threshold"}


def test_saturation_counts_values_near_zero_or_one():
    assert stats.saturation(torch.tensor([0.0, 0.0005, 0.5, 0.9995])) == 0.75
    assert stats.saturation([0.2, 0.3]) == 0.0
    with pytest.raises(ValueError, match="eps"):
        stats.saturation([0.5], eps=0.7)


@pytest.mark.parametrize("test, dead", [
    ({"predictions": [1, 1, 1, 1], "mask_saturation": [0.1, 0.2]}, True),   # constant prediction
    ({"predictions": [1, 2, 1, 0], "mask_saturation": [0.1, 1.0]}, True),   # a shut gate
    ({"predictions": [1, 2, 1, 0], "mask_saturation": [None, 0.3]}, False),
    ({"predictions": [1, 2, 1, 0]}, False),                                  # no masks at all
])
def test_health_flags_dead_attention(test, dead):
    assert stats.health(test)["attention_dead"] is dead


def test_the_dead_ctx_run_shipped_for_mbg_inv_would_be_flagged():
    """CTX's long MBG^inv run predicted one class: its file's per-bin accuracies give it away,
    and health() on its (constant) predictions calls it dead."""
    result = json.loads((SHIPPED / "mbg_inv" / "custom" / "ctx.json").read_text())
    n = 1000
    assert stats.health({"predictions": [3] * n})["attention_dead"]
    assert result["metrics"]["test"]["accuracy"] < 0.11  # chance: 10 classes


def test_book_protocol_follows_pans_batch_rule():
    spec, config, _ = common.resolve_protocol(mbg.PROTOCOLS, "book")
    assert config.lr == pytest.approx(3e-3 * config.batch_size / 200)  # PAN: 3e-3 at batch 200
    assert all(config.lr_at(e) == config.lr for e in range(config.epochs))  # PAN's decay: epoch 30+
    assert any("batch" in c for c in spec["changes_from_recipe"])


def test_shipped_results_need_a_clean_tree(tmp_path):
    target = SHIPPED / "mbg" / "book"
    with pytest.raises(Refused, match="allow-dirty"):
        check_clean_tree(target, commit="abc+dirty")
    check_clean_tree(target, allow_dirty=True, commit="abc+dirty")  # labelled, allowed
    check_clean_tree(target, commit="abc")  # clean
    check_clean_tree(tmp_path, commit="abc+dirty")  # elsewhere: only labelled


def test_cli_has_allow_dirty():
    with pytest.raises(SystemExit):
        mbg.main(["--help"])
