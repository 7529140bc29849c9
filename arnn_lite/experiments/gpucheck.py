"""GPU self-check: one command, under ten minutes on any CUDA GPU (DESIGN.md §10).

    python -m arnn_lite.experiments.gpucheck --out data/bench/gpu.json [--budget-s 90]
    python -m arnn_lite.experiments.gpucheck --device cpu --allow-cpu --quick   # the tests

A list of named checks (:data:`CHECKS`), each a function ``(Settings) -> dict``, run by a
small driver (:func:`run_checks`) that records every check's result, or its error, and
its time, so one failing check never loses the others. A check that needs CUDA raises
:class:`Skip` on other devices. :func:`run` writes one results file (``arnn_lite.experiments.results``,
with provenance) holding the checks under ``metrics.checks``; chapter 15 shows
:func:`markdown_table` of it. Without CUDA the command stops with one sentence (exit 2).
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import reference, scan_triton
from ..arnn import AttentionRNN
from ..models.mbg import MBGNet
from ..rnn import DiagonalLSTM
from ..scan import use_backend
from ..train import TrainConfig, make_loader, make_optimizer
from . import bench, results
from .common import ArgumentParser, parse_command

__all__ = ["Settings", "Skip", "CHECKS", "TOLERANCES", "run_checks", "run", "summary_rows",
           "markdown_table", "chapter_view", "main"]

# Largest accepted difference from the float32 per-pixel reference, as
# max |x - ref| / max(1, max |ref|) over the output and every gradient. Under autocast the
# convolutions run in half precision (the scan itself stays float32), so the bound is that
# format's rounding grown through a few layers: bfloat16 has 8 significant bits, float16 11.
TOLERANCES = {"float32": 1e-4, "bfloat16": 5e-2, "float16": 1e-2}
DIFFERENCE = "max |x - ref| / max(1, max |ref|) over the output and every gradient"
MEMORY_MODELS = ("none", "ctx", "arnn", "brnn")  # MBGNet's attentions (arnn_lite.models.zoo names)
AMP_MODELS = ("ctx", "arnn", "arnn_sample")
NO_CUDA = ("No CUDA GPU is available here (torch.cuda.is_available() is False) and this "
           "self-check measures one, so run it on a GPU machine such as a Colab GPU runtime "
           "(Runtime > Change runtime type), or pass --device cpu --allow-cpu for the checks "
           "that need no GPU, at tiny sizes.")
CPU_REFUSED = ("--device cpu measures no GPU, so pass --allow-cpu as well to run the checks that "
               "need none, at tiny sizes, or use --device cuda.")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the checks run on.

    Args:
        device: ``"cuda"`` (the self-check) or ``"cpu"`` (tests; CUDA-only checks skip).
        quick: tiny sizes, for tests and a first look.
        budget_s: training seconds of the time-budgeted MBG run.
        seed: seeds every check.
        deadline_s: a check that would start later than this after the first is skipped,
            so the whole run ends in known time (the slowest check, compile, runs last).
    """

    device: str = "cuda"
    quick: bool = False
    budget_s: float = 90.0
    seed: int = 0
    deadline_s: float = 480.0

    @property
    def cuda(self) -> bool:
        return torch.device(self.device).type == "cuda"


class Skip(Exception):
    """Raised by a check that cannot run on this device; the driver records the reason."""


# --------------------------------------------------------------------------- helpers
def _difference(got, ref) -> float:
    """The scaled difference of :data:`DIFFERENCE` between two lists of tensors."""
    return max(((a.float() - b.float()).abs().max() / b.float().abs().max().clamp_min(1)).item()
               for a, b in zip(got, ref))


def _finite(*tensors) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors if t is not None)


class _StrictFloat32:
    """Context: no TF32 in matrix products and convolutions (restored afterwards), so
    "float32" means float32 on Ampere and newer GPUs too."""

    def __enter__(self):
        self.saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False

    def __exit__(self, *exc):
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = self.saved


def _autocast_dtypes(settings) -> list[str]:
    """float32, then the half formats autocast offers on this device."""
    if not settings.cuda:
        return ["float32", "bfloat16"]
    return ["float32"] + (["bfloat16"] if torch.cuda.is_bf16_supported() else []) + ["float16"]


def _backends(device) -> list[str]:
    return ["autograd", "fused"] + (["triton"] if scan_triton.available(device) else [])


