"""The GPU self-check on a CPU: the refusal without CUDA, the driver, the checks that need no
GPU at tiny sizes, the results file, and the table chapter 15 shows (CUDA parts: on a GPU)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from arnn_lite.experiments import bench, gpucheck, results
from tests.helpers import subprocess_env

CPU = gpucheck.Settings(device="cpu", quick=True, budget_s=0.5)


def strict_json(text):
    """Parse JSON, refusing NaN and Infinity (not JSON; other readers choke on them)."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def one_sentence(text):
    text = text.strip()
    return "\n" not in text and text.endswith(".") and ". " not in text[:-1]


# --------------------------------------------------------------------------- refusal
def test_refuses_without_cuda_in_one_sentence(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, "-m", "arnn_lite.experiments.gpucheck", "--out", str(out)],
                          capture_output=True, text=True, timeout=120,
                          env=subprocess_env(CUDA_VISIBLE_DEVICES=""))
    assert done.returncode == 2, done.stderr
    assert one_sentence(done.stderr) and "CUDA" in done.stderr and "--allow-cpu" in done.stderr
    assert done.stdout == "" and not out.exists()


def test_cpu_needs_allow_cpu(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpucheck.main(["--device", "cpu", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert one_sentence(err) and "--allow-cpu" in err and not out.exists()


def test_command_line_on_cpu(tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpucheck.main(["--device", "cpu", "--allow-cpu", "--checks", "memory", "--out", str(out)]) == 0
    saved = strict_json(out.read_text())
    assert saved["provenance"]["command"] == ("python -m arnn_lite.experiments.gpucheck --device cpu "
                                              f"--allow-cpu --checks memory --out {out}")
    assert saved["config"]["quick"] is True  # the CPU always runs the tiny sizes
    assert "0 ok, 0 failed, 0 errors, 1 skipped; written to" in capsys.readouterr().out


def test_unknown_check_names_the_option():
    with pytest.raises(SystemExit):
        gpucheck.main(["--device", "cpu", "--allow-cpu", "--checks", "equality,speed"])


# --------------------------------------------------------------------------- driver
def test_driver_records_every_check_whatever_happens():
    calls = []

    def fine(settings):
        calls.append("fine")
        return {"value": 1}

    def broken(settings):
        calls.append("broken")
        raise RuntimeError("CUDA out of memory (simulated)")

    def wrong(settings):
        calls.append("wrong")
        return {"passed": False, "value": 2}

    def elsewhere(settings):
        calls.append("elsewhere")
        raise gpucheck.Skip("needs CUDA")

    lines = []
    done = gpucheck.run_checks(CPU, {"broken": broken, "fine": fine, "wrong": wrong,
                                     "elsewhere": elsewhere}, log=lines.append)
    assert calls == ["broken", "fine", "wrong", "elsewhere"]  # the error stopped nothing
    assert list(done) == ["broken", "fine", "wrong", "elsewhere"]
    assert {k: v["status"] for k, v in done.items()} == {
        "broken": "error", "fine": "ok", "wrong": "failed", "elsewhere": "skipped"}
    assert done["broken"]["error"] == "RuntimeError: CUDA out of memory (simulated)"
    assert "in broken" in done["broken"]["traceback"]
    assert done["fine"]["value"] == 1 and done["elsewhere"]["reason"] == "needs CUDA"
    assert all(v["seconds"] >= 0 for v in done.values()) and len(lines) == 4
    assert "CUDA out of memory" in lines[0]


def test_driver_skips_checks_after_the_deadline():
    late = gpucheck.Settings(device="cpu", quick=True, deadline_s=0.0)
    calls = []

    def slow(settings):
        calls.append(1)
        time.sleep(0.01)
        return {}
    done = gpucheck.run_checks(late, {"first": slow, "second": slow}, log=lambda line: None)
    assert calls == [1] and done["first"]["status"] == "ok"
    assert done["second"]["status"] == "skipped" and "deadline" in done["second"]["reason"]


# --------------------------------------------------------------------------- the checks on CPU
def test_equality_on_cpu_is_within_tolerance():
    got = gpucheck.check_equality(CPU)
    assert got["passed"] is True and got["backends"][:2] == ["autograd", "fused"]
    assert set(got["tolerance"]) == {"float32", "bfloat16"} == set(got["worst"])
    assert set(got["cases"]) == {"lstm_reverse", "arnn_sigmoid", "arnn_softmax_query", "arnn_sample"}
    assert 0 < got["worst"]["float32"]["fused"] < 1e-5  # float32 rounding, not a bug
    assert got["worst"]["bfloat16"]["fused"] <= gpucheck.TOLERANCES["bfloat16"]


def test_equality_catches_a_difference(monkeypatch):
    """The check can fail: against a reference that is 1% off, every path is out of tolerance."""
    real = gpucheck.reference.attention_rnn
    monkeypatch.setattr(gpucheck.reference, "attention_rnn", lambda *a, **k: real(*a, **k) * 1.01)
    got = gpucheck.check_equality(CPU)
    assert got["passed"] is False and got["worst"]["float32"]["fused"] > 1e-3
    assert got["cases"]["lstm_reverse"]["fused float32"] < 1e-5  # the untouched case still agrees


def test_amp_train_steps_are_finite():
    got = gpucheck.check_amp_train(CPU)
    assert got["passed"] is True and set(got["models"]) == set(gpucheck.AMP_MODELS)
    for model in got["models"].values():
        assert model["finite_loss"] and model["finite_grads_last_step"] and model["weights_moved"]


def test_compile_of_the_readable_scan_on_cpu():
    got = gpucheck.check_compile(CPU)  # quick: dynamo's "eager" backend, no C++ compiler needed
    assert got["works"] is True and got["backend"] == "eager" and got["timing"] == "interleaved"
    assert got["max_difference"] < 1e-6 and got["speedup"] > 0


def test_compile_records_an_error_instead_of_failing(monkeypatch):
    def no_compile(*args, **kwargs):
        raise RuntimeError("inductor: no C++ compiler (simulated)")
    monkeypatch.setattr(torch, "compile", no_compile)
    got = gpucheck.run_checks(CPU, {"compile": gpucheck.check_compile}, log=lambda line: None)["compile"]
    assert got["status"] == "ok" and got["works"] is False and "no C++ compiler" in got["error"]
    assert "does not compile" in gpucheck._headline("compile", got)


def tiny_mbg_sets(settings):
    """Stand-in MBG splits (dicts of tensors, as mbg_split gives), no MNIST needed."""
    def split(n, seed):
        g = torch.Generator().manual_seed(seed)
        return [{"image": torch.rand(3, 48, 48, generator=g),
                 "query": torch.nn.functional.one_hot(torch.tensor(i % 10), 10).float(),
                 "label": torch.tensor(i % 5), "scale": torch.tensor(1.0),
                 "box": torch.tensor([4, 4, 20, 20])} for i in range(n)]
    return split(16, 0), split(8, 1)


def fake_bench_run(device, quick):
    """bench.run's document shape, with numbers chosen to check the ratios read from it."""
    modules = {"10": {"CTX": 1.0, "ARNN": 2.0, "ARNN (triton)": 0.5}}
    steps = {"4": {"ctx": 1.0, "arnn": 3.0, "arnn (triton)": 1.5}}
    return {"protocol": "quick", "config": {"sizes": [10]},
            "metrics": {"modules_s": modules, "train_step_s": steps,
                        "modules_vs_ctx": {k: bench.ratios(v, "CTX") for k, v in modules.items()},
                        "train_step_vs_ctx": {k: bench.ratios(v, "ctx") for k, v in steps.items()}}}


def test_cpu_run_writes_one_valid_results_file(tmp_path, monkeypatch):
    monkeypatch.setattr(gpucheck, "_mbg_sets", tiny_mbg_sets)
    monkeypatch.setattr(gpucheck.bench, "run", fake_bench_run)
    out = tmp_path / "bench" / "gpu.json"
    lines = []
    checks = {k: gpucheck.CHECKS[k] for k in ("amp_train", "benchmark", "memory", "mbg_budget")}
    result = gpucheck.run(CPU, out, "python -m arnn_lite.experiments.gpucheck (test)", checks, lines.append)
    saved = strict_json(out.read_text())
    assert saved == json.loads(json.dumps(result))
    results.validate(saved)
    assert saved["experiment"] == "gpucheck" and saved["protocol"] == "quick"
    assert saved["config"]["checks"] == list(checks) and saved["config"]["device"] == "cpu"
    assert saved["provenance"]["command"] == "python -m arnn_lite.experiments.gpucheck (test)"
    assert saved["environment"]["torch"] == torch.__version__
    done = saved["metrics"]["checks"]
    assert {k: v["status"] for k, v in done.items()} == {
        "amp_train": "ok", "benchmark": "ok", "memory": "skipped", "mbg_budget": "ok"}
    assert saved["metrics"]["counts"] == {"ok": 3, "failed": 0, "error": 0, "skipped": 1}
    assert done["benchmark"]["arnn_vs_ctx"] == {"4": 3.0}
    assert done["benchmark"]["triton_vs_fused"] == {"module 10x10": 0.25, "train step batch 4": 0.5}
    mbg = done["mbg_budget"]
    assert mbg["steps"] >= 1 and mbg["train_s"] >= CPU.budget_s and 0 <= mbg["val_accuracy"] <= 1
    assert lines[0].startswith("GPU self-check on cpu") and len(lines) == 1 + len(checks)


# --------------------------------------------------------------------------- what chapter 15 shows
def fake_gpu_result():
    """A results file as a GPU run would write it (numbers made up for the test)."""
    prov = {"command": "python -m arnn_lite.experiments.gpucheck --out data/bench/gpu.json",
            "git_commit": "0123456789abcdef", "device": "cuda (NVIDIA T4, 2 threads)",
            "torch_version": "2.11.0", "seed": 0, "started": "2026-09-01T10:00:00+00:00",
            "duration_s": 420.0}
    checks = {
        "equality": {"status": "ok", "seconds": 12.0, "tolerance": {"float32": 1e-4, "float16": 1e-2},
                     "worst": {"float32": {"fused": 2e-7, "triton": 3e-7},
                               "float16": {"fused": 4e-3, "triton": 4e-3}},
                     "backends": ["autograd", "fused", "triton"]},
        "compile": {"status": "ok", "seconds": 80.0, "works": False, "backend": "inductor",
                    "error": "InternalTorchDynamoError: something | with a pipe\nmore"},
        "benchmark": {"status": "ok", "seconds": 150.0, "arnn_vs_ctx": {"32": 1.9, "200": 1.4},
                      "triton_vs_fused": {"train step batch 32": 0.6}},
        "memory": {"status": "ok", "seconds": 20.0, "device_total_mib": 15360.0,
                   "peak_mib": {"arnn": {"32": 1024.0, "200": 6144.0}}},
        "mbg_budget": {"status": "error", "seconds": 3.0, "error": "RuntimeError: MNIST 'train' not found"},
    }
    return {"experiment": "gpucheck", "protocol": "full", "config": {}, "provenance": prov,
            "metrics": {"checks": checks}, "environment": {"gpu": "Tesla T4", "cuda": "12.8"}}


def test_summary_rows_read_a_gpu_results_file():
    rows = {name: (status, line, secs)
            for name, status, line, secs in gpucheck.summary_rows(fake_gpu_result())}
    assert list(rows) == ["equality", "compile", "benchmark", "memory", "mbg_budget"]
    assert rows["equality"][1] == ("float32: worst 3.0e-07 (tolerance 1e-04); float16: worst 4.0e-03 "
                                   "(tolerance 1e-02); backends autograd, fused, triton")
    assert rows["compile"][1].startswith("does not compile (inductor): InternalTorchDynamoError")
    assert rows["benchmark"][1] == ("train step ARNN/CTX 1.90x (batch 32), 1.40x (batch 200); "
                                    "Triton/fused time 0.60x (train step batch 32)")
    assert "arnn b200 6.00 GiB of 15 GiB" in rows["memory"][1]
    assert rows["mbg_budget"] == ("error", "RuntimeError: MNIST 'train' not found", "3")


def test_chapter_view_shows_the_table_or_says_there_is_none(tmp_path):
    path = tmp_path / "gpu.json"
    none = gpucheck.chapter_view(path)
    assert "No GPU measurement exists yet" in none and "gpucheck --out data/bench/gpu.json" in none
    path.write_text(json.dumps(fake_gpu_result()))
    table = gpucheck.chapter_view(path).splitlines()
    assert table[:2] == ["| check | status | result | s |", "|---|---|---|---|"]
    assert len(table) == 2 + 5 + 2 and all(line.count("|") == 5 for line in table[2:7])  # pipes escaped
    assert "Tesla T4" in table[-1] and "torch 2.11.0" in table[-1] and "commit 0123456789" in table[-1]


def test_chapter_15_shows_the_gpu_file():
    chapter = Path(__file__).resolve().parents[1] / "chapters" / "15_making_the_scan_fast.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(chapter.read_text())["cells"]
             if c["cell_type"] == "code"]
    assert any('gpucheck.chapter_view(data_dir() / "bench" / "gpu.json")' in c for c in cells)
