"""The VQA experiment end to end on a tiny protocol: results file, a killed run resumed,
and the VQA v2 path on a tiny example in the official format."""

import json

from arnn_lite.experiments import vqa as experiment
from arnn_lite.train import load_checkpoint
from tests.helpers import assert_same_run, kill_then_resume, start_experiment

from .test_datasets_vqa import write_tiny_vqa2

ARGS = ["--attention", "arnn", "--train", "24", "--val", "8", "--test", "8", "--batch-size", "8",
        "--d", "64", "--d-att", "32", "--channels", "8", "--hidden", "16", "--seed", "1"]


def _result(out):
    return json.loads((out / "arnn_seed1.json").read_text())  # seed 1: its own file name


def test_killed_run_resumes_to_the_same_result(tmp_path):
    straight = start_experiment("vqa", ARGS, tmp_path / "a", "--epochs", "3")
    assert straight.wait(timeout=600) == 0, straight.stdout.read()
    ref = _result(tmp_path / "a")
    assert ref["experiment"] == "vqa" and ref["protocol"] == "custom"
    assert ref["config"]["train"] == 24 and ref["config"]["model"]["d"] == 64
    assert ref["provenance"]["command"].startswith("python -m arnn_lite.experiments.vqa --attention arnn")
    test = ref["metrics"]["test"]
    assert set(test) == {"accuracy", "accuracy_by_type", "mask_mass_in_box", "mask_saturation",
                         "predictions", "labels"}
    assert set(test["accuracy_by_type"]) == {"colour", "digit", "count", "position"}
    state = load_checkpoint(tmp_path / "a" / ref["checkpoint"]["file"], ref["checkpoint"]["sha256"])
    assert "attend.0.readout.weight" in state and "fuse.h1" in state

    got = kill_then_resume("vqa", ARGS, tmp_path / "b", "arnn_seed1", "--epochs", "3")
    assert_same_run(got, ref)


def test_vqa2_path_on_a_tiny_official_format_example(tmp_path):
    rows = [(i, f"Is the {w} red?", ["yes"] * 4 if i % 3 else ["no"] * 4, "yes/no")
            for i, w in enumerate(["cat", "dog", "bus", "car", "cup", "hat"] * 2)]
    write_tiny_vqa2(tmp_path / "vqa2", "train", rows)
    write_tiny_vqa2(tmp_path / "vqa2", "val", rows[:6])
    test, history = experiment.run("att", "book", seed=0, device="cpu", out_dir=tmp_path / "out",
                                   overrides=dict(epochs=1, batch_size=4, d=32, d_att=16, channels=8,
                                                  hidden=8),
                                   progress=False, command="test", vqa2_root=tmp_path / "vqa2")
    result = json.loads((tmp_path / "out" / "att.json").read_text())
    assert result["experiment"] == "vqa2" and result["config"]["data"] == "vqa2"
    assert set(test["accuracy_by_type"]) == {"yes/no", "number", "other"}
    assert test["accuracy_by_type"]["number"] is None and 0 <= test["accuracy"] <= 1
    assert test["mask_mass_in_box"] is None