# --------------------------------------------------------------------------- checks
def _equality_cases(device, seed):
    """``{name: (module, x, fast, ref)}`` at tiny sizes: ``fast(xx)`` runs the module (on the
    scan backend in use), ``ref(xx)`` the per-pixel reference with the same parameters and,
    in sample mode, the same random numbers."""
    torch.manual_seed(seed)
    x = torch.randn(2, 3, 5, 7, device=device)  # (B, C, H, W)
    q = torch.randn(2, 2, device=device)  # (B, D)
    lstm = DiagonalLSTM(3, 4, reverse=True).to(device)
    sig = AttentionRNN(3, 4).to(device)
    soft = AttentionRNN(3, 4, query_dim=2, normalization="softmax").to(device)
    smp = AttentionRNN(3, 4).to(device)

    def noise():  # a fresh generator per call: both paths draw the same numbers
        return dict(sample=True, temperature=0.4, generator=torch.Generator(device).manual_seed(seed + 3))

    return {
        "lstm_reverse": (lstm, x, lstm, lambda xx: reference.diagonal_lstm(xx, lstm)),
        "arnn_sigmoid": (sig, x, sig, lambda xx: reference.attention_rnn(sig, xx)),
        "arnn_softmax_query": (soft, x, lambda xx: soft(xx, q),
                               lambda xx: reference.attention_rnn(soft, xx, q)),
        "arnn_sample": (smp, x, lambda xx: smp(xx, **noise()),
                        lambda xx: reference.attention_rnn(smp, xx, **noise())),
    }


def _outputs_and_grads(module, call, x):
    """Output and gradients (input, then every parameter) of ``call(x)`` under a fixed
    upstream gradient."""
    module.zero_grad()
    xx = x.clone().requires_grad_(True)
    y = call(xx)
    y.backward(torch.linspace(-1, 1, y.numel(), device=y.device).view_as(y).to(y.dtype))
    return [y.detach(), xx.grad] + [p.grad.clone() for p in module.parameters() if p.grad is not None]


def check_equality(settings: Settings) -> dict:
    """Triton kernel, fused scan and readable loop against the per-pixel reference,
    in float32 (TF32 off) and under autocast, values and gradients. A difference is
    ``None`` where an output or gradient was not finite (the check then fails)."""
    device, dtypes, backends = settings.device, _autocast_dtypes(settings), _backends(settings.device)
    worst = {d: {b: 0.0 for b in backends} for d in dtypes}
    cases = {}
    with _StrictFloat32():
        for name, (module, x, fast, ref) in _equality_cases(device, settings.seed).items():
            want, cases[name] = _outputs_and_grads(module, ref, x), {}
            for dtype in dtypes:
                cast = torch.autocast(torch.device(device).type, dtype=getattr(torch, dtype),
                                      enabled=dtype != "float32")
                for backend in backends:
                    with use_backend(backend), cast:
                        got = _outputs_and_grads(module, fast, x)
                    diff = _difference(got, want) if _finite(*got) else None
                    cases[name][f"{backend} {dtype}"] = diff
                    old = worst[dtype][backend]
                    worst[dtype][backend] = None if None in (old, diff) else max(old, diff)
    passed = all(v is not None and v <= TOLERANCES[d] for d in dtypes for v in worst[d].values())
    return {"passed": passed, "reference": "arnn_lite.reference (per-pixel loop, float32, TF32 off)",
            "difference": DIFFERENCE, "tolerance": {d: TOLERANCES[d] for d in dtypes},
            "backends": backends, "worst": worst, "cases": cases}


def _mbg_batch(batch, canvas, device, seed, query_dim=10, classes=5):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, canvas, canvas, generator=g).to(device)
    query = F.one_hot(torch.randint(0, query_dim, (batch,), generator=g), query_dim).float().to(device)
    return image, query, torch.randint(0, classes, (batch,), generator=g).to(device)


def _amp_step(net, opt, scaler, image, query, label, device_type, clip=5.0):
    """One train step exactly as :func:`arnn_lite.train.fit` takes it (autocast on CUDA,
    gradient scaling, clipping); returns the loss and whether the gradients were finite."""
    with torch.autocast(device_type, enabled=device_type == "cuda"):
        loss = F.cross_entropy(net(image, query)[0], label)
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    finite = _finite(*grads)
    torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    scaler.step(opt)  # skipped by the scaler when a gradient overflowed
    scaler.update()
    return loss.item(), finite


