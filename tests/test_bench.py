"""The benchmark's JSON: every case present, ratios taken within the run, provenance."""

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
    net = bench._network("brnn")
    kinds = [type(stage.attention).__name__ for stage in net.stages]
    assert kinds == ["BlockAttentionRNN"] * 4
    assert net.stages[-1].attention.normalization == "softmax"


def test_backend_names():
    assert bench._backend("ARNN") == "fused" and bench._backend("arnn (autograd)") == "autograd"
    assert bench._backend("ARNN (triton)") == "triton"
    assert bench._cases(bench.MODULES, "cpu") == list(bench.MODULES)  # no Triton case on a CPU


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
