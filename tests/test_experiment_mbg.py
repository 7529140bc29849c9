"""The MBG experiment end to end on a tiny protocol: results file, and a killed run resumed."""

import json
import subprocess
import sys

from arnn_lite.train import load_checkpoint
from tests.helpers import assert_same_run, kill_then_resume, subprocess_env

ARGS = ["--model", "noctx", "--train", "20", "--val", "10", "--test", "10",
        "--batch-size", "10", "--seed", "1"]


def _run(out, *extra, **kw):
    return subprocess.Popen([sys.executable, "-m", "arnn_lite.experiments.mbg", *ARGS,
                             "--out-dir", str(out), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=subprocess_env(), **kw)


def _result(out):
    return json.loads((out / "noctx_seed1.json").read_text())  # seed 1: its own file name


def test_killed_run_resumes_to_the_same_result(tmp_path):
    straight = _run(tmp_path / "a", "--epochs", "3", "--patience", "7")
    assert straight.wait(timeout=600) == 0, straight.stdout.read()
    ref = _result(tmp_path / "a")
    assert ref["protocol"] == "custom" and ref["config"]["train"] == 20
    assert ref["config"]["patience"] == 7 and ref["config"]["epochs"] == 3
    assert ref["provenance"]["command"].startswith("python -m arnn_lite.experiments.mbg --model noctx")
    assert set(ref["metrics"]["test"]) == {"accuracy", "accuracy_by_scale", "mask_mass_in_box",
                                           "mask_saturation", "predictions", "labels"}
    assert len(ref["metrics"]["test"]["mask_mass_in_box"]) == 4
    weights = tmp_path / "a" / ref["checkpoint"]["file"]
    state = load_checkpoint(weights, ref["checkpoint"]["sha256"])  # hash recorded by the run
    assert "stages.0.conv.weight" in state

    got = kill_then_resume("mbg", ARGS, tmp_path / "b", "noctx_seed1", "--epochs", "3", "--patience", "7")
    assert_same_run(got, ref)

    # A finished run extended with more epochs (--resume --epochs N): the run that had been
    # given N epochs from the start, and one results file that records N.
    short = _run(tmp_path / "c", "--epochs", "2", "--patience", "7")
    assert short.wait(timeout=600) == 0, short.stdout.read()
    longer = _run(tmp_path / "c", "--epochs", "3", "--patience", "7", "--resume")
    assert longer.wait(timeout=600) == 0, longer.stdout.read()
    extended = _result(tmp_path / "c")
    assert_same_run(extended, ref)
    assert extended["config"]["epochs"] == 3 and "epochs=3" in extended["config"]["changes_from_recipe"][0]
    assert extended["provenance"]["command"].endswith("--resume")
    fresh = _run(tmp_path / "c", "--epochs", "4", "--patience", "7")  # not a resume: refused
    assert fresh.wait(timeout=600) != 0 and "holds another run (differs in epochs" in fresh.stdout.read()


def test_runs_under_torchrun_with_two_gloo_processes(tmp_path):
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
         "29517", "-m", "arnn_lite.experiments.mbg", *ARGS, "--epochs", "1", "--out-dir", str(out)],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("test accuracy") == 1  # rank 0 alone reports and writes
    result = _result(out)
    assert result["metrics"]["history"][0]["epoch"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["noctx_seed1.ckpt", "noctx_seed1.ckpt.sha256",
                                                     "noctx_seed1.json", "noctx_seed1.pt"]
