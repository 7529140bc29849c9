"""Timing of the attention modules and of whole MBG train steps, in one run.

    python -m arnn_lite.experiments.bench [--device cpu|cuda] [--out data/bench/cpu.json] [--quick]

Times forward + backward of every attention module at the MBG network's layer sizes
(49×49, 23×23, 10×10; 32 channels) and one full MBG train step (forward, backward,
RMSprop update) for NONE, CTX, ARNN and BRNN² at batch sizes 32 and 200. ARNN is timed
twice: on the fused scan (the default, :mod:`arnn_lite.scan`) and on the readable
step-by-step autograd path. Every case is warm-up then the median of repeats; ratios to
CTX are taken within this one run, never across runs or machines. Chapter 15 ("Making
the scan fast") reads the JSON files this writes.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .. import scan_triton
from .._repo import git_commit, now
from ..models.mbg import MBGNet
from ..models.zoo import make_attention
from ..scan import use_backend
from .common import ArgumentParser, known_device

__all__ = ["Case", "MODULES", "NETWORKS", "timed_rounds", "time_call", "time_cases", "compare_times",
           "bench_modules", "bench_train_steps", "arnn_flops", "gemm_rate", "run", "main"]


class Case(NamedTuple):
    """One timed case: an attention of :mod:`arnn_lite.models.zoo`, by name, and the scan
    backend it runs on (:func:`arnn_lite.scan.use_backend`: ``"fused"``, the default;
    ``"autograd"``, the readable loop; ``"triton"``, the kernel, CUDA only)."""
    attention: str
    backend: str = "fused"


SIZES = (49, 23, 10)  # the MBG network's attention maps on a 100×100 canvas
# The labels are the keys of the JSON files (and of chapter 15's tables).
MODULES = {"NoCTX": Case("noctx"), "CTX": Case("ctx"), "SAN": Case("san"), "ARNN": Case("arnn"),
           "ARNN (autograd)": Case("arnn", "autograd"), "BRNN2": Case("brnn")}
NETWORKS = {"none": Case("none"), "ctx": Case("ctx"), "arnn": Case("arnn"),
            "arnn (autograd)": Case("arnn", "autograd"), "brnn": Case("brnn")}


def _cases(cases: dict, device) -> dict:
    """``cases`` plus, where the Triton kernel can run, ARNN on it (labelled ``"... (triton)"``,
    right after ARNN on the fused scan)."""
    if not (torch.device(device).type == "cuda" and scan_triton.available(device)):
        return dict(cases)
    out = {}
    for label, case in cases.items():
        out[label] = case
        if case == Case("arnn"):
            out[f"{label} (triton)"] = Case("arnn", "triton")
    return out


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed_rounds(cases: dict, device="cpu", repeats=5, warmup=1) -> dict:
    """Wall-clock seconds of each ``cases[name]()`` in each of ``repeats`` rounds, after
    ``warmup`` untimed ones: ``{name: [seconds, ...]}``. Every round runs each case once, in
    turn (the cases *interleaved*), so a slow moment of the machine (another process, a
    frequency change) hits every case alike instead of one. On CUDA the device is synchronised
    around each call, so the time is the GPU's too. The book's one step timer."""
    if not cases:
        raise ValueError("cases: expected at least one callable, got none")
    times = {name: [] for name in cases}
    for k in range(warmup + repeats):
        for name, fn in cases.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            if k >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def time_call(fn, device="cpu", repeats=5, warmup=1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup``."""
    return statistics.median(timed_rounds({"call": fn}, device, repeats, warmup)["call"])


def time_cases(cases: dict, device="cpu", repeats=5, warmup=1) -> dict:
    """Median wall-clock seconds of each ``cases[name]()``, the cases interleaved
    (:func:`timed_rounds`)."""
    return {name: statistics.median(t) for name, t in timed_rounds(cases, device, repeats, warmup).items()}


def compare_times(seconds: dict, baseline: str) -> str:
    """A sentence that says, from measured ``seconds``, how every case compares with
    ``baseline`` on this run: pages print it instead of typing a speed-up by hand."""
    if baseline not in seconds:
        raise ValueError(f"baseline: expected one of {list(seconds)}, got {baseline!r}")
    parts = []
    for name, t in seconds.items():
        if name != baseline:
            ratio = t / seconds[baseline]
            parts.append(f"{name} takes {ratio:.2f}x the time of {baseline}"
                         + (" (faster)" if ratio < 1 else " (slower)" if ratio > 1 else ""))
    return "On this run: " + "; ".join(parts) + "."


def bench_modules(sizes=SIZES, channels=32, batch=32, hidden=16, device="cpu", repeats=5, seed=0):
    """Forward + backward seconds of each module at each size: ``{size: {name: s}}``."""
    torch.manual_seed(seed)
    out = {}
    for size in sizes:
        x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
        q = torch.randn(batch, 10, device=device)
        out[size] = {}
        for label, case in _cases(MODULES, device).items():
            module = make_attention(case.attention, channels, 10, hidden=hidden).to(device)
            with use_backend(case.backend):
                out[size][label] = time_call(lambda: module(x, q).sum().backward(), device, repeats)
    return out


