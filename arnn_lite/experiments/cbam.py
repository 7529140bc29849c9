"""CBAM vs CBAM+ARNN image classification: train one model, test it, write a results file.

    python -m arnn_lite.experiments.cbam --attention arnn --protocol book|paper [--dataset mnist|cifar100] [--resume]

``--attention`` (the spatial gate; spelled ``--spatial`` before, still accepted, and recorded
as ``config.spatial``): ``none`` (channel gate only), ``cbam`` (CBAM's spatial gate) or
``arnn`` (CBAM+ARNN). Protocols (chapter 12):

* ``paper``: CIFAR-100 (45,000 train / 5,000 validation / 10,000 test), a CIFAR ResNet-56
  with CBAM in every block (the main paper's depth is not in our sources), standard
  augmentation, SGD with momentum 0.9 and weight decay 1e-4 (CBAM's optimiser) on the
  CIFAR schedule of He et al.: batch 128, lr 0.1 divided by 10 at epochs 91 and 137
  (32k and 48k iterations), 182 epochs (64k iterations). A GPU job.
* ``book``: cluttered coloured MNIST (offline), ResNet-8 of width 16, a few epochs with
  RMSprop: sized for a 2-core CPU.
* ``budget``: full mode's (chapter 12 on a GPU): the paper protocol trained for
  ``--budget-minutes`` (default 10; :func:`~arnn_lite.train.budget_ends`), the batch halved
  if one step would not fit 12 GiB. Within minutes the schedule's learning-rate drops
  (epochs 91 and 137) are not reached, so its numbers are early-training numbers.

The optimiser is set through :class:`~arnn_lite.train.TrainConfig` (``optimizer``,
``momentum``, ``weight_decay``); results files record it under ``optimizer_used``. A run
never replaces another configuration's results (``--overwrite`` does); seeds other than 0
write ``<spatial>_seed<N>.json``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F

from .. import stats
from .._repo import data_dir
from ..datasets.cifar import FILES, FOLDER, ImageTensors, load_cifar100, split_train_val
from ..datasets.cluttered import cluttered_mnist
from ..datasets.mnist import default_root
from ..models.cbam import SPATIAL, cbam_resnet
from ..models.metrics import mass_in_box
from ..train import TrainConfig, is_main
from .common import (
    BUDGET_MINUTES,
    ExperimentParser,
    Refused,
    as_json,
    claim_results,
    fit_and_save,
    positive_int,
    require_files,
    with_budget,
)

__all__ = ["PROTOCOLS", "DATASETS", "optimizer_config", "build_data", "evaluate", "run", "main"]

DATASETS = ("mnist", "cifar100")
SGD = {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}
PROTOCOLS = {
    "paper": dict(dataset="cifar100", depth=56, width=16, train=45000, val=5000, test=10000,
                  augment=True, optimizer=SGD,
                  config=TrainConfig(epochs=182, batch_size=128, lr=0.1, grad_clip=None, patience=None,
                                     decay_start=91, decay_every=46, decay_factor=10.0)),
    "book": dict(dataset="mnist", depth=8, width=16, train=5000, val=1000, test=2000,
                 augment=False, optimizer={"name": "rmsprop", "lr": 1e-3},
                 config=TrainConfig(epochs=5, batch_size=64, lr=1e-3, grad_clip=None, patience=None,
                                    decay_start=4, decay_every=1, decay_factor=10.0)),
}
PROTOCOLS["budget"] = {
    **PROTOCOLS["paper"], "memory_limit_gib": 12,
    "changes_from_recipe": ["training stops at the time budget (budget_s) rather than after 182 epochs, "
                            "so the learning-rate drops at epochs 91 and 137 are usually not reached",
                            "the batch is halved (and the learning rate with it) when one step would "
                            "not fit 12 GiB"],
    "config": dataclasses.replace(PROTOCOLS["paper"]["config"], budget_s=BUDGET_MINUTES * 60)}
SIZES = ("train", "val", "test", "depth", "width", "epochs", "batch_size")


def optimizer_config(config: TrainConfig, wanted: dict) -> TrainConfig:
    """``config`` with the optimiser ``wanted`` (``{"name", "lr", ...}``) filled in."""
    return dataclasses.replace(config, optimizer=wanted["name"], lr=wanted["lr"],
                               momentum=wanted.get("momentum", 0.0),
                               weight_decay=wanted.get("weight_decay", 0.0))


def build_data(dataset, sizes, seed=0, augment=False, data_root=None, download=None, verify=True):
    """The train, val and test splits (``ImageTensors``) and the number of classes."""
    if dataset == "mnist":
        sets = {s: cluttered_mnist(s, sizes[s], seed, augment=augment and s == "train")
                for s in ("train", "val", "test")}
        return sets, 10
    images, labels, classes = load_cifar100("train", data_root, download, verify)
    train_idx, val_idx = split_train_val(len(labels), sizes["val"], seed)
    train_idx = train_idx[:sizes["train"]]
    test_images, test_labels, _ = load_cifar100("test", data_root, download, verify)
    return {"train": ImageTensors(images[train_idx], labels[train_idx], augment=augment),
            "val": ImageTensors(images[val_idx], labels[val_idx]),
            "test": ImageTensors(test_images[:sizes["test"]], test_labels[:sizes["test"]])}, len(classes)


def check_cifar(data_root=None, download=None) -> None:
    """Refuse, naming the folder and what to put there, when CIFAR-100 is missing and
    will not be downloaded (``download=None``: only on Colab, as :func:`load_cifar100`)."""
    if download is None:
        from .._repo import on_colab
        download = on_colab()
    if not download:
        root = Path(data_root) if data_root is not None else default_root()
        require_files(root / FOLDER, FILES, "data_root (--data-root)", "CIFAR-100",
                      f"extract the python release (cifar-100-python.tar.gz, "
                      f"https://www.cs.toronto.edu/~kriz/cifar.html) into {root}, or pass --download")


def loss_fn(net, batch, device):
    logits, _ = net(batch["image"].to(device))
    return F.cross_entropy(logits, batch["label"].to(device))


def evaluate(model, loader, device):
    """Top-1 and top-5 accuracy; per block, the mean spatial mask value and (when the
    data carry target boxes) the share of mask mass inside the box, and its saturation; each
    item's prediction and label (kept for the test set: paired comparisons)."""
    n, top1, top5, means, inside, saturated, predictions, labels = 0, 0.0, 0.0, None, None, None, [], []
    for batch in loader:
        image, label = batch["image"].to(device), batch["label"].to(device)
        logits, masks = model(image)
        best = logits.topk(min(5, logits.shape[1]), dim=1).indices  # (B, 5)
        predictions += best[:, 0].tolist()
        labels += label.tolist()
        sat = [None if k is None else stats.saturation(k) * len(label) for k in masks]
        saturated = sat if saturated is None else [None if a is None else a + b
                                                   for a, b in zip(saturated, sat)]
        top1 += float((best[:, 0] == label).sum())
        top5 += float((best == label[:, None]).any(1).sum())
        m = [None if k is None else float(k.mean((1, 2, 3)).sum()) for k in masks]
        means = m if means is None else [None if a is None else a + b for a, b in zip(means, m)]
        if "box" in batch:
            b = [None if k is None else float(mass_in_box(k, batch["box"].to(device), image.shape[-1]).sum())
                 for k in masks]
            inside = b if inside is None else [None if a is None else a + c for a, c in zip(inside, b)]
        n += len(label)

    def scale(v):
        return None if v is None else v / n
    return {"accuracy": top1 / n, "top5": top5 / n, "mask_mean": [scale(v) for v in means],
            "mask_mass_in_box": None if inside is None else [scale(v) for v in inside],
            "mask_saturation": [scale(v) for v in saturated],
            "predictions": predictions, "labels": labels}