def check_amp_train(settings: Settings) -> dict:
    """A few MBG train steps per model in automatic mixed precision (float16 autocast and
    gradient scaling on CUDA, as training uses; plain float32 on CPU): finite loss and
    gradients, and the weights move."""
    batch, canvas, steps = (2, 48, 2) if settings.quick else (8, 100, 4)
    device_type = torch.device(settings.device).type
    models = {}
    for name in AMP_MODELS:
        torch.manual_seed(settings.seed)
        net = MBGNet(name).to(settings.device).train()
        opt = make_optimizer(net, TrainConfig())
        scaler = torch.amp.GradScaler("cuda", enabled=settings.cuda)
        before = [p.detach().clone() for p in net.parameters()]
        image, query, label = _mbg_batch(batch, canvas, settings.device, settings.seed)
        runs = [_amp_step(net, opt, scaler, image, query, label, device_type) for _ in range(steps)]
        moved = any(not torch.equal(a, p) for a, p in zip(before, net.parameters()))
        losses = [loss for loss, _ in runs]
        models[name] = {"losses": losses, "finite_loss": all(map(math.isfinite, losses)),
                        "finite_grads_last_step": runs[-1][1],
                        "overflow_steps": sum(not ok for _, ok in runs), "weights_moved": moved}
    passed = all(m["finite_loss"] and m["finite_grads_last_step"] and m["weights_moved"]
                 for m in models.values())
    return {"passed": passed, "autocast": "float16" if settings.cuda else "off (CPU)",
            "batch": batch, "canvas": canvas, "steps": steps, "models": models}


def check_compile(settings: Settings) -> dict:
    """``torch.compile`` of the readable scan (the autograd loop of chapters 03-05):
    whether it compiles, equals eager, and how fast it is. A failure to compile is a
    finding, recorded with its error, not a failed check."""
    backend = "eager" if settings.quick else "inductor"  # inductor on CPU needs a C++ compiler
    size, batch, channels, hidden = (4, 2, 3, 4) if settings.quick else (10, 32, 32, 16)
    torch.manual_seed(settings.seed)
    module = AttentionRNN(channels, hidden, query_dim=10).to(settings.device)
    x = torch.randn(batch, channels, size, size, device=settings.device)
    q = torch.randn(batch, 10, device=settings.device)
    info = {"backend": backend, "size": size, "batch": batch, "channels": channels}
    with use_backend("autograd"):
        eager = module(x, q)
        step = lambda fn: fn(x, q).sum().backward()  # noqa: E731
        try:
            compiled = torch.compile(module, backend=backend)
            t0 = time.perf_counter()
            out = compiled(x, q)
            step(compiled)
            info["compile_s"] = time.perf_counter() - t0
        except Exception as err:  # a finding: record it
            return {**info, "works": False, "error": f"{type(err).__name__}: {err}"[:2000]}
        repeats = 2 if settings.quick else 10
        # interleaved after a warm-up round, so a slow moment of the machine hits both alike
        times = bench.time_cases({"eager": lambda: step(module), "compiled": lambda: step(compiled)},
                                 settings.device, repeats)
        info.update(works=True, max_difference=(out - eager).detach().abs().max().item(),
                    eager_s=times["eager"], compiled_s=times["compiled"], timing="interleaved")
    info["speedup"] = info["eager_s"] / info["compiled_s"]
    return info


def check_benchmark(settings: Settings) -> dict:
    """:func:`arnn_lite.experiments.bench.run` on this device: module and MBG train-step times, ARNN/CTX
    ratios and, where Triton runs, the kernel against the fused scan."""
    run_ = bench.run(settings.device, quick=settings.quick)
    m = run_["metrics"]
    triton = {}
    for size, times in m["modules_s"].items():
        if "ARNN (triton)" in times:
            triton[f"module {size}x{size}"] = times["ARNN (triton)"] / times["ARNN"]
    for batch, times in m["train_step_s"].items():
        if "arnn (triton)" in times:
            triton[f"train step batch {batch}"] = times["arnn (triton)"] / times["arnn"]
    return {"arnn_vs_ctx": {batch: r["arnn"] for batch, r in m["train_step_vs_ctx"].items()},
            "modules_arnn_vs_ctx": {size: r["ARNN"] for size, r in m["modules_vs_ctx"].items()},
            "triton_vs_fused": triton or None,
            "bench": {"protocol": run_["protocol"], "config": run_["config"], "metrics": m}}


