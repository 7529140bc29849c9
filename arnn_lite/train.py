"""One training loop for every experiment: progress bar, AMP on GPU, atomic checkpoints,
exact resume, early stopping, and DistributedDataParallel under ``torchrun``.

Resuming is exact on the CPU, or refused: the data order of epoch ``e`` is a function of
``(seed, e)``, and the checkpoint written after each epoch holds the model, optimiser,
RNG states and history, so a killed run continued with ``resume=True`` ends with the
same weights and metrics as an uninterrupted one (tested). The checkpoint also records
the run's identity (its configuration) and, next to it, its SHA-256: a resume under
another configuration, or from a damaged file, stops with an error naming the file.

A run can also be given a time budget (``TrainConfig.budget_s``, :func:`budget_ends`):
it stops before an epoch that would not fit in the time left, and cuts an epoch short
when the budget runs out inside it, so it never runs over by more than one step and one
validation pass.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import pickle
import re
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from ._files import atomic_write

# Keys of an ``evaluate`` result that hold one value per item (kept for the test set only).
PER_ITEM = ("predictions", "labels")

__all__ = ["PER_ITEM", "TrainConfig", "fit", "budget_ends", "budget_summary",
           "SAFE_GPU_BYTES", "activation_bytes", "estimate_peak_bytes", "measure_peak_bytes",
           "halve_to_fit", "fit_batch_to_memory", "make_optimizer", "make_loader", "init_distributed",
           "save_checkpoint", "load_checkpoint", "recorded_sha256", "CheckpointError", "sha256", "is_main", "RESUMABLE",
           "DESCRIPTIONS"]

# Config fields a resume may change: they only decide when a run ends, and ``fit`` replays
# the stopping rule over the restored history, so the result is still the uninterrupted run's.
RESUMABLE = ("epochs", "patience")
# Identity keys that describe a run in words rather than set it (an experiment's summary of its
# command line, which names the epochs): a resume may change them too.
DESCRIPTIONS = ("changes_from_recipe",)
_clock = time.perf_counter  # the clock epochs are timed with (tests replace it)


@dataclasses.dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit` (defaults: PAN's MBG recipe, DESIGN §4)."""

    epochs: int = 300
    batch_size: int = 200
    lr: float = 3e-3
    grad_clip: Optional[float] = 5.0
    patience: Optional[int] = 50  # epochs without a better validation score
    decay_start: int = 30  # lr /= decay_factor every decay_every epochs after this
    decay_every: int = 10
    decay_factor: float = 1.5
    num_workers: int = 0
    seed: int = 0
    optimizer: str = "rmsprop"  # PAN's; "sgd" for CBAM's recipe (chapter 12)
    momentum: float = 0.0  # SGD only
    weight_decay: float = 0.0
    # Seconds of training (training and validation passes, summed over epochs and across
    # resumes); None: no limit. See budget_ends for the rule. Part of a run's identity.
    budget_s: Optional[float] = None

    def lr_at(self, epoch: int) -> float:
        """Learning rate of ``epoch`` (0-based)."""
        steps = max(0, (epoch - self.decay_start) // self.decay_every + 1) if epoch >= self.decay_start else 0
        return self.lr / self.decay_factor ** steps


def init_distributed() -> torch.device:
    """Join the process group when started by ``torchrun`` (NCCL on GPUs, gloo on CPU)
    and return this process's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


def is_main() -> bool:
    """Rank 0, or not distributed: the process that logs and writes files."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def sha256(path) -> str:
    """Hex SHA-256 of a file (checkpoints are verified against a manifest)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or trusted; the message names the file and the problem."""


def save_checkpoint(state: dict, path, record_sha256=False) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves half a file.

    Saved through a file object, so the archive does not embed the temporary file's name:
    the same ``state`` always gives the same bytes (and SHA-256). ``record_sha256`` also
    writes ``<path>.sha256`` (``sha256sum`` format) for :func:`recorded_sha256`: resume
    checkpoints are verified like the shipped weights, whose SHA-256 their results file holds."""
    with atomic_write(path) as f:
        torch.save(state, f)
    if record_sha256:
        with atomic_write(_record(path), "w") as f:
            f.write(f"{sha256(path)}  {Path(path).name}\n")


def _record(path) -> Path:
    return Path(f"{path}.sha256")


def recorded_sha256(path) -> str:
    """The SHA-256 that :func:`save_checkpoint` recorded next to ``path``."""
    record = _record(path)
    if not record.exists():
        raise CheckpointError(f"{path}: no integrity record {record} (deleted, or written by an older "
                              "version), so it cannot be verified; delete the checkpoint to start over")
    text = record.read_text(errors="replace")
    if not re.fullmatch(r"[0-9a-f]{64}  \S.*\n?", text):
        raise CheckpointError(f"{record}: expected '<64 hex digits>  {Path(path).name}', got {text[:80]!r}")
    return text[:64]


def load_checkpoint(path, expected_sha256=None, map_location="cpu") -> dict:
    """Load with ``weights_only=True``; check the SHA-256 first when one is given.

    Raises :class:`CheckpointError` (a ``ValueError``) naming the file when it is empty,
    does not match ``expected_sha256``, or is not a readable torch checkpoint."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty (a write was interrupted?)")
    if expected_sha256 is not None and (got := sha256(path)) != expected_sha256:
        raise CheckpointError(f"{path}: SHA-256 does not match its record (file changed or corrupt): "
                              f"expected {expected_sha256}, got {got}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except OSError:
        raise
    except Exception as err:  # torch's own messages advise unsafe retries; ours names the file
        raise CheckpointError(f"{path}: {_unreadable(path, err)}") from None


def _unreadable(path, err) -> str:
    """Why ``torch.load`` failed on ``path``, in words (without torch's advice to unpickle)."""
    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # torch.save writes a zip archive
            return "not a torch checkpoint, or corrupt (it does not start with a zip archive header)"
    if isinstance(err, pickle.UnpicklingError):
        return ("corrupt, or holds objects other than tensors and plain containers "
                "(only those are loaded)")
    return f"corrupt or truncated ({type(err).__name__}: {str(err).split('. ')[0]})"


def make_optimizer(model, config: TrainConfig) -> torch.optim.Optimizer:
    """RMSprop (PAN's MBG recipe) or SGD with momentum (CBAM's), at ``config.lr``."""
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    raise ValueError(f"optimizer: expected one of ['rmsprop', 'sgd'], got {config.optimizer!r}")


def make_loader(dataset: Dataset, config: TrainConfig, epoch: int, shuffle: bool):
    """Training batches (``shuffle``: an order fixed by ``(seed, epoch)``, one shard per
    rank under DDP) or evaluation batches (every rank sees all of them, so every rank
    takes the same early-stopping decision)."""
    if shuffle and dist.is_available() and dist.is_initialized():
        sampler = DistributedSampler(dataset, shuffle=True, seed=config.seed)  # a shard per rank
        sampler.set_epoch(epoch)
    elif shuffle:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(
            config.seed * 100003 + epoch))
    else:
        sampler = None
    return DataLoader(dataset, config.batch_size, sampler=sampler, num_workers=config.num_workers)


