"""What every experiment module shares: one command line (:class:`ExperimentParser`),
training with :func:`~arnn_lite.train.fit`, testing the best epoch, then saving its weights
and a results file with provenance (DESIGN §6)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from .. import stats
from .._repo import data_dir
from ..datasets.mbg import VARIANTS
from ..train import (
    DESCRIPTIONS,
    RESUMABLE,
    TrainConfig,
    budget_summary,
    fit,
    fit_batch_to_memory,
    init_distributed,
    is_main,
    make_loader,
    save_checkpoint,
    sha256,
)
from . import results

__all__ = ["RunClock", "resolve_protocol", "train_and_test", "save_run", "Refused",
           "ArgumentParser", "ExperimentParser", "parse_command", "refusals_exit", "positive_int",
           "non_negative_int", "positive_float", "known_device", "smallest_canvas", "check_at_least",
           "require_files", "results_stem", "as_json", "config_diff", "results_conflict",
           "claim_results", "LEGACY", "add_generator_version", "check_clean_tree",
           "BUDGET_MINUTES", "with_budget", "fit_memory", "fit_and_save"]

BUDGET_MINUTES = 10.0  # the budget protocol's default (--budget-minutes)


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
    if overrides and "changes_from_recipe" in spec:  # the protocol's own list no longer holds
        spec["changes_from_recipe"] = [
            f"the {protocol} protocol with {', '.join(f'{k}={v}' for k, v in overrides.items())} "
            f"set on the command line; every size and training setting is recorded in this config"]
    config = spec.pop("config")
    fields = {f.name for f in dataclasses.fields(config)}
    config = dataclasses.replace(config, seed=seed,
                                 **{k: overrides.pop(k) for k in list(overrides) if k in fields})
    spec.update(overrides)
    return spec, config, label


def with_budget(config, protocol: str, budget_minutes=None):
    """``config`` (a :class:`~arnn_lite.train.TrainConfig`, or any dataclass with ``budget_s``)
    with the ``budget`` protocol's training time set to ``budget_minutes`` (``None``: the
    protocol's own). Other protocols take no budget (:class:`Refused`)."""
    if budget_minutes is None:
        return config
    if protocol != "budget":
        raise Refused(f"budget_minutes (--budget-minutes): expected only with the budget protocol, "
                      f"got {budget_minutes} with protocol {protocol!r}")
    if not (isinstance(budget_minutes, (int, float)) and math.isfinite(budget_minutes) and budget_minutes > 0):
        raise Refused(f"budget_minutes (--budget-minutes): expected a finite number > 0, got {budget_minutes!r}")
    return dataclasses.replace(config, budget_s=round(float(budget_minutes) * 60, 3))


def fit_memory(net, train_set, loss, config, device, spec, record, claim):
    """Full mode's batch: ``config`` with the batch halved until one training step fits
    ``spec["memory_limit_gib"]`` (:func:`~arnn_lite.train.fit_batch_to_memory`; measured on
    CUDA, estimated elsewhere). A changed batch changes the run's record, which is claimed
    again (``claim(record) -> stem``). Returns ``(config, record, stem, what was found)``."""
    sample = [train_set[i] for i in range(min(4, len(train_set)))]
    fitted, found = fit_batch_to_memory(net, sample, loss, config, device, spec["memory_limit_gib"] * 2**30)
    if fitted is not config:
        record = {**record, "batch_size": fitted.batch_size, "lr": fitted.lr}
    return fitted, record, claim(record), found


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
    extra = {"health": stats.health(metrics["test"])} if "test" in metrics else {}
    return results.write_result(
        Path(out_dir) / f"{stem}.json", experiment, protocol, config, metrics,
        results.provenance(seed, device, clock.started, clock.seconds(), command, clock.commit),
        checkpoint={"file": weights.name, "sha256": sha256(weights)}, **extra)