def check_memory(settings: Settings) -> dict:
    """Peak GPU memory (``torch.cuda.max_memory_allocated``) of one AMP train step per
    model and batch: what full mode's batch sizes are chosen from."""
    if not settings.cuda:
        raise Skip("peak memory is measured on CUDA only")
    batches, canvas = ((2,), 100) if settings.quick else ((32, 200), 100)
    peak = {}
    for name in MEMORY_MODELS:
        peak[name] = {}
        for batch in batches:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(settings.device)
            net = MBGNet(name).to(settings.device).train()
            opt = make_optimizer(net, TrainConfig())
            scaler = torch.amp.GradScaler("cuda")
            _amp_step(net, opt, scaler, *_mbg_batch(batch, canvas, settings.device, settings.seed), "cuda")
            torch.cuda.synchronize(settings.device)
            peak[name][str(batch)] = torch.cuda.max_memory_allocated(settings.device) / 2**20
            del net, opt, scaler
    total = torch.cuda.get_device_properties(settings.device).total_memory / 2**20
    return {"peak_mib": peak, "device_total_mib": total, "canvas": canvas, "autocast": "float16"}


def _mbg_sets(settings: Settings):
    """Train and validation splits of MBG (generated once, cached like the experiments')."""
    from ..datasets.mbg import MBG
    from ..datasets.mnist import default_root
    from .mbg import mbg_split

    train, val = (64, 32) if settings.quick else (2000, 500)
    cache = default_root() / "mbg"
    return (mbg_split(MBG("train", train, settings.seed), cache),
            mbg_split(MBG("val", val, settings.seed), cache))


def check_mbg_budget(settings: Settings) -> dict:
    """ARNN on MBG for ``settings.budget_s`` seconds of training (the book protocol's
    batch and optimiser), then its validation accuracy: a short time-budgeted run."""
    from .mbg import evaluate, loss_fn

    train, val = _mbg_sets(settings)
    torch.manual_seed(settings.seed)
    config = TrainConfig(batch_size=8 if settings.quick else 50, seed=settings.seed)
    net = MBGNet("arnn").to(settings.device).train()
    opt = make_optimizer(net, config)
    scaler = torch.amp.GradScaler("cuda", enabled=settings.cuda)
    device_type = torch.device(settings.device).type
    losses, epoch, t0 = [], 0, time.perf_counter()
    while time.perf_counter() - t0 < settings.budget_s:
        for batch in make_loader(train, config, epoch, shuffle=True):
            with torch.autocast(device_type, enabled=settings.cuda):
                loss = loss_fn(net, batch, settings.device)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
            if time.perf_counter() - t0 >= settings.budget_s:
                break
        epoch += 1
    seconds = time.perf_counter() - t0
    net.eval()
    with torch.no_grad():
        accuracy = evaluate(net, make_loader(val, config, 0, shuffle=False), settings.device)["accuracy"]
    return {"passed": bool(losses) and all(map(math.isfinite, losses)), "model": "arnn",
            "budget_s": settings.budget_s, "train_s": seconds, "steps": len(losses),
            "epochs": len(losses) * config.batch_size / len(train), "batch": config.batch_size,
            "train_size": len(train), "val_size": len(val),
            "images_per_s": len(losses) * config.batch_size / seconds,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "val_accuracy": accuracy, "chance": 0.2}


# In order of importance: a check the deadline cuts off is the least needed one.
CHECKS = {"equality": check_equality, "amp_train": check_amp_train, "benchmark": check_benchmark,
          "memory": check_memory, "mbg_budget": check_mbg_budget, "compile": check_compile}


