"""One training loop for every experiment: progress bar, AMP on GPU, atomic checkpoints,
exact resume, early stopping, and DistributedDataParallel under ``torchrun``.

Resuming is exact on the CPU, or refused: the data order of epoch ``e`` is a function of
``(seed, e)``, and the checkpoint written after each epoch holds the model, optimiser,
RNG states and history, so a killed run continued with ``resume=True`` ends with the
same weights and metrics as an uninterrupted one (tested). The checkpoint also records
the run's identity (its configuration) and, next to it, its SHA-256: a resume under
another configuration, or from a damaged file, stops with an error naming the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import pickle
import re
import time
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from ._files import atomic_write

# Keys of an ``evaluate`` result that hold one value per item (kept for the test set only).
PER_ITEM = ("predictions", "labels")

__all__ = ["PER_ITEM", "TrainConfig", "fit", "make_optimizer", "make_loader", "init_distributed", "save_checkpoint",
           "load_checkpoint", "recorded_sha256", "CheckpointError", "sha256", "is_main", "RESUMABLE"]

# Config fields a resume may change: they only decide when a run ends, and ``fit`` replays
# the stopping rule over the restored history, so the result is still the uninterrupted run's.
RESUMABLE = ("epochs", "patience")


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
        if _stops(epoch, best_epoch, config):
            return epoch
    return None


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


def _restore(checkpoint, identity: dict, score: str, config: TrainConfig) -> dict:
    """The verified state in ``checkpoint``, refused unless this run can continue it exactly."""
    state = load_checkpoint(checkpoint, recorded_sha256(checkpoint))
    stored = state.get("identity")
    if not isinstance(stored, dict):
        raise ValueError(f"{checkpoint}: records no configuration (written by an older version); "
                         "delete it to start over")
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
        progress: a progress bar per epoch (rank 0 only; one summary line in the static book).
        identity: what makes this run this run (model, data sizes, seed, ...): a dict of
            plain values stored in the checkpoint; a resume whose identity differs is
            refused. Default: the fields of ``config`` except :data:`RESUMABLE`.

    Raises:
        FloatingPointError: the loss became NaN or infinite (names the epoch and step).
        ValueError: the checkpoint to resume from is damaged (:class:`CheckpointError`),
            or was written by another configuration, or ran past where ``config`` stops.
    """
    from .progress import bar

    if identity is None:
        identity = {k: v for k, v in dataclasses.asdict(config).items() if k not in RESUMABLE}
    identity = _check_identity(identity)
    device = torch.device(device)
    model.to(device)
    net = model
    if dist.is_available() and dist.is_initialized():
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
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
    for epoch in range(start, config.epochs):
        for group in opt.param_groups:
            group["lr"] = config.lr_at(epoch)
        net.train()
        started, losses = time.perf_counter(), []
        batches = make_loader(train_set, config, epoch, shuffle=True)
        for step, batch in enumerate(bar(batches, desc=f"epoch {epoch + 1}/{config.epochs}",
                                              unit="batches", disable=not (progress and is_main()))):
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
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model, val_loader, device)
        for key in PER_ITEM:  # per-item outputs belong to the test set's results, not each epoch's
            metrics.pop(key, None)
        metrics.update(epoch=epoch + 1, train_loss=sum(losses) / max(len(losses), 1),
                       lr=config.lr_at(epoch), seconds=time.perf_counter() - started)
        history.append(metrics)
        if metrics[score] > best:
            best, best_epoch = metrics[score], epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if checkpoint is not None and is_main():
            save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                             "history": history, "best": best, "best_epoch": best_epoch, "best_state": best_state,
                             "epoch": epoch, "rng": _rng_state(), "identity": identity}, checkpoint,
                            record_sha256=True)
        if _stops(epoch + 1, best_epoch, config):
            break
    return history, best_state