def _rng_state():
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state):
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _stops(epoch: int, best_epoch: int, config: TrainConfig) -> bool:
    """Whether a run ends after (1-based) ``epoch``: epochs used up, or ``patience`` epochs
    without a better validation score than at ``best_epoch``."""
    return epoch >= config.epochs or (config.patience is not None and epoch - best_epoch >= config.patience)


def _stop_epoch(history: list, score: str, config: TrainConfig):
    """The epoch after which ``config``'s stopping rule ends a run with this ``history``
    (``None``: it goes on). A resume replays it rather than trusting the loop's last step."""
    best, best_epoch = float("-inf"), 0
    for epoch, metrics in enumerate(history, 1):
        if metrics[score] > best:
            best, best_epoch = metrics[score], epoch
        if _stops(epoch, best_epoch, config) or budget_ends(history[:epoch], config.budget_s):
            return epoch
    return None


def budget_ends(history: list, budget_s: Optional[float]) -> bool:
    """Whether a time budget of ``budget_s`` seconds ends a run after ``history``.

    The rule: the seconds spent are the sum of the epochs' ``seconds`` (training and
    validation; setup, checkpoint writes and the time between a kill and its resume do not
    count). The next epoch is expected to last as long as the last one (after the first
    epoch, that is a warmed-up epoch; the first one, warm-up included, overestimates). A
    run ends when that expected epoch would not fit in the time left, or when its last
    epoch was cut short because the budget ran out inside it (``budget_cut``; :func:`fit`
    cuts an epoch after the step that spends the budget, e.g. when a single epoch is longer
    than the whole budget). So a run is never over budget by more than one training step
    and one validation pass. ``None``: no budget, never ends."""
    if budget_s is None or not history:
        return False
    spent = sum(h["seconds"] for h in history)
    return bool(history[-1].get("budget_cut")) or spent + history[-1]["seconds"] > budget_s