# --------------------------------------------------------------------------- driver
def run_checks(settings: Settings, checks=None, log=print) -> dict:
    """Run ``checks`` (default :data:`CHECKS`) in order; one failing never stops the rest.

    Returns:
        ``{name: {"status", "seconds", **what the check returned}}``; status is ``"ok"``,
        ``"failed"`` (it returned ``passed: False``), ``"error"`` (it raised; the error and
        the end of its traceback are kept) or ``"skipped"`` (:class:`Skip`).
    """
    out, start = {}, time.perf_counter()
    for name, check in (CHECKS if checks is None else checks).items():
        t0 = time.perf_counter()
        try:
            if out and t0 - start > settings.deadline_s:
                raise Skip(f"not started: the run's deadline of {settings.deadline_s:.0f} s had passed")
            result = check(settings)
            status = "failed" if result.get("passed") is False else "ok"
        except Skip as why:
            result, status = {"reason": str(why)}, "skipped"
        except Exception as err:  # recorded; the next check still runs
            result, status = {"error": f"{type(err).__name__}: {err}"[:2000],
                              "traceback": traceback.format_exc()[-3000:]}, "error"
        out[name] = {"status": status, "seconds": round(time.perf_counter() - t0, 2), **result}
        if settings.cuda:
            torch.cuda.empty_cache()
        log(f"  {name:<11} {status:<8} {out[name]['seconds']:7.1f} s  {_headline(name, out[name])}")
    return out


def _environment(settings: Settings) -> dict:
    env = {"torch": torch.__version__, "python": platform.python_version(),
           "platform": platform.platform(), "cuda": torch.version.cuda,
           "triton": getattr(scan_triton.triton, "__version__", None),
           "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32,  # the benchmark's setting
                    "cudnn": torch.backends.cudnn.allow_tf32}}
    if settings.cuda:
        props = torch.cuda.get_device_properties(settings.device)
        env.update(gpu=props.name, capability=f"{props.major}.{props.minor}",
                   memory_gib=round(props.total_memory / 2**30, 1),
                   cudnn=torch.backends.cudnn.version())
    return env


def run(settings: Settings, out=None, command=None, checks=None, log=print) -> dict:
    """Every check, then one results file (written to ``out`` when given)."""
    clock_started, commit, t0 = results.now(), results.git_commit(), time.perf_counter()
    checks = CHECKS if checks is None else checks
    log(f"GPU self-check on {settings.device} ({'quick' if settings.quick else 'full'}):")
    done = run_checks(settings, checks, log)
    counts = {s: sum(c["status"] == s for c in done.values()) for s in ("ok", "failed", "error", "skipped")}
    result = {
        "experiment": "gpucheck", "protocol": "quick" if settings.quick else "full",
        "config": {**dataclasses.asdict(settings), "checks": list(checks)},
        "metrics": {"counts": counts, "checks": done},
        "provenance": results.provenance(settings.seed, settings.device, clock_started,
                                         time.perf_counter() - t0, command, commit),
        "environment": _environment(settings),
    }
    if out:
        results.write_result(out, **{k: result[k] for k in ("experiment", "protocol", "config",
                                                             "metrics")},
                             prov=result["provenance"], environment=result["environment"])
    return results.validate(result)


# --------------------------------------------------------------------------- reading it
def _fmt(x, spec=".2f"):
    return "n/a" if x is None else format(x, spec)


def _headline(name: str, check: dict) -> str:
    """One line saying what ``check`` (an entry of ``metrics.checks``) found."""
    if check["status"] == "error":
        return check["error"].splitlines()[0][:160]
    if check["status"] == "skipped":
        return check["reason"]
    try:
        return _HEADLINES[name](check) if name in _HEADLINES else ""
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return "(unreadable entry)"


def _equality_line(c):
    def worst(d):
        values = c["worst"][d].values()
        return "non-finite" if None in values else f"{max(values):.1e}"
    return "; ".join(f"{d}: worst {worst(d)} (tolerance {c['tolerance'][d]:.0e})"
                     for d in c["worst"]) + f"; backends {', '.join(c['backends'])}"


def _amp_line(c):
    bad = [n for n, m in c["models"].items() if not (m["finite_loss"] and m["finite_grads_last_step"])]
    return (f"{', '.join(c['models'])}: " + ("finite loss and gradients" if not bad else
            f"non-finite in {', '.join(bad)}") + f" (autocast {c['autocast']}, batch {c['batch']})")


def _compile_line(c):
    if not c["works"]:
        return f"does not compile ({c['backend']}): {c['error'].splitlines()[0][:120]}"
    return (f"compiles ({c['backend']}, {c['compile_s']:.0f} s): {c['speedup']:.2f}x eager speed, "
            f"max difference {c['max_difference']:.1e}")


def _bench_line(c):
    line = "train step ARNN/CTX " + ", ".join(f"{r:.2f}x (batch {b})" for b, r in c["arnn_vs_ctx"].items())
    if c["triton_vs_fused"]:
        line += "; Triton/fused time " + ", ".join(f"{r:.2f}x ({k})" for k, r in c["triton_vs_fused"].items())
    return line