def bench_train_steps(batches=(32, 200), device="cpu", repeats=3, canvas=100, seed=0):
    """Seconds per MBG train step (forward, backward, RMSprop): ``{batch: {net: s}}``."""
    out = {}
    for batch in batches:
        torch.manual_seed(seed)
        image = torch.rand(batch, 3, canvas, canvas, device=device)
        query = F.one_hot(torch.randint(0, 10, (batch,)), 10).float().to(device)
        label = torch.randint(0, 5, (batch,), device=device)
        out[batch] = {}
        for name, case in _cases(NETWORKS, device).items():
            net = MBGNet(case.attention).to(device).train()  # "brnn": BRNN² in every stage
            opt = torch.optim.RMSprop(net.parameters(), lr=3e-3)

            def step():
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(image, query)[0], label).backward()
                opt.step()

            with use_backend(case.backend):
                out[batch][name] = time_call(step, device, repeats)
    return out


def arnn_flops(size, channels=32, hidden=16, batch=32) -> dict:
    """Multiply-add FLOPs of one AttentionRNN forward + backward at ``size × size``.

    Counts the matrix products only (the element-wise LSTM maths is O(hidden) per pixel,
    the products O(hidden · (C + hidden))): per pixel and direction, the gates cost
    ``2 · 4h · (C + 2S)`` (input-to-state and state-to-state, ``S`` state channels) and
    the backward pass twice that. ``scan`` is the two scans; ``context`` the 3×3 context
    convolution that CTX computes too.
    """
    pixels = batch * size * size
    gates = sum(2 * 4 * hidden * (channels + 2 * s) for s in (hidden, hidden + 1))  # both directions
    context = 2 * channels * channels * 9
    return {"scan": 3 * pixels * gates, "context": 3 * pixels * context}


def gemm_rate(m=64, k=66, n=1568, device="cpu", repeats=20) -> float:
    """FLOP/s of one ``(m, k) @ (k, n)`` product: by default the shape of one scan step of
    the first MBG layer (4·hidden gates, C + 2S inputs, 49 rows × batch 32)."""
    a, b = torch.randn(m, k, device=device), torch.randn(k, n, device=device)
    reps = max(1, int(2e8 // (2 * m * k * n)))  # about 0.2 GFLOP per timed call
    sec = time_call(lambda: [torch.mm(a, b) for _ in range(reps)], device, repeats)
    return 2 * m * k * n * reps / sec


def ratios(times: dict, baseline: str) -> dict:
    """Each entry of ``times`` divided by ``times[baseline]``."""
    return {name: sec / times[baseline] for name, sec in times.items()}


def run(device="cpu", quick=False, out=None, command=None) -> dict:
    """All cases in one run; returns (and with ``out`` writes) the JSON document."""
    started, t0 = now(), time.perf_counter()
    sizes, batches, repeats = ((10,), (4,), 2) if quick else (SIZES, (32, 200), 9)
    modules = bench_modules(sizes, device=device, repeats=repeats)
    steps = bench_train_steps(batches, device=device, repeats=max(2, repeats - 4))
    flops = {str(size): arnn_flops(size) for size in sizes}
    result = {
        "experiment": "bench", "protocol": "quick" if quick else "full",
        "config": {"sizes": list(sizes), "channels": 32, "hidden": 16, "module_batch": 32,
                   "train_batches": list(batches), "repeats": repeats, "statistic": "median"},
        "metrics": {
            "modules_s": {str(k): v for k, v in modules.items()},
            "modules_vs_ctx": {str(k): ratios(v, "CTX") for k, v in modules.items()},
            "train_step_s": {str(k): v for k, v in steps.items()},
            "train_step_vs_ctx": {str(k): ratios(v, "ctx") for k, v in steps.items()},
            "arnn_flops": flops,
            "gemm_flops_per_s": {"step_shape": gemm_rate(device=device),
                                 "square_1024": gemm_rate(1024, 1024, 1024, device, 5)},
        },
        "provenance": {
            "command": command or "python -m arnn_lite.experiments.bench", "git_commit": git_commit(),
            "device": _device_name(device), "torch_version": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "started": started,
            "duration_s": time.perf_counter() - t0,
        },
    }
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


def _device_name(device) -> str:
    if torch.device(device).type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {torch.get_num_threads()} threads"


def report(result: dict) -> str:
    """The ratios as a few lines of text."""
    lines = []
    for size, r in result["metrics"]["modules_vs_ctx"].items():
        lines.append(f"modules {size}x{size}: " + ", ".join(f"{k} {v:.2f}x" for k, v in r.items()))
    for batch, r in result["metrics"]["train_step_vs_ctx"].items():
        secs = result["metrics"]["train_step_s"][batch]
        lines.append(f"train step, batch {batch}: " + ", ".join(
            f"{k} {secs[k]:.3f} s ({v:.2f}x)" for k, v in r.items()))
    return "\n".join(lines)


def main(argv=None):
    parser = ArgumentParser(prog="python -m arnn_lite.experiments.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--device", type=known_device, default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", help="write the results as JSON here (e.g. data/bench/cpu.json)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for tests and a first look")
    args = parser.parse_args(argv)
    command = "python -m arnn_lite.experiments.bench" + "".join(
        f" {flag}" for flag in (["--device", args.device] + (["--quick"] if args.quick else [])))
    result = run(args.device, args.quick, args.out, command)
    print(report(result))
    return result


if __name__ == "__main__":
    main()