def budget_summary(history: list, config: "TrainConfig") -> dict:
    """What a run did with its budget: ``{"budget_s", "seconds", "epochs_run", "epochs_max",
    "stopped", "cut_short"}`` (``stopped``: ``"budget"``, ``"epochs"``, ``"patience"``, or
    ``None`` for a run that has not ended)."""
    return {"budget_s": config.budget_s, "seconds": sum(h["seconds"] for h in history),
            "epochs_run": len(history), "epochs_max": config.epochs,
            "stopped": history[-1].get("stopped") if history else None,
            "cut_short": bool(history and history[-1].get("budget_cut"))}


def _stop_reason(history: list, best_epoch: int, config: TrainConfig) -> Optional[str]:
    """Why a run ends after ``history`` (``None``: it goes on)."""
    epoch = len(history)
    if epoch >= config.epochs:
        return "epochs"
    if config.patience is not None and epoch - best_epoch >= config.patience:
        return "patience"
    return "budget" if budget_ends(history, config.budget_s) else None


def _agree(flag: bool) -> bool:
    """True on every rank when it is true on any (DDP ranks must stop at the same step)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([float(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def _check_budget(budget_s) -> None:
    if budget_s is not None and (isinstance(budget_s, bool) or not isinstance(budget_s, (int, float))
                                 or not math.isfinite(budget_s) or budget_s <= 0):
        raise ValueError(f"budget_s: expected None or a finite number of seconds > 0, got {budget_s!r}")


def _left(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (``h:mm:ss`` from an hour)."""
    m, s = divmod(max(0, int(seconds)), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


def _check_identity(identity) -> dict:
    """``identity`` must be a dict of plain values (a checkpoint stores it, ``weights_only``)."""
    plain = (str, int, float, bool, type(None))

    def ok(v):
        if isinstance(v, (list, tuple)):
            return all(ok(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and ok(x) for k, x in v.items())
        return isinstance(v, plain)

    if not isinstance(identity, dict) or not ok(identity):
        raise ValueError("identity: expected a dict of str, numbers, bool, None, lists and dicts, "
                         f"got {identity!r}")
    return identity


def _differences(old: dict, new: dict) -> str:
    """``"key: old -> new; ..."`` for the keys whose values differ."""
    absent = "(absent)"
    return "; ".join(f"{k}: {old.get(k, absent)!r} -> {new.get(k, absent)!r}"
                     for k in sorted(set(old) | set(new)) if old.get(k, absent) != new.get(k, absent))


def _fixed_part(identity: dict) -> dict:
    """``identity`` without what a resume may change (:data:`RESUMABLE`, :data:`DESCRIPTIONS`)."""
    return {k: v for k, v in identity.items() if k not in RESUMABLE + DESCRIPTIONS}


def _restore(checkpoint, identity: dict, score: str, config: TrainConfig) -> dict:
    """The verified state in ``checkpoint``, refused unless this run can continue it exactly."""
    state = load_checkpoint(checkpoint, recorded_sha256(checkpoint))
    stored = state.get("identity")
    if not isinstance(stored, dict):
        raise ValueError(f"{checkpoint}: records no configuration (written by an older version); "
                         "delete it to start over")
    stored = _fixed_part(stored)  # checkpoints written before resumes could extend a run
    if stored != identity:
        raise ValueError(f"{checkpoint}: written by another configuration "
                         f"({_differences(stored, identity)}); resume with the same settings, "
                         "or delete it to start over")
    stop, done = _stop_epoch(state["history"], score, config), len(state["history"])
    if stop is not None and stop < done:
        raise ValueError(f"{checkpoint}: holds {done} epochs, but with epochs={config.epochs} and "
                         f"patience={config.patience} a run stops after epoch {stop}; resume with the "
                         "run's own settings, or delete it to start over")
    return state


def fit(model, train_set, val_set, loss_fn: Callable, evaluate: Callable, config: TrainConfig,
        checkpoint=None, resume=False, device="cpu", progress=True, score="accuracy", identity=None):
    """Train ``model``; return the history (one dict of metrics per epoch) and the best state.

    Args:
        loss_fn: ``(model, batch, device) -> loss`` for one training batch.
        evaluate: ``(model, loader, device) -> dict`` of validation metrics, incl. ``score``.
        checkpoint: path written after every epoch (and read when ``resume``), with its
            SHA-256 in ``<checkpoint>.sha256``.
        progress: a progress bar per epoch (rank 0 only; one summary line in the static book),
            with the time left when the config has a budget.
        identity: what makes this run this run (model, data sizes, seed, ...): a dict of
            plain values stored in the checkpoint; a resume whose identity differs is
            refused. Default: the fields of ``config``. :data:`RESUMABLE` and
            :data:`DESCRIPTIONS` keys are left out, so a finished run can be extended.

    With ``config.budget_s`` the run stops by the rule of :func:`budget_ends`; each epoch's
    entry then also holds ``budget_left_s``, a cut-short epoch ``budget_cut: True`` and
    ``steps``, and the last entry ``stopped`` (``"budget"``, ``"epochs"`` or ``"patience"``);
    :func:`budget_summary` sums it up.

    Raises:
        FloatingPointError: the loss became NaN or infinite (names the epoch and step).
        ValueError: the checkpoint to resume from is damaged (:class:`CheckpointError`),
            or was written by another configuration, or ran past where ``config`` stops.
    """
    from .progress import bar

    _check_budget(config.budget_s)
    identity = _fixed_part(_check_identity(dataclasses.asdict(config) if identity is None else identity))
    device = torch.device(device)
    model.to(device)
    net = model
    if dist.is_available() and dist.is_initialized():
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    opt = make_optimizer(model, config)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    history, best, best_epoch, best_state, start = [], float("-inf"), 0, None, 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = _restore(checkpoint, identity, score, config)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, best, best_state, start = state["history"], state["best"], state["best_state"], state["epoch"] + 1
        best_epoch = state["best_epoch"]
        _set_rng_state(state["rng"])
        if _stop_epoch(history, score, config) == len(history):  # ended; killed before its results
            return history, best_state
    val_loader = make_loader(val_set, config, 0, shuffle=False)
    budget, cut = config.budget_s, False
    for epoch in range(start, config.epochs):
        for group in opt.param_groups:
            group["lr"] = config.lr_at(epoch)
        net.train()
        started, losses = _clock(), []
        spent = sum(h["seconds"] for h in history)  # before this epoch, across resumes
        batches = make_loader(train_set, config, epoch, shuffle=True)
        desc = f"epoch {epoch + 1}/{config.epochs}"
        shown = bar(batches, desc=desc if budget is None else f"{desc}, {_left(budget - spent)} left",
                    unit="batches", disable=not (progress and is_main()))
        for step, batch in enumerate(shown):
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                loss = loss_fn(net, batch, device)
            value = loss.item()
            if not math.isfinite(value):
                raise FloatingPointError(f"loss is {value} at epoch {epoch + 1}, step {step} (batch "
                                         f"{step + 1} of {len(batches)}): lower the learning rate, "
                                         "or check the inputs and loss_fn")
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            losses.append(value)
            if budget is not None:
                left = budget - spent - (_clock() - started)
                if hasattr(shown, "set_description"):  # a live bar (not disabled, not static)
                    shown.set_description(f"{desc}, {_left(left)} left", refresh=False)
                if _agree(left <= 0) and step + 1 < len(batches):  # the budget ran out mid-epoch
                    cut = True
                    break
        if hasattr(shown, "close"):
            shown.close()
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model, val_loader, device)
        for key in PER_ITEM:  # per-item outputs belong to the test set's results, not each epoch's
            metrics.pop(key, None)
        seconds = _clock() - started
        metrics.update(epoch=epoch + 1, train_loss=sum(losses) / max(len(losses), 1),
                       lr=config.lr_at(epoch), seconds=seconds if budget is None else _seconds(seconds))
        history.append(metrics)
        if metrics[score] > best:
            best, best_epoch = metrics[score], epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        reason = _stop_reason(history, best_epoch, config)
        if budget is not None:
            metrics["budget_left_s"] = budget - spent - metrics["seconds"]
            if cut:
                metrics.update(budget_cut=True, steps=len(losses))
            if reason:
                metrics["stopped"] = reason
        if checkpoint is not None and is_main():
            save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                             "history": history, "best": best, "best_epoch": best_epoch, "best_state": best_state,
                             "epoch": epoch, "rng": _rng_state(), "identity": identity}, checkpoint,
                            record_sha256=True)
        if reason:
            break
    return history, best_state