def _memory_line(c):
    return "peak " + ", ".join(f"{n} b{b} {mib / 1024:.2f} GiB" for n, per in c["peak_mib"].items()
                               for b, mib in per.items()) + f" of {c['device_total_mib'] / 1024:.0f} GiB"


def _mbg_line(c):
    return (f"{c['train_s']:.0f} s: {c['steps']} steps ({c['epochs']:.1f} epochs of {c['train_size']}), "
            f"{c['images_per_s']:.0f} images/s, loss {_fmt(c['loss_first'])} -> {_fmt(c['loss_last'])}, "
            f"val accuracy {c['val_accuracy']:.3f} (chance {c['chance']:.1f})")


_HEADLINES = {"equality": _equality_line, "amp_train": _amp_line, "compile": _compile_line,
              "benchmark": _bench_line, "memory": _memory_line, "mbg_budget": _mbg_line}


def summary_rows(result: dict) -> list[tuple[str, str, str, str]]:
    """``(check, status, what it found, seconds)`` per check of a gpucheck results file."""
    return [(name, c["status"], _headline(name, c), f"{c['seconds']:.0f}")
            for name, c in result["metrics"]["checks"].items()]


def markdown_table(result: dict) -> str:
    """The checks of a gpucheck results file as a Markdown table with its caption."""
    env, prov = result.get("environment", {}), result["provenance"]
    rows = [{"check": n, "status": s, "result": h.replace("|", "/"), "s": t}
            for n, s, h, t in summary_rows(result)]
    lines = [results.markdown_table(rows, ["check", "status", "result", "s"])]
    lines.append(f"\n*Table: `{prov['command']}` on {env.get('gpu', prov['device'])}, torch "
                 f"{prov['torch_version']}, CUDA {env.get('cuda')}, commit {prov['git_commit'][:10]}, "
                 f"{prov['started'][:10]}; {result['protocol']} protocol.*")
    return "\n".join(lines)


def chapter_view(path) -> str:
    """What chapter 15 shows: the table of the results file at ``path``, or, when there is
    none, a plain sentence saying that no GPU measurement exists yet."""
    path = Path(path)
    if not path.exists():
        return ("**No GPU measurement exists yet**: this book has not been run on a GPU, so "
                f"there is no `{path.name}`. On any CUDA GPU (a Colab GPU runtime), "
                f"`python -m arnn_lite.experiments.gpucheck --out data/bench/{path.name}` writes "
                "it in under ten minutes, and this cell then shows its table.")
    return markdown_table(json.loads(path.read_text()))


# --------------------------------------------------------------------------- command line
def refusal(device: str, allow_cpu: bool) -> str | None:
    """The one sentence the command stops with, or ``None`` when it can run."""
    if torch.device(device).type == "cuda":
        return None if torch.cuda.is_available() else NO_CUDA
    return None if allow_cpu else CPU_REFUSED


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m arnn_lite.experiments.gpucheck", description=__doc__.splitlines()[0])
    p.add_argument("--out", help="write the results file here (e.g. data/bench/gpu.json)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--allow-cpu", action="store_true",
                   help="with --device cpu: run the checks that need no GPU, at tiny sizes")
    p.add_argument("--quick", action="store_true", help="tiny sizes (tests, a first look)")
    p.add_argument("--budget-s", type=float, default=90.0, help="seconds of the MBG training run")
    p.add_argument("--checks", help=f"comma-separated subset of {','.join(CHECKS)}")
    args, command = parse_command(p, argv)
    stop = refusal(args.device, args.allow_cpu)
    if stop:
        print(stop, file=sys.stderr)
        return 2
    names = args.checks.split(",") if args.checks else list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        p.error(f"--checks: expected names from {list(CHECKS)}, got {unknown}")
    quick = args.quick or torch.device(args.device).type != "cuda"  # CPU: always tiny sizes
    settings = Settings(args.device, quick, args.budget_s)
    result = run(settings, args.out, command, {n: CHECKS[n] for n in names})
    counts = result["metrics"]["counts"]
    print(f"{counts['ok']} ok, {counts['failed']} failed, {counts['error']} errors, "
          f"{counts['skipped']} skipped" + (f"; written to {args.out}" if args.out else ""))
    return 1 if counts["failed"] or counts["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
