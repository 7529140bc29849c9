"""Scalability study (supplement Table 3): NONE vs ARNN vs BRNN^δ after a fifth stack.

    python -m arnn_lite.experiments.scalability --attention arnn --protocol book [--block-size 2] [--resume]
    python -m arnn_lite.experiments.scalability --attention arnn --protocol budget --budget-minutes 10

The network is :class:`~arnn_lite.models.mbg.MBGNet` with ``front=...``: a fifth
3×3 conv + 2×2 pool stack in front of the ARNN network of Table 2, followed by no
attention (``none``), an ARNN (``arnn``) or a block ARNN with block size δ (``brnn``).
Chapter 11 (``chapters/11_scalability.ipynb``) reads the results.

**Our choice:** the canvas is 128×128, so that five valid-conv + pool stacks leave maps of
63, 30, 14, 6 and 2 pixels (a 100×100 canvas leaves 49, 23, 10, 4 and 1: the last, softmax,
attention would have a single position to choose from). The task is MBG colour prediction
(as in the supplement's Section 4.1). Each results file records accuracy (total, per scale
bin, mask mass per stage), the measured seconds per training step (forward, backward and
optimiser step on one batch, median of several timed steps) and the sequential step counts
of the front attention. Protocols: ``paper`` (PAN's recipe at the paper's sizes), ``book``
(MBG's book protocol) and ``budget`` (full mode on a GPU: MBG's budget protocol,
:mod:`arnn_lite.experiments.mbg`, on the 128×128 canvas, for ``--budget-minutes``). Seeds
other than 0 write ``front_<front>_seed<N>.json``; a run never replaces another
configuration's results (``--overwrite`` does). ``--attention`` names the front attention;
it was spelled ``--front`` before (still accepted; results files record it as
``config.front``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import statistics
from pathlib import Path

import torch

from .._checks import check_positive
from .._repo import data_dir
from ..arnn import sequential_steps
from ..datasets.mbg import GENERATOR_VERSION, MBG
from ..datasets.mnist import default_root
from ..models.mbg import FRONTS as NET_FRONTS
from ..models.mbg import MBGNet, map_sizes
from ..train import TrainConfig, make_loader
from . import bench
from .common import (
    ExperimentParser,
    add_generator_version,
    as_json,
    check_at_least,
    claim_results,
    fit_and_save,
    positive_int,
    resolve_protocol,
    smallest_canvas,
    with_budget,
)
from .mbg import BOOK_CHANGES, evaluate, loss_fn, mbg_split
from .mbg import PROTOCOLS as MBG_PROTOCOLS

__all__ = ["PROTOCOLS", "FRONTS", "time_steps", "run", "main"]

FRONTS = NET_FRONTS[1:]  # what the study puts after the fifth stack (None: no fifth stack)

PROTOCOLS = {
    "paper": dict(train=30000, val=10000, test=10000, canvas=128, config=TrainConfig()),
    "book": dict(train=2000, val=500, test=1000, canvas=128,  # MBG's book protocol (chapter 09)
                 changes_from_recipe=BOOK_CHANGES,
                 config=TrainConfig(epochs=8, batch_size=50, lr=3e-3 * 50 / 200, patience=4)),
    "budget": {**MBG_PROTOCOLS["budget"], "canvas": 128},  # MBG's budget protocol (chapter 09)
}


def time_steps(net, dataset, config: TrainConfig, device, steps: int = 5, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``steps`` training steps (forward, backward, RMSprop step)
    on one batch of ``dataset``, after ``warmup`` untimed ones (the benchmark's timer,
    :func:`~arnn_lite.experiments.bench.timed_rounds`). A copy of ``net`` is trained, so
    ``net`` itself is left as it was."""
    with torch.random.fork_rng(devices=[]):  # timing leaves the training's random stream alone
        net = copy.deepcopy(net).to(device).train()
        opt = torch.optim.RMSprop(net.parameters(), lr=config.lr)
        batch = next(iter(make_loader(dataset, config, 0, shuffle=False)))

        def step():
            loss = loss_fn(net, batch, device)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return bench.timed_rounds({"step": step}, device, steps, warmup)["step"]


