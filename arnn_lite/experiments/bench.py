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

import torch
import torch.nn.functional as F

from .. import AttentionRNN, BlockAttentionRNN
from ..attention import ContextAttention, NoContextAttention, SANAttention
from .common import ArgumentParser, known_device
from ..models.mbg import MBGNet
from .._repo import git_commit, now
from .. import scan_triton
from ..scan import use_backend

__all__ = ["time_call", "bench_modules", "bench_train_steps", "arnn_flops", "gemm_rate", "run", "main"]

SIZES = (49, 23, 10)  # the MBG network's attention maps on a 100×100 canvas
MODULES = ("NoCTX", "CTX", "SAN", "ARNN", "ARNN (autograd)", "BRNN2")
NETWORKS = ("none", "ctx", "arnn", "arnn (autograd)", "brnn")
# "(autograd)": the readable loop; "(triton)": the Triton forward kernel, CUDA only.


def _backend(name: str) -> str:
    return "autograd" if "(autograd)" in name else "triton" if "(triton)" in name else "fused"


def _cases(names, device):
    """``names`` plus the Triton variant of ARNN where the kernel can run."""
    names = list(names)
    if torch.device(device).type == "cuda" and scan_triton.available(device):
        names.insert(names.index("ARNN" if "ARNN" in names else "arnn") + 1,
                     "ARNN (triton)" if "ARNN" in names else "arnn (triton)")
    return names


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_call(fn, device="cpu", repeats=5, warmup=1) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` runs after ``warmup``."""
    times = []
    for k in range(warmup + repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_cases(cases: dict, device="cpu", repeats=5, warmup=1) -> dict:
    """Median wall-clock seconds of each ``cases[name]()``, the cases *interleaved*: every
    round runs each case once, in turn, after ``warmup`` rounds, so a slow moment of the
    machine (another process, a frequency change) hits every case alike instead of one."""
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
    return {name: statistics.median(t) for name, t in times.items()}


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


def _make_module(name, channels, hidden):
    if name == "NoCTX":
        return NoContextAttention(channels, query_dim=10)
    if name == "CTX":
        return ContextAttention(channels, 3, query_dim=10)
    if name == "SAN":
        return SANAttention(channels, query_dim=10)
    if name.startswith("ARNN"):
        return AttentionRNN(channels, hidden, query_dim=10)
    return BlockAttentionRNN(channels, hidden, block_size=2, query_dim=10)


def bench_modules(sizes=SIZES, channels=32, batch=32, hidden=16, device="cpu", repeats=5, seed=0):
    """Forward + backward seconds of each module at each size: ``{size: {name: s}}``."""
    torch.manual_seed(seed)
    out = {}
    for size in sizes:
        x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
        q = torch.randn(batch, 10, device=device)
        out[size] = {}
        for name in _cases(MODULES, device):
            module = _make_module(name, channels, hidden).to(device)
            with use_backend(_backend(name)):
                out[size][name] = time_call(lambda: module(x, q).sum().backward(), device, repeats)
    return out


def _network(name):
    if name == "brnn":  # the ARNN network with BRNN² in every attention layer
        net = MBGNet("arnn")
        for k, stage in enumerate(net.stages):
            stage.attention = BlockAttentionRNN(32, 16, block_size=2, query_dim=10,
                                                normalization="softmax" if k == 3 else "sigmoid")
        return net
    return MBGNet(name.split(" ")[0])


def bench_train_steps(batches=(32, 200), device="cpu", repeats=3, canvas=100, seed=0):
    """Seconds per MBG train step (forward, backward, RMSprop): ``{batch: {net: s}}``."""
    out = {}
    for batch in batches:
        torch.manual_seed(seed)
        image = torch.rand(batch, 3, canvas, canvas, device=device)
        query = F.one_hot(torch.randint(0, 10, (batch,)), 10).float().to(device)
        label = torch.randint(0, 5, (batch,), device=device)
        out[batch] = {}
        for name in _cases(NETWORKS, device):
            net = _network(name).to(device).train()
            opt = torch.optim.RMSprop(net.parameters(), lr=3e-3)

            def step():
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(image, query)[0], label).backward()
                opt.step()

            with use_backend(_backend(name)):
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
