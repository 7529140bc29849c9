"""The scalability experiment on a tiny protocol: results file with accuracy and step
time, map sizes and step counts, and an interrupted run resumed to the same result."""

import json
import subprocess
import sys

import pytest
import torch

from arnn_lite import train
from arnn_lite.datasets.tensors import TensorDict
from arnn_lite.experiments import scalability
from arnn_lite.experiments.common import Refused
from arnn_lite.models.mbg import MBGNet
from arnn_lite.train import load_checkpoint

TINY = dict(train=6, val=4, test=4, batch_size=3)


def test_map_sizes_and_sequential_steps():
    assert scalability.map_sizes(128) == [63, 30, 14, 6, 2]
    assert scalability.map_sizes(100, 4) == [49, 23, 10, 4]
    with pytest.raises(ValueError, match="canvas: expected"):
        scalability.map_sizes(20)
    assert scalability.sequential_steps(63, 63) == 125
    assert scalability.sequential_steps(63, 63, 2) == 63  # ceil(63 / 2) = 32
    assert scalability.sequential_steps(63, 63, 4) == 31


def test_command_writes_accuracy_and_step_time(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "arnn_lite.experiments.scalability", "--attention", "brnn",
         "--block-size", "4", "--train", "6", "--val", "4", "--test", "4", "--batch-size", "3",
         "--epochs", "1", "--timing-steps", "2", "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "s per training step" in proc.stdout
    result = json.loads((tmp_path / "front_brnn.json").read_text())
    assert result["experiment"] == "mbg_scale" and result["protocol"] == "custom"
    assert result["config"]["front"] == "brnn" and result["config"]["block_size"] == 4
    assert result["config"]["map_sizes"] == [63, 30, 14, 6, 2]
    timing = result["metrics"]["timing"]
    assert timing["seconds_per_step"] > 0 and len(timing["step_times"]) == 2
    assert timing["front_sequential_steps"] == 31 and timing["front_map"] == 63
    assert len(result["metrics"]["test"]["mask_mass_in_box"]) == 5
    assert result["provenance"]["command"].startswith("python -m arnn_lite.experiments.scalability")
    state = load_checkpoint(tmp_path / "front_brnn.pt", result["checkpoint"]["sha256"])
    assert "stages.0.attention.local.weight" in state


class Killed(Exception):
    pass


def test_resumed_run_matches_a_straight_one(tmp_path, monkeypatch):
    kw = dict(device="cpu", progress=False, timing_steps=1, overrides={**TINY, "epochs": 2})
    straight, _ = scalability.run("none", out_dir=tmp_path / "a", **kw)
    real = train.save_checkpoint

    def save_then_die(state, path, **kw):  # killed right after the first epoch's checkpoint
        real(state, path, **kw)
        raise Killed
    monkeypatch.setattr(train, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        scalability.run("none", out_dir=tmp_path / "b", **kw)
    monkeypatch.undo()
    assert not (tmp_path / "b" / "front_none.json").exists()
    resumed, _ = scalability.run("none", out_dir=tmp_path / "b", resume=True, **kw)
    assert resumed == straight
    assert json.loads((tmp_path / "b" / "front_none.json").read_text())["metrics"]["history"][1]["epoch"] == 2
    with pytest.raises(Refused, match="differs in epochs"):  # another run is not written over it...
        scalability.run("none", out_dir=tmp_path / "b", **{**kw, "overrides": {**TINY, "epochs": 3}})
    longer, _ = scalability.run("none", out_dir=tmp_path / "b", resume=True,  # ...but --resume extends it
                                **{**kw, "overrides": {**TINY, "epochs": 3}})
    extended = json.loads((tmp_path / "b" / "front_none.json").read_text())
    assert [h["epoch"] for h in extended["metrics"]["history"]] == [1, 2, 3] and extended["config"]["epochs"] == 3


def test_unknown_front_is_rejected():
    with pytest.raises(ValueError, match="front: expected one of"):
        scalability.run("ctx", overrides=TINY)


def test_step_times_come_from_the_benchmarks_timer(monkeypatch, one_thread):
    """One step timer in the package (issue 17): the study's is bench.timed_rounds."""
    net = MBGNet("none", channels=4, hidden=2)
    data = TensorDict({"image": torch.rand(4, 3, 46, 46), "query": torch.eye(10)[:4],
                       "label": torch.arange(4)})
    config = train.TrainConfig(batch_size=2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    times = scalability.time_steps(net, data, config, "cpu", steps=2, warmup=1)
    assert len(times) == 2 and all(t > 0 for t in times)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # a copy trained
    calls = []
    monkeypatch.setattr(scalability.bench, "timed_rounds",
                        lambda cases, device, repeats, warmup: calls.append((list(cases), repeats, warmup))
                        or {"step": [0.5] * repeats})
    assert scalability.time_steps(net, data, config, "cpu", steps=3, warmup=2) == [0.5] * 3
    assert calls == [(["step"], 3, 2)]