def run(front="arnn", protocol="book", block_size=2, seed=0, device=None, out_dir=None,
        resume=False, overrides=None, progress=True, command=None, timing_steps=3, overwrite=False,
        allow_dirty=False,
        generator_version=GENERATOR_VERSION, budget_minutes=None):
    """Train and test one variant; write ``data/results/mbg_scale/<protocol>/front_<front>.json``
    (``front_<front>_seed<N>.json`` for seed N > 0). ``budget_minutes``: the ``budget``
    protocol's training time (default 10). Raises :class:`~.common.Refused` before
    any data is built for a canvas the five stacks cannot take, or another configuration's
    results in the way (unless ``overwrite``)."""
    if front not in FRONTS:
        raise ValueError(f"front: expected one of {FRONTS}, got {front!r}")
    check_positive(block_size, "block_size")
    check_positive(timing_steps, "timing_steps")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    spec, config, label = resolve_protocol(PROTOCOLS, protocol, overrides, seed)
    config = with_budget(config, protocol, budget_minutes)
    check_at_least(spec["canvas"], smallest_canvas(5), "canvas", "five conv+pool stacks must leave a pixel")
    sizes = map_sizes(spec["canvas"])
    out_dir = Path(out_dir) if out_dir else data_dir() / "results" / "mbg_scale" / label
    record = as_json({"model": "arnn", "front": front, "block_size": block_size, **spec,
                      "generator_version": generator_version, "map_sizes": sizes,
                      **dataclasses.asdict(config)})  # the results file's config
    stem = claim_results(out_dir, f"front_{front}", "mbg_scale", record, seed, overwrite, allow_dirty, resume)
    torch.manual_seed(seed)
    sets = {split: mbg_split(MBG(split, spec[split], seed, False, spec["canvas"],
                                 version=generator_version), default_root() / "mbg")
            for split in ("train", "val", "test")}
    net = MBGNet("arnn", front=front, block_size=block_size)
    def time_first(config):  # timed on the run's clock, with its final batch, before training
        step_times = time_steps(net, sets["train"], config, device, steps=timing_steps)

        def finish(test, history):
            side = sizes[0]
            front_steps = {"none": 0, "arnn": sequential_steps(side, side),
                           "brnn": sequential_steps(side, side, block_size)}[front]
            steps_per_epoch = math.ceil(spec["train"] / config.batch_size)
            return {"timing": {"seconds_per_step": statistics.median(step_times), "step_times": step_times,
                               "batch_size": config.batch_size, "front_map": side,
                               "front_sequential_steps": front_steps,
                               "epoch_seconds_per_step": [h["seconds"] / steps_per_epoch for h in history]}}
        return finish

    metrics = fit_and_save(
        net, sets, loss_fn, evaluate, config, spec, record,
        lambda rec: claim_results(out_dir, f"front_{front}", "mbg_scale", rec, seed, overwrite, allow_dirty,
                                  resume),
        out_dir=out_dir, stem=stem, experiment="mbg_scale", protocol=label, seed=seed, device=device,
        command=command, resume=resume, progress=progress, before_fit=time_first)
    return metrics["test"], metrics["timing"]


def main(argv=None):
    p = ExperimentParser("scalability", "Train one scalability-study variant and write its results file.",
                         FRONTS, PROTOCOLS, old_flag="--front")
    p.add_argument("--block-size", type=positive_int, default=2, help="δ of BRNN^δ")
    p.add_argument("--timing-steps", type=positive_int, default=3, help="timed training steps (after one untimed)")
    p.add_sizes(("train", "val", "test", "canvas", "epochs", "batch_size"),
                hints={"canvas": f"at least {smallest_canvas(5)}"})
    add_generator_version(p)
    a = p.parse(argv)
    with p.running(a) as device:
        test, timing = run(a.attention, a.protocol, a.block_size, a.seed, device, a.out_dir, a.resume,
                           a.overrides, command=a.command, timing_steps=a.timing_steps, overwrite=a.overwrite,
                           allow_dirty=a.allow_dirty,
                           generator_version=a.generator_version, budget_minutes=a.budget_minutes)
    print(f"front {a.attention}: test accuracy {test['accuracy']:.4f}, "
          f"{timing['seconds_per_step']:.3f} s per training step")


if __name__ == "__main__":
    main()