def _seconds(local: float) -> float:
    """An epoch's seconds, the same on every DDP rank (the slowest one's), so that every
    rank takes the same budget decision."""
    if not (dist.is_available() and dist.is_initialized()):
        return local
    t = torch.tensor([local])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())



# --------------------------------------------------------------------------- batch vs memory
SAFE_GPU_BYTES = 12 * 2**30  # full mode's batches fit this: a 16 GB T4 with a 4 GB margin


def activation_bytes(net, batch, loss_fn, device="cpu") -> int:
    """Bytes of the tensors that one ``loss_fn(net, batch, device)`` keeps for its backward
    pass (the activations): those autograd saves, and those a custom ``autograd.Function``
    keeps on its context (the fused scan's per-step gates), found as tensors alive after the
    forward pass that were not before; parameters excluded, shared storage counted once."""
    import gc

    def live():
        with warnings.catch_warnings():  # isinstance on some of torch's deprecated aliases warns
            warnings.simplefilter("ignore")
            tensors = [o for o in gc.get_objects() if isinstance(o, torch.Tensor)]
        return {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in tensors if t.device.type == "cpu"}

    before = set(live()) | {p.untyped_storage().data_ptr() for p in net.parameters()}
    saved = {}

    def pack(t):
        storage = t.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = loss_fn(net, batch, device)
    saved.update(live())
    del loss
    return sum(n for ptr, n in saved.items() if ptr not in before)


