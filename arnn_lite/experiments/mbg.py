"""MBG / MBG^inv attribute prediction: train one model, evaluate, write a results file.

    python -m arnn_lite.experiments.mbg --attention arnn --protocol book [--inverse] [--resume]
    python -m arnn_lite.experiments.mbg --attention arnn --protocol budget --budget-minutes 10

Protocols: ``paper`` is PAN's recipe (30k / 10k / 10k, up to 300 epochs, batch 200,
RMSprop 0.003, clip 5, patience 50, lr / 1.5 every 10 epochs after 30): a GPU job.
``book`` keeps the recipe but shrinks data and epochs to fit a 2-core CPU; its sizes
are in :data:`PROTOCOLS` and every results file records them. ``cpu`` is the reproduction
campaign's (:mod:`arnn_lite.experiments.campaign`): 10k / 1k / 5k images and
:data:`CPU_EPOCHS` epochs at the book's recipe, a few CPU hours per run. ``--train-size`` etc.
override either (the results file then says ``protocol: custom``). ``budget`` is full
mode's (chapters 09-11 on a GPU): PAN's recipe (batch 200, lr 0.003, up to 300 epochs) on
10k / 2k / 5k images, trained for ``--budget-minutes`` (default 10) by
:func:`~arnn_lite.train.budget_ends`'s rule, the batch halved if one step would not fit
12 GiB (:func:`~arnn_lite.train.fit_batch_to_memory`); its results file records the budget,
what the run did with it and, in its provenance, the GPU. A run never replaces
the results of another configuration (see :func:`~arnn_lite.experiments.common.claim_results`;
``--overwrite`` does); seeds other than 0 write ``<model>_seed<N>.json``. ``--attention``
was spelled ``--model`` before (still accepted; results files record it as ``config.model``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import stats
from .._checks import check_choice
from .._repo import data_dir
from ..datasets.mbg import GENERATOR_VERSION, MBG, SCALE_BINS, VARIANTS, scale_bin
from ..datasets.mnist import default_root
from ..datasets.tensors import CachedSplit
from ..models.mbg import ATTENTIONS, MBGNet
from ..models.metrics import mass_in_box
from ..train import TrainConfig, is_main
from .common import (
    BUDGET_MINUTES,
    ExperimentParser,
    add_generator_version,
    as_json,
    check_at_least,
    claim_results,
    fit_and_save,
    positive_float,
    resolve_protocol,
    smallest_canvas,
    with_budget,
)

__all__ = ["PROTOCOLS", "CPU_EPOCHS", "VARIANTS", "KEYS", "mbg_split", "evaluate", "run", "main"]

# How the book protocol departs from PAN's recipe (TrainConfig's defaults), and why; every
# results file of the protocol records this list.
BOOK_CHANGES = (
    "2,000 / 500 / 1,000 images instead of 30,000 / 10,000 / 10,000 (CPU time)",
    "8 epochs and early-stopping patience 4 instead of up to 300 and 50 (CPU time)",
    "batch 50 instead of 200 (more optimiser steps in the same CPU time), so the learning rate "
    "is scaled with the batch: 3e-3 * 50 / 200",
    "PAN's decay schedule is kept (lr / 1.5 every 10 epochs after epoch 30): it never starts "
    "within 8 epochs",
)
# How the budget protocol departs from PAN's recipe.
BUDGET_CHANGES = (
    "10,000 / 2,000 / 5,000 images instead of 30,000 / 10,000 / 10,000 (generated in minutes "
    "on Colab's CPU)",
    "training stops at the time budget (budget_s) rather than after up to 300 epochs",
    "the batch is halved (and the learning rate with it) when one step would not fit 12 GiB",
)
# The CPU campaign's protocol (chapters 09-10 and the findings page), fixed from CTX and NONE
# probes only, before any ARNN run on the variant it is run on (``--variant narrow``): CTX's
# probe at this recipe (data/results/probes/narrow_book_lr_long) was still below the
# learned-attention bar after 20 epochs; extended with --resume to 40, it crossed it and
# stayed above (the findings page prints the epoch). How it departs from PAN's recipe:
CPU_EPOCHS = 40
CPU_CHANGES = (
    "10,000 / 1,000 / 5,000 images instead of 30,000 / 10,000 / 10,000 (CPU time; 5,000 test "
    "items give a paired standard error of about one point)",
    f"{CPU_EPOCHS} epochs and no early stopping instead of up to 300 epochs with patience 50 "
    "(CPU time; the best validation epoch is tested)",
    "batch 50 instead of 200, the learning rate scaled with it: 3e-3 * 50 / 200 (the book "
    "protocol's recipe)",
    "PAN's decay schedule is kept: lr / 1.5 every 10 epochs after epoch 30",
)
PROTOCOLS = {
    "paper": dict(train=30000, val=10000, test=10000, canvas=100,
                  config=TrainConfig()),
    "budget": dict(train=10000, val=2000, test=5000, canvas=100, changes_from_recipe=BUDGET_CHANGES,
                   memory_limit_gib=12, config=TrainConfig(budget_s=BUDGET_MINUTES * 60)),
    "book": dict(train=2000, val=500, test=1000, canvas=100, changes_from_recipe=BOOK_CHANGES,
                 config=TrainConfig(epochs=8, batch_size=50, lr=3e-3 * 50 / 200, patience=4)),
    "cpu": dict(train=10000, val=1000, test=5000, canvas=100, changes_from_recipe=CPU_CHANGES,
                config=TrainConfig(epochs=CPU_EPOCHS, batch_size=50, lr=3e-3 * 50 / 200, patience=None)),
}
OVERRIDES = ("train", "val", "test", "canvas", "epochs", "batch_size", "patience")  # integer CLI options
# The largest digit (28 px at scale 3.0) must fit the canvas; MBGNet alone needs 46 (four stacks).
MIN_CANVAS = max(int(28 * 3.0), smallest_canvas(4))


KEYS = ("image", "query", "label", "scale", "box")  # what a cached split keeps of each item


def mbg_split(source: MBG, cache_dir=None) -> CachedSplit:
    """An MBG split generated once into memory (images as uint8), cached in ``cache_dir``
    (``None``: not cached) under a name that holds every generator parameter, the
    generator's version included: a changed generator never reuses a stale cached split."""
    key = (f"{source.split}-{source.size}-{source.seed}-{int(source.inverse)}-{source.canvas}"
           f"-v{source.version}-n{source.num_digits[0]}_{source.num_digits[1]}"
           f"-s{source.scales[0]}_{source.scales[1]}-x{source.distractors}-b{source.blobs}.pt")
    return CachedSplit(source, KEYS, Path(cache_dir) / key if cache_dir else None)


