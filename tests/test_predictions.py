"""``python -m arnn_lite.experiments.predictions``: a shipped results file without per-item
predictions is reproduced from its weights (same accuracy, same predictions as the run that
wrote it) and its predictions file written; a file whose accuracy was changed is reported
as not reproduced, and nothing is written for it."""

import json
import shutil

import pytest

from arnn_lite.experiments import mbg, predictions, results
from tests.helpers import torch_threads

SIZES = dict(train=20, val=10, test=10, epochs=1, batch_size=10)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny MBG run whose results file is then stripped of what older files lack
    (``predictions``, ``labels``, ``health``), as the files under data/results are.
    Returns (results root, the run's own test metrics)."""
    root = tmp_path_factory.mktemp("results")
    with torch_threads(1):
        test, _ = mbg.run("noctx", "book", out_dir=root / "mbg" / "custom", overrides=SIZES,
                          progress=False, command="test_predictions")
    path = root / "mbg" / "custom" / "noctx.json"
    old = json.loads(path.read_text())
    for key in ("predictions", "labels"):
        del old["metrics"]["test"][key]
    del old["health"]
    path.write_text(json.dumps(old, indent=2) + "\n")
    return root, test


def _copy(root, tmp_path):
    shutil.copytree(root, tmp_path / "results")
    return tmp_path / "results"


def test_reproduces_the_accuracy_and_writes_the_run_s_own_predictions(shipped, tmp_path):
    root, test = shipped
    with torch_threads(1):
        outcomes = predictions.run(root, tmp_path / "pred", progress=False, command="test")
    assert [o.status for o in outcomes] == ["reproduced"]
    written = tmp_path / "pred" / "mbg" / "custom" / "noctx.json"
    assert outcomes[0].written == str(written)
    record = json.loads(written.read_text())
    assert record["accuracy"] == record["recorded_accuracy"] == test["accuracy"]
    assert record["predictions"] == test["predictions"] and record["labels"] == test["labels"]
    assert record["n"] == SIZES["test"] and len(record["mask_saturation"]) == 4
    assert set(record["health"]) >= {"constant_prediction", "saturated_stages", "attention_dead"}
    assert results.validate({"experiment": "x", "protocol": "x", "config": {}, "metrics": {},
                             "provenance": record["provenance"]})  # a complete provenance block
    assert record["provenance"]["command"] == "test"
    result = results.load_results(root=root)[0]
    assert record["results_file"]["sha256"] == predictions.sha256(result["path"])
    # the chapters' reader finds them next to the results file they belong to
    got = results.read_predictions(result, root=tmp_path / "pred")
    assert got["predictions"] == test["predictions"] and got["labels"] == test["labels"]
    assert got["mask_saturation"] == record["mask_saturation"]


def test_a_tampered_accuracy_is_not_reproduced_and_nothing_is_written(shipped, tmp_path, capsys):
    root = _copy(shipped[0], tmp_path)
    path = root / "mbg" / "custom" / "noctx.json"
    data = json.loads(path.read_text())
    data["metrics"]["test"]["accuracy"] += 0.1
    path.write_text(json.dumps(data))
    with torch_threads(1), pytest.raises(SystemExit) as stop:
        predictions.main(["--results-root", str(root), "--out-dir", str(tmp_path / "pred")])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "NOT REPRODUCED" in err and "noctx.json" in err
    assert not (tmp_path / "pred" / "mbg" / "custom" / "noctx.json").exists()


def test_files_that_cannot_be_rebuilt_are_skipped_with_a_reason(shipped, tmp_path):
    root = _copy(shipped[0], tmp_path)
    (root / "mbg" / "custom" / "noctx.pt").unlink()  # as the U-Net runs: weights not shipped
    with torch_threads(1):
        [outcome] = predictions.run(root, tmp_path / "pred", progress=False)
    assert outcome.status == "skipped" and "no shipped weights" in outcome.reason
    with pytest.raises(predictions.Refused, match="only"):
        predictions.run(root, tmp_path / "pred", only=["vqa/book"], progress=False)


def test_a_predictions_file_of_another_results_version_is_refused(shipped, tmp_path):
    root = _copy(shipped[0], tmp_path)
    with torch_threads(1):
        predictions.run(root, tmp_path / "pred", progress=False)
    path = root / "mbg" / "custom" / "noctx.json"
    path.write_text(path.read_text() + " ")  # the results file changes after its predictions
    result = results.load_results(root=root)[0]
    with pytest.raises(ValueError, match="another version"):
        results.read_predictions(result, root=tmp_path / "pred")
    assert results.read_predictions(result, root=tmp_path / "elsewhere") is None


def test_health_takes_vqa_s_single_attention_map():
    """VQA's evaluate stores one saturation number (one map), MBG's one per stage; before
    this, health() raised TypeError on VQA's, at the end of every VQA run."""
    from arnn_lite import stats

    assert stats.health({"predictions": [0, 1], "mask_saturation": 0.995})["saturated_stages"] == [1]
    assert stats.health({"predictions": [0, 1], "mask_saturation": None})["attention_dead"] is False


def _run(predictions, labels, saturation=None):
    test = {"accuracy": sum(p == y for p, y in zip(predictions, labels)) / len(labels),
            "predictions": predictions, "labels": labels, "mask_saturation": saturation}
    return {"path": "in memory", "experiment": "mbg", "protocol": "book", "metrics": {"test": test}}


def test_paired_row_and_health_label_for_the_chapters():
    labels = [0, 1, 2, 3] * 5
    a = _run(labels[:16] + [0, 0, 0, 0], labels)  # right on 16 items (+ item 16, whose label is 0)
    b = _run([0] * 20, labels)  # one class for every item: a dead run
    row = predictions.paired_row("A", a, "B", b)
    assert row["discordant: A only / B only"] == "12 / 0" and row["n"] == 20
    assert row["A − B (points)"] == pytest.approx(100 * (17 - 5) / 20)
    assert row["McNemar p"] == pytest.approx(2 / 2 ** 12)  # exact: 2 * P(X <= 0), X ~ Bin(12, 1/2)
    assert row["note"] == "void: B dead (see health)"
    assert predictions.health_label(b) == "DEAD: predicts one class"
    saturated = _run(labels, labels, [0.2, 0.995])
    assert predictions.health_label(saturated) == "DEAD: stage 2 mask saturated"
    assert predictions.health_label(a) == "ok"
    old = {"path": "x/unet2.json", "experiment": "mbg", "protocol": "book",
           "metrics": {"test": {"accuracy": 0.5}}}  # no predictions anywhere
    assert predictions.health_label(old, root="/nonexistent") == "unknown (no predictions)"
    row = predictions.paired_row("A", a, "U", old, root="/nonexistent")
    assert row["note"] == "not paired: no predictions for U"
    with pytest.raises(ValueError, match="same test items"):
        predictions.paired_row("A", a, "C", _run([0] * 8, labels[:8]))


def test_reading_and_recipe_changes_generate_the_chapters_sentences():
    from arnn_lite.book import recipe_changes
    from arnn_lite.train import TrainConfig

    labels = [0, 1, 2, 3] * 5
    row = predictions.paired_row("A", _run(labels[:16] + [0] * 4, labels), "B", _run([1] * 20, labels))
    assert predictions.reading(row).startswith("A vs B: A ahead by 60.0 points, p = ")
    assert predictions.reading(row).endswith("void: B dead (see health)")
    same = predictions.paired_row("A", _run(labels, labels), "C", _run(labels, labels))
    assert predictions.reading(same, "questions") == \
        "A vs C: neither ahead by 0.0 points, p = 1: no difference detected"
    runs = [{"config": {"lr": 0.003, "batch_size": 50, "seed": 0}}, {"config": {"lr": 0.003, "seed": 1}}]
    assert recipe_changes(runs, TrainConfig(lr=0.001, batch_size=50)) == {"lr": ([0.003], 0.001)}