def _collate(sample, n):
    """A batch of ``n`` items: ``sample`` (a list of dataset items) repeated as needed."""
    from torch.utils.data import default_collate
    return default_collate([sample[i % len(sample)] for i in range(n)])


def estimate_peak_bytes(net, sample, loss_fn, batch_size: int, probes=(2, 4)) -> float:
    """An estimate, on the CPU, of the peak memory of one training step at ``batch_size``.

    The activations are measured (:func:`activation_bytes`) at two small batches and
    extrapolated linearly in the batch; the estimate is ``4 × parameters`` (weights,
    gradients, two optimiser states) ``+ 1.5 × activations`` (the backward pass holds the
    activations' gradients next to them; float32, so an AMP step on a GPU needs less).
    ``sample``: a few dataset items, repeated to make a batch."""
    return _estimator(net, sample, loss_fn, probes)(batch_size)


def _estimator(net, sample, loss_fn, probes=(2, 4)) -> Callable[[int], float]:
    """:func:`estimate_peak_bytes` as a function of the batch (the probes run once, on a copy
    of ``net`` and a forked random stream: the run's model and randomness stay as they were)."""
    import copy

    with torch.random.fork_rng(devices=[]):
        probe = copy.deepcopy(net).cpu()
        a, b = (activation_bytes(probe, _collate(sample, n), loss_fn) for n in probes)
    per_item = (b - a) / (probes[1] - probes[0])
    fixed = max(a - per_item * probes[0], 0.0)
    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    return lambda batch: 4.0 * weights + 1.5 * (fixed + per_item * batch)