def loss_fn(net, batch, device):
    logits, _ = net(batch["image"].to(device), batch["query"].to(device))
    return F.cross_entropy(logits, batch["label"].to(device))


def evaluate(model, loader, device):
    """Accuracy (total and per scale bin), per stage the mask's mass inside the target box and
    its saturation (share of values within 1e-3 of 0 or 1, :func:`arnn_lite.stats.saturation`),
    and each item's prediction and label (the test set's are kept for paired comparisons)."""
    right, count = torch.zeros(len(SCALE_BINS)), torch.zeros(len(SCALE_BINS))
    mass, saturated, predictions, labels = None, None, [], []
    for batch in loader:
        image = batch["image"].to(device)
        logits, masks = model(image, batch["query"].to(device))
        pred = logits.argmax(1).cpu()
        predictions += pred.tolist()
        labels += batch["label"].tolist()
        ok = (pred == batch["label"]).float()
        bins = torch.tensor([scale_bin(float(s)) for s in batch["scale"]])
        right.index_add_(0, bins, ok)
        count.index_add_(0, bins, torch.ones_like(ok))
        layer = [float(mass_in_box(m, batch["box"].to(device), image.shape[-1]).sum())
                 if m is not None else None for m in masks]
        mass = layer if mass is None else [a + b if a is not None else None for a, b in zip(mass, layer)]
        sat = [None if m is None else stats.saturation(m) * len(image) for m in masks]
        saturated = sat if saturated is None else [None if a is None else a + b
                                                   for a, b in zip(saturated, sat)]
    n = float(count.sum())
    return {"accuracy": float(right.sum()) / n,
            "accuracy_by_scale": {f"{lo}-{hi}": (float(r / c) if c else None)
                                  for (lo, hi), r, c in zip(SCALE_BINS, right, count)},
            "mask_mass_in_box": [m / n if m is not None else None for m in mass],
            "mask_saturation": [m / n if m is not None else None for m in saturated],
            "predictions": predictions, "labels": labels}