def fit_and_save(net, sets, loss_fn, evaluate, config, spec, record, claim, *, out_dir, stem,
                 experiment, protocol, seed, device, command, resume=False, progress=True,
                 before_fit=None) -> dict:
    """The end of every experiment's ``run``, once: full mode's batch fitted to memory
    (:func:`fit_memory`; ``claim(record) -> stem`` claims the results file again when the
    batch changes), training with its checkpoint in ``out_dir/<stem>.ckpt``, the best epoch
    tested, the budget summary, and the weights and results file written by the main process.

    ``before_fit(config)`` runs on the clock once the batch is final, before training (the
    scalability study times its steps there); it may return ``finish(test, history) -> dict``
    whose entries join the results file's metrics. Returns those metrics (``test``,
    ``history``, and ``memory``, ``budget`` or ``finish``'s entries where they apply)."""
    extra = {}
    if "memory_limit_gib" in spec:  # full mode: a batch that fits a 16 GB GPU
        config, record, stem, extra["memory"] = fit_memory(net, sets["train"], loss_fn, config, device,
                                                           spec, record, claim)
    clock = RunClock()
    finish = before_fit(config) if before_fit else None
    test, history, best = train_and_test(net, sets, loss_fn, evaluate, config, Path(out_dir) / f"{stem}.ckpt",
                                         device, resume, progress, identity=record)
    metrics = {"test": test, **(finish(test, history) if finish else {}), "history": history, **extra}
    if config.budget_s is not None:
        metrics["budget"] = budget_summary(history, config)
    if is_main():
        save_run(out_dir, stem, experiment, protocol, record, metrics, best, clock, seed, device, command)
    return metrics


def check_clean_tree(out_dir, allow_dirty: bool = False, commit: str | None = None) -> None:
    """Results written into the repository's shipped ``data/results`` come from a clean
    worktree: refuse a run whose tracked files have uncommitted changes there, unless
    ``allow_dirty`` (its ``+dirty`` commit then says so in the file). Runs written elsewhere
    (tests, chapters, a reader's own folder) are only labelled."""
    commit = results.git_commit() if commit is None else commit
    if allow_dirty or not commit.endswith("+dirty"):
        return
    shipped = (data_dir() / "results").resolve()
    target = Path(out_dir).resolve()
    if target == shipped or shipped in target.parents:
        raise Refused(f"the worktree has uncommitted changes (commit {commit}): results in "
                      f"{target} must come from a clean one (git worktree add); pass --allow-dirty "
                      "to write them anyway, labelled +dirty")


# --------------------------------------------------------------------------- the CLI base
# Shared by the five experiment CLIs (and bench, gpucheck, predictions): a bad value is one
# line naming the option, exit status 2, found before any data is built (issue 15).