def run(spatial="arnn", protocol="book", dataset=None, seed=0, device=None, out_dir=None,
        resume=False, overrides=None, progress=True, command=None, data_root=None,
        download=None, verify=True, context_size=3, overwrite=False, allow_dirty=False,
        budget_minutes=None):
    """Train and test one model; write ``data/results/cbam/<protocol>/<spatial>.json``
    and the best weights ``<spatial>.pt`` next to it (``<spatial>_seed<N>`` for seed N > 0).
    Returns ``(test metrics, history)``. Raises :class:`~.common.Refused` before any data is
    built for a depth or context the ResNet cannot take, missing CIFAR-100 files, or another
    configuration's results in the way (unless ``overwrite``). ``budget_minutes``: the
    ``budget`` protocol's training time (default 10)."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    spec = dict(PROTOCOLS[protocol])
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if dataset not in (None, spec["dataset"]):
        overrides["dataset"] = dataset
    if context_size != 3:
        overrides["context_size"] = context_size
    config = optimizer_config(spec.pop("config"), spec["optimizer"])
    config = dataclasses.replace(config, seed=seed, **{k: overrides.pop(k) for k in list(overrides)
                                                       if k in ("epochs", "batch_size")})
    config = with_budget(config, protocol, budget_minutes)
    label = protocol if not overrides else "custom"
    spec.update(overrides)
    out_dir = Path(out_dir) if out_dir else data_dir() / "results" / "cbam" / label
    if spec["depth"] < 8 or (spec["depth"] - 2) % 6:
        raise Refused(f"depth (--depth): expected 6n + 2 with n >= 1 (8, 14, 20, ...), got {spec['depth']}")
    if context_size < 1 or context_size % 2 == 0:
        raise Refused(f"context_size (--context-size): expected a positive odd integer, got {context_size}")
    context, used = spec.pop("context_size", 3), spec.pop("optimizer")
    record = as_json({"spatial": spatial, "context_size": context, **spec, "optimizer_used": used,
                      **dataclasses.asdict(config)})  # the results file's config
    stem = claim_results(out_dir, spatial, "cbam", record, seed, overwrite, allow_dirty, resume)
    if spec["dataset"] == "cifar100":
        check_cifar(data_root, download)
    torch.manual_seed(seed)
    sets, classes = build_data(spec["dataset"], spec, seed, spec["augment"], data_root, download, verify)
    net = cbam_resnet(spec["depth"], classes, spatial, context, spec["width"])
    def count_parameters(config):
        def finish(test, history):
            test["parameters"] = sum(p.numel() for p in net.parameters())
            return {}
        return finish

    metrics = fit_and_save(
        net, sets, loss_fn, evaluate, config, spec, record,
        lambda rec: claim_results(out_dir, spatial, "cbam", rec, seed, overwrite, allow_dirty, resume),
        out_dir=out_dir, stem=stem, experiment="cbam", protocol=label, seed=seed, device=device,
        command=command, resume=resume, progress=progress, before_fit=count_parameters)
    return metrics["test"], metrics["history"]


def main(argv=None):
    p = ExperimentParser("cbam", "Train one CBAM / CBAM+ARNN ResNet and write its results file.",
                         SPATIAL, PROTOCOLS, old_flag="--spatial")
    p.add_argument("--dataset", choices=DATASETS, help="default: the protocol's (book: mnist, paper: cifar100)")
    p.add_argument("--context-size", type=positive_int, default=3,
                   help="spatial gate's k×k context, odd (CBAM's code: 7)")
    p.add_argument("--data-root", help="parent folder of cifar-100-python")
    p.add_argument("--download", action="store_true", help="download CIFAR-100 if missing")
    p.add_argument("--no-verify", action="store_true", help="skip torchvision's MD5 check (test files)")
    p.add_sizes(SIZES, hints={"depth": "6n + 2 (8, 14, 20, ...)"})
    a = p.parse(argv)
    with p.running(a, distributed=True) as device:
        test, _ = run(a.attention, a.protocol, a.dataset, a.seed, device, a.out_dir, a.resume, a.overrides,
                      command=a.command, data_root=a.data_root, download=True if a.download else None,
                      verify=not a.no_verify, context_size=a.context_size, overwrite=a.overwrite,
                      allow_dirty=a.allow_dirty, budget_minutes=a.budget_minutes)
        if is_main():
            print(f"{a.attention}: test accuracy {test['accuracy']:.4f}, top-5 {test['top5']:.4f}")


if __name__ == "__main__":
    main()
