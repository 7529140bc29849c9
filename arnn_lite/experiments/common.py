"""What every experiment module shares: train with :func:`~arnn_lite.train.fit`, test the
best epoch, then save its weights and a results file with provenance (DESIGN §6)."""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import torch

from torch.utils.data import Dataset

from .. import results
from ..train import fit, load_checkpoint, make_loader, save_checkpoint, sha256

__all__ = ["CachedSplit", "RunClock", "resolve_protocol", "train_and_test", "save_run"]


class CachedSplit(Dataset):
    """A generated split, its items stacked into tensors once (images as uint8) and cached
    at ``path`` (``None``: no cache). Items come back with images as floats in [0, 1].

    The cache is written atomically; one that cannot be read or does not hold such a split
    (a disk error, a write from older code) is rebuilt, with a warning naming the file."""

    def __init__(self, source, keys, path=None):
        if path is not None and Path(path).exists():
            try:
                self.data = _load_cache(path, keys)
                return
            except ValueError as err:
                warnings.warn(f"{err}; rebuilding the cache", stacklevel=2)
        items = [source[i] for i in range(len(source))]
        self.data = {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in keys}
        self.data["image"] = (self.data["image"] * 255).round().to(torch.uint8)  # (N, 3, H, W)
        if path is not None:
            save_checkpoint(self.data, path)

    def __len__(self):
        return len(self.data["image"])

    def __getitem__(self, i):
        item = {k: v[i] for k, v in self.data.items()}
        item["image"] = item["image"].float() / 255.0
        return item


def _load_cache(path, keys) -> dict:
    """The cached split at ``path``: a dict of tensors, one per key, all of the same length,
    the images uint8. ``ValueError`` naming the file otherwise."""
    data = load_checkpoint(path)  # CheckpointError (a ValueError) when unreadable
    if not isinstance(data, dict) or set(data) != set(keys) or \
            not all(isinstance(v, torch.Tensor) for v in data.values()):
        got = ({k: type(v).__name__ for k, v in data.items()} if isinstance(data, dict)
               else type(data).__name__)
        raise ValueError(f"{path}: expected a dict of tensors with keys {sorted(keys)}, got {got}")
    lengths = {k: len(v) for k, v in data.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{path}: expected tensors of one length, got lengths {lengths}")
    if data["image"].dtype != torch.uint8:
        raise ValueError(f"{path}: expected 'image' as uint8, got {data['image'].dtype}")
    return data


@dataclasses.dataclass
class RunClock:
    """When a run started, and at which commit (read at the start: the tree may change)."""

    started: str = dataclasses.field(default_factory=results.now)
    t0: float = dataclasses.field(default_factory=time.perf_counter)
    commit: str = dataclasses.field(default_factory=results.git_commit)

    def seconds(self) -> float:
        return time.perf_counter() - self.t0


def resolve_protocol(protocols: dict, protocol: str, overrides=None, seed=0):
    """The sizes and :class:`~arnn_lite.train.TrainConfig` of ``protocols[protocol]`` with
    ``overrides`` applied (``None`` values ignored; names of config fields, such as
    ``epochs`` or ``patience``, go to the config, the rest to the sizes).

    Returns ``(spec, config, label)``: ``label`` is the protocol's name, or ``"custom"`` when
    anything was overridden (results files then say so)."""
    spec = dict(protocols[protocol])
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    label = "custom" if overrides else protocol
    config = spec.pop("config")
    fields = {f.name for f in dataclasses.fields(config)}
    config = dataclasses.replace(config, seed=seed,
                                 **{k: overrides.pop(k) for k in list(overrides) if k in fields})
    spec.update(overrides)
    return spec, config, label


def train_and_test(net, sets, loss_fn, evaluate, config, checkpoint, device, resume=False,
                   progress=True, identity=None):
    """``fit`` on ``sets["train"]`` / ``sets["val"]``, reload the best epoch, evaluate it on
    ``sets["test"]``. Returns ``(test metrics, history, best state dict)``. ``identity``:
    what a resume must match (see :func:`~arnn_lite.train.fit`; default: the config)."""
    history, best = fit(net, sets["train"], sets["val"], loss_fn, evaluate, config,
                        checkpoint=checkpoint, resume=resume, device=device, progress=progress,
                        identity=identity)
    net.load_state_dict(best)
    net.eval()
    with torch.no_grad():
        test = evaluate(net.to(device), make_loader(sets["test"], config, 0, shuffle=False), device)
    return test, history, best


def save_run(out_dir, stem, experiment, protocol, config, metrics, best, clock: RunClock, seed,
             device, command) -> Path:
    """Write ``<stem>.pt`` (the best weights) and ``<stem>.json`` (the results file, naming
    those weights and their SHA-256) into ``out_dir``; returns the results file's path."""
    weights = Path(out_dir) / f"{stem}.pt"
    save_checkpoint(best, weights)
    return results.write_result(
        Path(out_dir) / f"{stem}.json", experiment, protocol, config, metrics,
        results.provenance(seed, device, clock.started, clock.seconds(), command, clock.commit),
        checkpoint={"file": weights.name, "sha256": sha256(weights)})
