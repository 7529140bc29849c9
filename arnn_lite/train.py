"""One training loop for every experiment: progress bar, AMP on GPU, atomic checkpoints,
exact resume, early stopping, and DistributedDataParallel under ``torchrun``.

Resuming is exact on the CPU: the data order of epoch ``e`` is a function of
``(seed, e)``, and the checkpoint written after each epoch holds the model, optimiser,
RNG states and history, so a killed run continued with ``resume=True`` ends with the
same weights and metrics as an uninterrupted one (tested).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

__all__ = ["TrainConfig", "fit", "make_optimizer", "make_loader", "init_distributed", "save_checkpoint", "load_checkpoint", "sha256", "is_main"]


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


def save_checkpoint(state: dict, path) -> None:
    """``torch.save`` to a temporary file, then rename: a kill never leaves half a file.

    Saved through a file object, so the archive does not embed the temporary file's random
    name: the same ``state`` always gives the same bytes (and SHA-256)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        torch.save(state, f)
    os.replace(tmp, path)


def load_checkpoint(path, expected_sha256=None, map_location="cpu") -> dict:
    """Load with ``weights_only=True``; check the SHA-256 first when one is given."""
    if expected_sha256 is not None and sha256(path) != expected_sha256:
        raise ValueError(f"{path}: SHA-256 does not match the manifest (file changed or corrupt)")
    return torch.load(path, map_location=map_location, weights_only=True)


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


def fit(model, train_set, val_set, loss_fn: Callable, evaluate: Callable, config: TrainConfig,
        checkpoint=None, resume=False, device="cpu", progress=True, score="accuracy"):
    """Train ``model``; return the history (one dict of metrics per epoch) and the best state.

    Args:
        loss_fn: ``(model, batch, device) -> loss`` for one training batch.
        evaluate: ``(model, loader, device) -> dict`` of validation metrics, incl. ``score``.
        checkpoint: path written after every epoch (and read when ``resume``).
        progress: show a tqdm bar per epoch (rank 0 only).
    """
    from tqdm.auto import tqdm

    device = torch.device(device)
    model.to(device)
    net = model
    if dist.is_available() and dist.is_initialized():
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt = make_optimizer(model, config)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    history, best, best_epoch, best_state, start = [], float("-inf"), 0, None, 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, best, best_state, start = state["history"], state["best"], state["best_state"], state["epoch"] + 1
        best_epoch = state["best_epoch"]
        _set_rng_state(state["rng"])
    val_loader = make_loader(val_set, config, 0, shuffle=False)
    for epoch in range(start, config.epochs):
        for group in opt.param_groups:
            group["lr"] = config.lr_at(epoch)
        net.train()
        started, losses = time.perf_counter(), []
        batches = make_loader(train_set, config, epoch, shuffle=True)
        for batch in tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", leave=False,
                          disable=not (progress and is_main())):
            with torch.autocast(device.type, enabled=device.type == "cuda"):
                loss = loss_fn(net, batch, device)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            metrics = evaluate(model, val_loader, device)
        metrics.update(epoch=epoch + 1, train_loss=sum(losses) / max(len(losses), 1),
                       lr=config.lr_at(epoch), seconds=time.perf_counter() - started)
        history.append(metrics)
        if metrics[score] > best:
            best, best_epoch = metrics[score], epoch + 1
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if checkpoint is not None and is_main():
            save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                             "history": history, "best": best, "best_epoch": best_epoch, "best_state": best_state,
                             "epoch": epoch, "rng": _rng_state()}, checkpoint)
        if config.patience is not None and epoch + 1 - best_epoch >= config.patience:
            break
    return history, best_state