def measure_peak_bytes(net, sample, loss_fn, batch_size: int, config: "TrainConfig", device) -> float:
    """``torch.cuda.max_memory_allocated`` of one AMP training step (forward, backward,
    optimiser step) of a copy of ``net`` at ``batch_size``; ``inf`` when it runs out of memory."""
    import copy

    device = torch.device(device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    try:
        index = torch.cuda.current_device() if device.index is None else device.index
        with torch.random.fork_rng(devices=[index]):  # leaves the run's random streams alone
            model = copy.deepcopy(net).to(device).train()
            opt = make_optimizer(model, config)
            with torch.autocast(device.type):
                loss = loss_fn(model, _collate(sample, batch_size), device)
            loss.float().backward()
            opt.step()
            torch.cuda.synchronize(device)
            return float(torch.cuda.max_memory_allocated(device))
    except torch.cuda.OutOfMemoryError:
        return float("inf")
    finally:
        torch.cuda.empty_cache()


def halve_to_fit(peak_bytes: Callable[[int], float], batch_size: int, limit: float = SAFE_GPU_BYTES):
    """The first of ``batch_size, batch_size // 2, ...`` whose ``peak_bytes(batch)`` is at
    most ``limit``: ``(batch, its peak bytes)``. ``ValueError`` when not even a batch of 1 fits."""
    batch = batch_size
    while True:
        peak = peak_bytes(batch)
        if peak <= limit:
            return batch, peak
        if batch == 1:
            raise ValueError(f"batch_size: expected a batch that fits {limit / 2**30:.1f} GiB, but even "
                             f"a batch of 1 needs {peak / 2**30:.1f} GiB: use a smaller model or input")
        batch = max(1, batch // 2)


def fit_batch_to_memory(net, sample, loss_fn, config: "TrainConfig", device, limit: float = SAFE_GPU_BYTES):
    """``config`` with its batch halved until one training step fits ``limit`` bytes (the
    learning rate scaled with the batch, PAN's rule), and what was found:
    ``{"method", "peak_bytes", "limit_bytes", "batch_from", "batch_to"}``. On a CUDA device
    the peak is measured (:func:`measure_peak_bytes`), elsewhere estimated
    (:func:`estimate_peak_bytes`)."""
    if torch.device(device).type == "cuda":
        method, peak = "measured", (lambda b: measure_peak_bytes(net, sample, loss_fn, b, config, device))
    else:
        method, peak = "estimated", _estimator(net, sample, loss_fn)
    batch, bytes_ = halve_to_fit(peak, config.batch_size, limit)
    if batch == config.batch_size:
        fitted = config
    else:
        fitted = dataclasses.replace(config, batch_size=batch, lr=config.lr * batch / config.batch_size)
    return fitted, {"method": method, "peak_bytes": bytes_, "limit_bytes": limit,
                    "batch_from": config.batch_size, "batch_to": batch}
