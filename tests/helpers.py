"""Receptive fields measured through input gradients, the skewed grid's pixel mask, a step
counter and subprocess settings (used by several test modules)."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import torch

from arnn_lite import DiagonalLSTM, scan, skew


@contextlib.contextmanager
def torch_threads(n):
    """Run the block with ``n`` torch threads, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def subprocess_env(**extra):
    """The environment for a child Python process that must compute exactly what this process
    computes: the same torch thread count (float reductions depend on it), so an in-process
    reference run and a subprocess run are comparable bit for bit."""
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()),
               MKL_NUM_THREADS=str(torch.get_num_threads()))
    env.update(extra)
    return env


def receptive_field(fn, x, i, j):
    """Bool map ``(H, W)`` of the input positions that output ``(i, j)`` depends on."""
    x = x.clone().requires_grad_(True)
    out = fn(x)  # (B, K, H, W)
    out[:, :, i, j].sum().backward()
    return (x.grad.abs().sum(dim=(0, 1)) > 0)


def anti_diagonal_mask(height, width):
    """Which entries of the skewed ``(height, height + width - 1)`` grid are real pixels:
    bool ``(H, H + W - 1)``, ``True`` where ``0 <= t - i < W``."""
    return skew(torch.ones(1, 1, height, width, dtype=torch.bool))[0, 0]  # (H, H+W-1)


def quadrant(H, W, i, j, reverse=False):
    r, c = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    return (r >= i) & (c >= j) if reverse else (r <= i) & (c <= j)


def count_steps(monkeypatch):
    """Record the shape of every recurrence step taken by any DiagonalLSTM (on the
    step-by-step autograd path, whose ``step`` is the one chapter 03 derives)."""
    monkeypatch.setattr(scan, "_BACKEND", "autograd")
    calls, real = [], DiagonalLSTM.step
    monkeypatch.setattr(DiagonalLSTM, "step",
                        lambda self, pre_t, *a: calls.append(tuple(pre_t.shape)) or real(self, pre_t, *a))
    return calls


def start_experiment(module, args, out_dir, *extra):
    """``python -m arnn_lite.experiments.<module> ARGS --out-dir OUT EXTRA`` in the background."""
    return subprocess.Popen([sys.executable, "-m", f"arnn_lite.experiments.{module}", *args,
                             "--out-dir", str(out_dir), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=subprocess_env())


def kill_then_resume(module, args, out_dir, stem, *extra):
    """Start a run, SIGKILL it as soon as its first checkpoint ``<stem>.ckpt`` exists, then
    continue it with ``--resume``; returns the results file it writes."""
    victim = start_experiment(module, args, out_dir, *extra)
    deadline = time.time() + 600
    while not (out_dir / f"{stem}.ckpt").exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (out_dir / f"{stem}.json").exists(), "the run finished before it was killed"
    resumed = start_experiment(module, args, out_dir, *extra, "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stdout.read()
    return json.loads((out_dir / f"{stem}.json").read_text())


def assert_same_run(got, ref):
    """Two results files describe the same training run: test metrics and curve agree."""
    assert got["metrics"]["test"] == ref["metrics"]["test"]
    assert [h["accuracy"] for h in got["metrics"]["history"]] == \
           [h["accuracy"] for h in ref["metrics"]["history"]]
