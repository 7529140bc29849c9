"""Timing of attention modules: forward + backward, warm-up then median of repeats.

``python -m arnn_lite.bench [--device cpu|cuda] [--out FILE]`` times every module at one
size in a single run and prints the ratio of each to CTX, so ratios are never taken
across runs or machines. Chapter 15 ("Making the scan fast") reads the JSON it writes.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone

import torch

from . import AttentionRNN, BlockAttentionRNN
from .attention import ContextAttention, NoContextAttention, SANAttention

__all__ = ["time_forward_backward", "bench_modules", "main"]


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_forward_backward(module, x, query=None, repeats=10, warmup=2):
    """Median seconds of ``module(x, query).sum().backward()`` over ``repeats`` runs."""
    times = []
    for k in range(warmup + repeats):
        _sync(x.device)
        start = time.perf_counter()
        module(x, query).sum().backward()
        _sync(x.device)
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_modules(channels=32, size=24, batch=16, hidden=16, device="cpu", repeats=10, seed=0):
    """Time every attention module at one size; returns ``{name: seconds}``."""
    torch.manual_seed(seed)
    modules = {
        "NoCTX": NoContextAttention(channels, query_dim=10),
        "CTX": ContextAttention(channels, 3, query_dim=10),
        "SAN": SANAttention(channels, query_dim=10),
        "ARNN": AttentionRNN(channels, hidden, query_dim=10),
        "BRNN2": BlockAttentionRNN(channels, hidden, block_size=2, query_dim=10),
    }
    x = torch.randn(batch, channels, size, size, device=device, requires_grad=True)
    q = torch.randn(batch, 10, device=device)
    return {name: time_forward_backward(m.to(device), x, q, repeats) for name, m in modules.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    times = bench_modules(args.channels, args.size, args.batch, args.hidden, args.device, args.repeats)
    for name, sec in times.items():
        print(f"{name:6s} {sec * 1e3:9.2f} ms   {sec / times['CTX']:6.2f}x CTX")
    result = {"experiment": "bench_modules", "config": vars(args), "metrics": times,
              "device": args.device, "torch_version": torch.__version__,
              "platform": platform.platform(), "threads": torch.get_num_threads(),
              "started": started}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