def run(model="arnn", protocol="book", inverse=False, seed=0, device=None, out_dir=None,
        resume=False, overrides=None, progress=True, command=None, overwrite=False,
        allow_dirty=False,
        generator_version=GENERATOR_VERSION, budget_minutes=None, variant="paper"):
    """Train and test one model; write ``data/results/mbg[_inv]/<protocol>/<model>.json``
    (``<model>_seed<N>.json`` for seed N > 0; ``mbg[_inv]_<variant>/`` for a variant other than
    ``paper``, see :data:`VARIANTS`). ``budget_minutes``: the ``budget`` protocol's
    training time (default :data:`BUDGET_MINUTES`). Raises :class:`~.common.Refused` before any
    data is built if the canvas is too small or another configuration's results are there
    (unless ``overwrite``)."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    spec, config, label = resolve_protocol(PROTOCOLS, protocol, overrides, seed)
    config = with_budget(config, protocol, budget_minutes)
    check_at_least(spec["canvas"], MIN_CANVAS, "canvas", "the largest digit, 28 px at scale 3.0, must fit; "
                   f"MBGNet alone needs {smallest_canvas(4)}")
    check_choice(variant, tuple(VARIANTS), "variant")
    name = "mbg_inv" if inverse else "mbg"
    folder = name if variant == "paper" else f"{name}_{variant}"
    out_dir = Path(out_dir) if out_dir else data_dir() / "results" / folder / label
    record = as_json({"model": model, **spec, "generator_version": generator_version,
                      "variant": variant, **VARIANTS[variant],
                      **dataclasses.asdict(config)})  # the results file's config
    stem = claim_results(out_dir, model, name, record, seed, overwrite, allow_dirty, resume)
    cache = default_root() / "mbg"  # generated splits, reused across runs
    torch.manual_seed(seed)
    sets = {split: mbg_split(MBG(split, spec[split], seed, inverse, spec["canvas"],
                                 version=generator_version, **VARIANTS[variant]), cache)
            for split in ("train", "val", "test")}
    net = MBGNet(model, num_classes=10 if inverse else 5, query_dim=5 if inverse else 10)
    metrics = fit_and_save(
        net, sets, loss_fn, evaluate, config, spec, record,
        lambda rec: claim_results(out_dir, model, name, rec, seed, overwrite, allow_dirty, resume),
        out_dir=out_dir, stem=stem, experiment=name, protocol=label, seed=seed, device=device,
        command=command, resume=resume, progress=progress)
    return metrics["test"], metrics["history"]


def main(argv=None):
    p = ExperimentParser("mbg", "Train one MBG model and write its results file.", ATTENTIONS, PROTOCOLS,
                         old_flag="--model")
    p.add_argument("--inverse", action="store_true", help="MBG^inv: query a colour, predict the digit")
    p.add_sizes(OVERRIDES, hints={"canvas": f"at least {MIN_CANVAS}"})
    p.add_sizes(["lr"], positive_float, {"lr": "learning rate (default: the protocol's)"})
    p.add_argument("--variant", choices=tuple(VARIANTS), default="paper",
                   help="generator settings (small: ours, a CPU-scale MBG; see VARIANTS)")
    add_generator_version(p)
    a = p.parse(argv)
    with p.running(a, distributed=True) as device:
        test, _ = run(a.attention, a.protocol, a.inverse, a.seed, device, a.out_dir, a.resume, a.overrides,
                      command=a.command, overwrite=a.overwrite, allow_dirty=a.allow_dirty,
                      generator_version=a.generator_version, budget_minutes=a.budget_minutes,
                      variant=a.variant)
        if is_main():
            print(f"{a.attention}: test accuracy {test['accuracy']:.4f}")


if __name__ == "__main__":
    main()