class Refused(ValueError):
    """A run refused before it builds any data: a setting the network or data cannot take,
    a missing data folder, or a results file of another configuration in its way. The CLIs
    print the message as one line and exit with status 2 (:func:`refusals_exit`)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line, ``PROG: error: MESSAGE`` (exit status 2): the
    experiments' usage block runs over a dozen lines and buried the message."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


@contextlib.contextmanager
def refusals_exit(parser):
    """Inside the block, a :class:`Refused` becomes ``parser.error`` (one line, exit 2)."""
    try:
        yield
    except Refused as err:
        parser.error(str(err))


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _bounded(text, int, lambda v: v >= 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (seeds)."""
    return _bounded(text, int, lambda v: v >= 0, "a non-negative integer")


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (learning rates; ``nan`` and ``inf`` refused)."""
    return _bounded(text, float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")


def _bounded(text, kind, ok, expected):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def known_device(text: str) -> str:
    """argparse type: ``cpu``, or ``cuda`` / ``cuda:N`` / ``mps`` when this machine has it."""
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"got {text!r}, but torch finds no CUDA device here; use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"got {text!r}, but this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"got {text!r}, but MPS is not available here; use cpu")
    return text


def smallest_canvas(stacks: int) -> int:
    """Smallest image side that survives ``stacks`` valid 3×3 conv + 2×2 max-pool stacks
    (each maps ``s -> (s - 2) // 2``, which must stay >= 1): 46 for MBGNet's four, 94 for
    the scalability network's five."""
    side = 1
    for _ in range(stacks):
        side = 2 * side + 2
    return side


def check_at_least(value, minimum: int, name: str, why: str) -> None:
    """Refuse ``value < minimum`` for the option ``--name``, saying ``why``."""
    if value < minimum:
        flag = name.replace("_", "-")
        raise Refused(f"{name} (--{flag}): expected at least {minimum} ({why}), got {value}")


def require_files(folder, names, option: str, what: str, how: str) -> None:
    """Refuse unless every one of ``names`` exists under ``folder``, naming the folder, the
    missing files and ``how`` to get them (``option``: the CLI flag that picks the folder)."""
    missing = [n for n in names if not (Path(folder) / n).exists()]
    if missing:
        detail = (f"expected {', '.join(names)}" if len(missing) == len(names) else
                  f"missing {', '.join(missing)} of {', '.join(names)}")
        raise Refused(f"{option}: no {what} in {folder} ({detail}); {how}")


# --------------------------------------------------------------------------- results paths
def results_stem(stem: str, seed: int) -> str:
    """File stem of a run: ``stem`` for seed 0 (the shipped files' names), ``stem_seedN``
    otherwise, so seeds of one model sit side by side."""
    return stem if seed == 0 else f"{stem}_seed{seed}"


def as_json(value):
    """``value`` as a results file stores it (tuples become lists)."""
    return json.loads(json.dumps(value))


_MISSING = object()


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Keys (dotted into nested dicts) whose values differ between two configs, sorted."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += config_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(prefix + key)
    return keys




def results_conflict(path, experiment: str, config: dict, seed: int, resume=False):
    """How the results file at ``path`` differs from a run of ``experiment`` with ``config``
    and ``seed``: a list of keys (empty: the same run), or ``None`` when there is no file.
    Fields added to :class:`~arnn_lite.train.TrainConfig` after a file was written count as
    equal when this run keeps their default (what the older code did); a missing
    ``generator_version`` is MBG's version 1, the generator of every file written before the
    version was recorded (see :data:`LEGACY`). Keys that describe a run in words
    (:data:`~arnn_lite.train.DESCRIPTIONS`) never count; with ``resume``, neither do those a
    resume may change (:data:`~arnn_lite.train.RESUMABLE`: a finished run extended)."""
    path = Path(path)
    if not path.exists():
        return None
    new, defaults = as_json(config), {**LEGACY, **as_json(dataclasses.asdict(TrainConfig()))}
    try:
        old = json.loads(path.read_text())
        old_seed, old_experiment = old["provenance"]["seed"], old["experiment"]
        old_config = {**{k: v for k, v in defaults.items() if k in new and new[k] == v}, **old["config"]}
    except (ValueError, KeyError, TypeError):  # not JSON, or not a results file
        return ["(unreadable results file)"]
    ignored = DESCRIPTIONS + (RESUMABLE if resume else ())
    keys = [k for k in config_diff(old_config, new) if k not in ignored]
    if old_seed != seed and "seed" not in keys:
        keys.append("seed")
    if old_experiment != experiment:
        keys.insert(0, "experiment")
    return keys


def claim_results(out_dir, stem: str, experiment: str, config: dict, seed: int, overwrite=False,
                  allow_dirty=False, resume=False) -> str:
    """The file stem this run writes under (:func:`results_stem`), after checking that it
    would replace no other run's results: a results file already there whose experiment,
    config or seed differ is refused (:class:`Refused`, naming the file and the keys)
    unless ``overwrite``. The same run may rewrite its own file (that is how a result is
    reproduced), and with ``resume`` extend it (more epochs or patience). Results for the
    repository's ``data/results`` also need a clean worktree (:func:`check_clean_tree`).
    Call it before any data is built."""
    check_clean_tree(out_dir, allow_dirty)
    stem = results_stem(stem, seed)
    path = Path(out_dir) / f"{stem}.json"
    keys = results_conflict(path, experiment, config, seed, resume)
    if keys and not overwrite:
        raise Refused(f"{path} holds another run (differs in {', '.join(keys)}); pass --overwrite "
                      "(overwrite=True) to replace it and its weights, or choose another --out-dir")
    return stem


# Config keys that files written before they existed lack, and the value those files had.
# arnn_lite.datasets.mbg: v1 placed the queried digit first; every MBG run before --variant
# existed used the paper's generator settings (datasets.mbg.VARIANTS["paper"]).
LEGACY = {"generator_version": 1, "variant": "paper", **as_json(VARIANTS["paper"])}


def add_generator_version(parser) -> None:
    """``--generator-version``: which MBG generator builds the data (default: the newest;
    1 reproduces the results shipped before version 2, which let the query be ignored)."""
    from ..datasets.mbg import GENERATOR_VERSION, GENERATOR_VERSIONS

    parser.add_argument("--generator-version", type=int, choices=GENERATOR_VERSIONS,
                        default=GENERATOR_VERSION,
                        help="MBG generator (1: the version with the largest-digit shortcut)")


def parse_command(parser, argv=None):
    """``(args, command)``: ``argv`` (default ``sys.argv[1:]``) parsed, and the command line
    as results files record it: ``parser.prog`` and the arguments, shell-quoted."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return parser.parse_args(argv), " ".join([parser.prog, *map(shlex.quote, argv)])


class ExperimentParser(ArgumentParser):
    """The command line of one experiment (``python -m arnn_lite.experiments.NAME``), with
    the options every experiment shares: ``--attention`` (one of the model's names in
    :mod:`arnn_lite.models.zoo`), ``--protocol``, ``--seed``, ``--device``, ``--out-dir``,
    ``--resume``, ``--overwrite``, ``--allow-dirty`` and ``--budget-minutes``. An experiment
    adds its own options (:meth:`add_sizes` for the protocol's sizes), then calls :meth:`parse`
    and runs inside :meth:`running`.

    Args:
        experiment: the module's name under ``arnn_lite.experiments``.
        description: one line for ``--help``.
        attentions: the names ``--attention`` takes (the model's ``ATTENTIONS``).
        protocols: the protocols ``--protocol`` takes (default ``book``).
        old_flag: the attention option's earlier spelling (``--model``, ``--front``,
            ``--spatial``): still accepted, not shown in ``--help``, so that the commands
            older results files record still run.
    """

    def __init__(self, experiment: str, description: str, attentions, protocols, old_flag=None):
        super().__init__(prog=f"python -m arnn_lite.experiments.{experiment}", description=description)
        self.add_argument("--attention", choices=tuple(attentions), default="arnn",
                          help="the attention, by its name in arnn_lite.models.zoo")
        if old_flag:
            self.add_argument(old_flag, choices=tuple(attentions), dest="attention",
                              default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        self.add_argument("--protocol", choices=tuple(protocols), default="book")
        self.add_argument("--seed", type=non_negative_int, default=0)
        self.add_argument("--device", type=known_device)
        self.add_argument("--out-dir")
        self.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
        self.add_argument("--overwrite", action="store_true",
                          help="replace a results file of another configuration at the same path")
        self.add_argument("--allow-dirty", action="store_true",
                          help="write into data/results from a worktree with uncommitted changes "
                               "(the results file's commit then ends in +dirty)")
        self.add_argument("--budget-minutes", type=positive_float,
                          help=f"minutes of training for --protocol budget (default {BUDGET_MINUTES:g})")
        self.sizes: list[str] = []

    def add_sizes(self, names, kind=positive_int, hints=None) -> None:
        """``--NAME`` for each of ``names`` (``kind``: the argparse type), overriding the
        protocol's value; ``hints``: ``{name: help text}``. :meth:`parse` gathers them."""
        for name in names:
            self.add_argument(f"--{name.replace('_', '-')}", type=kind, dest=name,
                              help=(hints or {}).get(name))
        self.sizes += list(names)

    def parse(self, argv=None) -> argparse.Namespace:
        """The parsed arguments, with ``command`` (the command line, as results files record
        it) and ``overrides`` (``{size: value or None}`` of :meth:`add_sizes`)."""
        args, command = parse_command(self, argv)
        args.command, args.overrides = command, {name: getattr(args, name) for name in self.sizes}
        return args

    @contextlib.contextmanager
    def running(self, args, distributed: bool = False):
        """The body of ``main``: yields the device (``--device``; else, with ``distributed``,
        this process's under ``torchrun``, :func:`~arnn_lite.train.init_distributed`), turns a
        :class:`Refused` into one line and exit status 2, and leaves the process group."""
        device = args.device or (init_distributed() if distributed else None)
        try:
            with refusals_exit(self):
                yield device
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()
