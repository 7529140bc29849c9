"""The Triton forward kernel against the PyTorch fused scan.

Without a GPU the kernel runs in Triton's CPU interpreter (``TRITON_INTERPRET=1``, set
before Triton is imported, hence a subprocess). With CUDA, the same comparison runs on
the GPU.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from arnn_lite import scan, scan_triton

ROOT = Path(__file__).resolve().parents[1]

COMPARE = r"""
import json, sys
import torch
from arnn_lite import AttentionRNN, DiagonalLSTM
from arnn_lite.scan import use_backend

device, dtype = sys.argv[1], getattr(torch, sys.argv[2])
torch.manual_seed(0)


def both(module, x, seed=None, **kwargs):
    outs = []
    for name in ("fused", "triton"):
        module.zero_grad()
        xx = x.clone().requires_grad_(True)
        if seed is not None:  # the same noise on both paths
            kwargs["generator"] = torch.Generator(device).manual_seed(seed)
        with use_backend(name):
            y = module(xx, **kwargs)
        y.backward(torch.linspace(-1, 1, y.numel(), device=device, dtype=dtype).view_as(y))
        outs.append([y.detach(), xx.grad] + [p.grad.clone() for p in module.parameters()])
    return max((a - b).abs().max().item() for a, b in zip(*outs))


def teacher(module, x, t):
    outs = []
    for name in ("fused", "triton"):
        module.zero_grad()
        with use_backend(name):
            logits, fed = module.scan(x, teacher=t)
        logits.pow(2).sum().backward()
        outs.append([logits.detach(), fed] + [p.grad.clone() for p in module.parameters() if p.grad is not None])
    return max((a - b).abs().max().item() for a, b in zip(*outs))


make = dict(device=device, dtype=dtype)
x = torch.randn(2, 3, 5, 7, **make)
q = torch.randn(2, 2, **make)
diffs = {
    "lstm": both(DiagonalLSTM(3, 4).to(**make), x),
    "lstm_reverse_tall": both(DiagonalLSTM(3, 4, reverse=True).to(**make), torch.randn(2, 3, 9, 4, **make)),
    "arnn_softmax": both(AttentionRNN(3, 4, query_dim=2, normalization="softmax").to(**make), x, query=q),
    "arnn_sample": both(AttentionRNN(3, 4).to(**make), x, seed=3, sample=True, temperature=0.4),
    "arnn_teacher": teacher(AttentionRNN(3, 4).to(**make), x, (torch.rand(2, 1, 5, 7, **make) > 0.5).to(dtype)),
    "one_pixel_row": both(DiagonalLSTM(3, 4).to(**make), torch.randn(2, 3, 1, 6, **make)),
}
print(json.dumps(diffs))
"""

needs_triton = pytest.mark.skipif(scan_triton.triton is None, reason="Triton is not installed")


def compare(device, dtype, interpret):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    done = subprocess.run([sys.executable, "-c", COMPARE, device, dtype], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_triton
def test_kernel_equals_fused_scan_in_the_interpreter():
    diffs = compare("cpu", "float64", interpret=True)
    assert all(d < 1e-10 for d in diffs.values()), diffs


@needs_triton
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_kernel_equals_fused_scan_on_cuda():
    diffs = compare("cuda", "float32", interpret=False)
    assert all(d < 1e-4 for d in diffs.values()), diffs


def test_triton_backend_refuses_cpu_without_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    from arnn_lite import DiagonalLSTM

    with scan.use_backend("triton"), pytest.raises(ValueError, match="'triton' needs a CUDA device"):
        DiagonalLSTM(3, 4)(torch.randn(1, 3, 4, 4))


def test_unknown_backend():
    with pytest.raises(ValueError, match=r"name: expected one of \['fused', 'autograd', 'triton'\], got 'cuda'"):
        with scan.use_backend("cuda"):
            pass
