"""The benchmark's JSON: every case present, ratios taken within the run, provenance."""

import contextlib
import json

import pytest

from arnn_lite.experiments import bench


def test_quick_bench_writes_complete_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    result = bench.main(["--device", "cpu", "--quick", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    metrics = result["metrics"]
    for size, times in metrics["modules_s"].items():
        assert set(times) == set(bench._cases(bench.MODULES, "cpu")) and all(t > 0 for t in times.values())
        assert metrics["modules_vs_ctx"][size]["CTX"] == 1.0
        assert metrics["modules_vs_ctx"][size]["ARNN"] == times["ARNN"] / times["CTX"]
    for batch, times in metrics["train_step_s"].items():
        assert set(times) == set(bench._cases(bench.NETWORKS, "cpu"))
        assert metrics["train_step_vs_ctx"][batch]["ctx"] == 1.0
    prov = result["provenance"]
    assert prov["command"] == "python -m arnn_lite.experiments.bench --device cpu --quick"
    assert prov["device"].startswith("cpu") and prov["torch_version"] and prov["git_commit"]
    assert "train step, batch 4" in capsys.readouterr().out


def test_brnn_network_uses_block_attention_everywhere():
    net = bench.MBGNet(bench.NETWORKS["brnn"].attention)
    kinds = [type(stage.attention).__name__ for stage in net.stages]
    assert kinds == ["BlockAttentionRNN"] * 4
    assert net.stages[-1].attention.normalization == "softmax"


def test_cases_carry_their_backend_as_data(monkeypatch):
    """Each label names a zoo attention and a scan backend; nothing is parsed back out of
    the label (issue 17)."""
    assert bench.MODULES["ARNN (autograd)"] == bench.Case("arnn", "autograd")
    assert bench.NETWORKS["arnn"] == bench.Case("arnn", "fused")
    assert bench.NETWORKS["none"].attention == "none"
    assert bench._cases(bench.MODULES, "cpu") == bench.MODULES  # no Triton case on a CPU
    monkeypatch.setattr(bench.scan_triton, "available", lambda device: True)
    cuda = bench._cases(bench.NETWORKS, "cuda")
    assert list(cuda)[2:4] == ["arnn", "arnn (triton)"]
    assert cuda["arnn (triton)"] == bench.Case("arnn", "triton")
    relabelled = bench._cases({"mine": bench.Case("arnn")}, "cuda")  # any label: the data decide
    assert relabelled == {"mine": bench.Case("arnn"), "mine (triton)": bench.Case("arnn", "triton")}


def test_the_timed_backend_is_the_cases(monkeypatch):
    used = []
    monkeypatch.setattr(bench, "use_backend", lambda name: used.append(name) or contextlib.nullcontext())
    cases = {"slow one": bench.Case("arnn", "autograd"), "CTX": bench.Case("ctx")}
    monkeypatch.setattr(bench, "MODULES", cases)
    times = bench.bench_modules(sizes=(4,), channels=2, batch=1, hidden=2, repeats=1)
    assert used == ["autograd", "fused"] and set(times[4]) == {"slow one", "CTX"}


def test_timed_rounds_is_the_one_step_timer():
    ticks = []
    rounds = bench.timed_rounds({"a": lambda: ticks.append("a")}, repeats=3, warmup=2)
    assert len(ticks) == 5 and len(rounds["a"]) == 3 and all(t >= 0 for t in rounds["a"])
    assert bench.time_call(lambda: None, repeats=3) >= 0
    with pytest.raises(ValueError, match="cases"):
        bench.timed_rounds({})


def test_time_cases_interleaves_and_compare_times_reads_the_ratio():
    order = []
    seconds = bench.time_cases({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                               repeats=3, warmup=1)
    assert order == ["a", "b"] * 4  # round robin, warm-up round included
    assert set(seconds) == {"a", "b"} and all(v >= 0 for v in seconds.values())
    line = bench.compare_times({"loop": 4.0, "vectorised": 1.0}, "vectorised")
    assert "loop takes 4.00x the time of vectorised (slower)" in line
    with pytest.raises(ValueError, match="baseline"):
        bench.compare_times({"a": 1.0}, "b")
