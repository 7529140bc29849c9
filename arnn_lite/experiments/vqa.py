"""VQA: MCB, MCB+ATT and MCB+ARNN: train one model, evaluate, write a results file.

    python -m arnn_lite.experiments.vqa --attention arnn --protocol book [--resume]

Data: the synthetic question set over MBG-style scenes
(:class:`~arnn_lite.datasets.vqa.VQAScenes`), or, with ``--vqa2-root DIR``, VQA v2 from
precomputed features (:class:`~arnn_lite.datasets.vqa.VQAv2Features`; its val split is
halved by image id parity into our validation and test sets).

Protocols: ``paper`` takes MCB's sizes (Fukui et al., 2016: d = 16000, 2 glimpses,
512-channel attention, a 2048-d question vector) on a larger synthetic set: a GPU job.
``book`` shrinks data, model and epochs to fit a 2-core CPU. ``budget`` is full mode's
(chapter 13 on a GPU): the paper protocol trained for ``--budget-minutes`` (default 10;
:func:`~arnn_lite.train.budget_ends`), the batch halved if one step would not fit 12 GiB. Both train with the book's
one loop, :func:`arnn_lite.train.fit` (RMSprop), not MCB's solver settings. Results go
to ``data/results/vqa[2]/<protocol>/<attention>.json`` with accuracy per question type
(``<attention>_seed<N>.json`` for seed N > 0); a run never replaces another configuration's
results (``--overwrite`` does).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Subset

from .. import stats
from .._repo import data_dir
from ..datasets.mnist import default_root
from ..datasets.tensors import CachedSplit
from ..datasets.vqa import VQAScenes, VQAv2Features, vqa2_files
from ..models.metrics import mass_in_box
from ..models.vqa import ATTENTIONS, MCBNet
from ..train import TrainConfig, is_main
from .common import (
    BUDGET_MINUTES,
    ExperimentParser,
    as_json,
    check_at_least,
    claim_results,
    fit_and_save,
    positive_float,
    require_files,
    with_budget,
)

__all__ = ["PROTOCOLS", "KEYS", "scene_split", "build_model", "evaluate", "load_data", "run", "main"]

SCENE = dict(num_digits=(2, 3), scales=(0.7, 0.9), distractors=2, blobs=0)  # lighter clutter than MBG
PROTOCOLS = {
    "paper": dict(train=30000, val=5000, test=5000, canvas=64, scene=SCENE,
                  model=dict(d=16000, d_att=16000, channels=256, hidden=2048, att_channels=512,
                             glimpses=2, arnn_hidden=32, dropout=0.3),
                  config=TrainConfig(epochs=60, batch_size=64, lr=1e-3, patience=10,
                                     decay_start=20, decay_every=10)),
    "book": dict(train=8000, val=1000, test=1000, canvas=48, scene=SCENE,
                 model=dict(d=1024, d_att=256, channels=32, hidden=128, att_channels=32,
                            glimpses=1, arnn_hidden=16, dropout=0.2),
                 config=TrainConfig(epochs=8, batch_size=64, lr=1e-3, patience=4,
                                    decay_start=6, decay_every=2)),
}
PROTOCOLS["budget"] = {
    **PROTOCOLS["paper"], "memory_limit_gib": 12,
    "changes_from_recipe": ["training stops at the time budget (budget_s) rather than after up to 60 epochs",
                            "the batch is halved (and the learning rate with it) when one step would "
                            "not fit 12 GiB"],
    "config": dataclasses.replace(PROTOCOLS["paper"]["config"], budget_s=BUDGET_MINUTES * 60)}
KEYS = ("image", "question", "length", "answer", "qtype", "box")
# Two digits of the smallest scale (28 px × 0.7) side by side (VQAScenes' rule).
MIN_CANVAS = 2 * int(28 * SCENE["scales"][0])


def scene_split(source: VQAScenes, cache_dir=None) -> CachedSplit:
    """A synthetic split generated once into memory (images as uint8), cached in
    ``cache_dir`` (``None``: not cached) under a name that holds every scene setting; it
    carries the source's ``vocab``, ``answers`` and ``qtype_names``."""
    scene = source.scene
    key = (f"vqa-{source.split}-{source.size}-{source.seed}-{source.canvas}-{scene.num_digits}-"
           f"{scene.scales}-{scene.distractors}-{scene.blobs}-{'.'.join(source.qtypes)}.pt").replace(" ", "")
    split = CachedSplit(source, KEYS, Path(cache_dir) / key if cache_dir else None)
    split.vocab, split.answers, split.qtype_names = source.vocab, source.answers, source.qtype_names
    return split


def load_data(spec, seed=0, vqa2_root=None, cache=True):
    """``{"train", "val", "test"}`` datasets, each with ``vocab``, ``answers``, ``qtype_names``."""
    if vqa2_root is None:
        cache_dir = default_root() / "vqa" if cache else None
        return {split: scene_split(VQAScenes(split, spec[split], seed, spec["canvas"], **spec["scene"]),
                                   cache_dir)
                for split in ("train", "val", "test")}
    train = VQAv2Features(vqa2_root, "train")
    held = VQAv2Features(vqa2_root, "val", vocab=train.vocab, answers=train.answers)
    halves = [[k for k, (q, _) in enumerate(held.items) if q["image_id"] % 2 == r] for r in (0, 1)]
    sets = {"train": train, "val": Subset(held, halves[0]), "test": Subset(held, halves[1])}
    for s in ("val", "test"):
        sets[s].vocab, sets[s].answers, sets[s].qtype_names = held.vocab, held.answers, held.qtype_names
    return sets


def check_vqa2(root) -> None:
    """Refuse, naming the folder and the files it lacks, unless ``root`` holds VQA v2."""
    names = [str(path.relative_to(root)) for split in ("train", "val")
             for path in vqa2_files(root, split).values()]
    require_files(root, names, "vqa2_root (--vqa2-root)", "VQA v2",
                  "get the questions and annotations from https://visualqa.org/download.html and "
                  "write one feature tensor (C, H, W) per image as features/<split>2014/<image_id>.pt")


def build_model(attention, dataset, seed=0, **model):
    """The :class:`MCBNet` for ``dataset``'s vocabularies and image channels."""
    image_channels = dataset[0]["image"].shape[0]
    return MCBNet(attention, vocab_size=len(dataset.vocab), num_answers=len(dataset.answers),
                  image_channels=image_channels, seed=seed, **model)


def forward(net, batch, device):
    return net(batch["image"].to(device), batch["question"].to(device), batch["length"])


def loss_fn(net, batch, device):
    logits, _ = forward(net, batch, device)  # (B, A)
    return F.cross_entropy(logits, batch["answer"].to(device), ignore_index=-1)


def evaluate(model, loader, device, qtype_names=("colour", "digit", "count", "position")):
    """Accuracy (total and per question type; VQA accuracy when items carry ``scores``)
    and the attention mass inside the asked-about digit's box (where there is one)."""
    K = len(qtype_names)
    right, count, mass, boxed = torch.zeros(K), torch.zeros(K), 0.0, 0
    saturated, predictions, labels = 0.0, [], []
    for batch in loader:
        logits, mask = forward(model, batch, device)
        pred = logits.argmax(1).cpu()  # (B,)
        predictions += pred.tolist()
        labels += batch["answer"].tolist() if "answer" in batch else [None] * len(pred)
        if mask is not None:
            saturated += stats.saturation(mask) * len(pred)
        if "scores" in batch:
            ok = batch["scores"].gather(1, pred[:, None])[:, 0]  # VQA accuracy min(#/3, 1)
        else:
            ok = (pred == batch["answer"]).float()
        right.index_add_(0, batch["qtype"], ok)
        count.index_add_(0, batch["qtype"], torch.ones_like(ok))
        has = batch["box"][:, 0] >= 0
        if mask is not None and has.any():
            m = mask.mean(1, keepdim=True)[has.to(mask.device)]  # (b, 1, h, w): glimpses averaged
            mass += float(mass_in_box(m, batch["box"][has].to(m.device), batch["image"].shape[-1]).sum())
            boxed += int(has.sum())
    return {"accuracy": float(right.sum() / count.sum()),
            "accuracy_by_type": {n: (float(r / c) if c else None) for n, r, c in zip(qtype_names, right, count)},
            "mask_mass_in_box": mass / boxed if boxed and mask is not None else None,
            "mask_saturation": saturated / len(predictions) if mask is not None else None,
            "predictions": predictions, "labels": labels}


def run(attention="arnn", protocol="book", seed=0, device=None, out_dir=None, resume=False,
        overrides=None, progress=True, command=None, vqa2_root=None, overwrite=False, allow_dirty=False,
        budget_minutes=None):
    """Train and test one model; write ``data/results/vqa[2]/<protocol>/<attention>.json``.
    Raises :class:`~.common.Refused` before any data is built for a canvas or channel count
    the model cannot take, a folder without VQA v2, or another configuration's results in
    the way (unless ``overwrite``). ``budget_minutes``: the ``budget`` protocol's training
    time (default 10)."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    spec = dict(PROTOCOLS[protocol])
    spec["model"] = dict(spec["model"])
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    label = protocol if not overrides else "custom"
    config = dataclasses.replace(spec.pop("config"), seed=seed, **{
        k: overrides.pop(k) for k in list(overrides) if k in ("epochs", "batch_size", "lr")})
    config = with_budget(config, protocol, budget_minutes)
    spec["model"].update({k: overrides.pop(k) for k in list(overrides) if k in spec["model"]})
    spec.update(overrides)
    name = "vqa2" if vqa2_root else "vqa"
    out_dir = Path(out_dir) if out_dir else data_dir() / "results" / name / label
    if vqa2_root is None:
        check_at_least(spec["canvas"], MIN_CANVAS, "canvas", "two of the smallest digits side by side")
        check_at_least(spec["model"]["channels"], 2, "channels", "the image encoder's first block has channels // 2")
    record = as_json({"attention": attention, "data": "vqa2" if vqa2_root else "synthetic scenes",
                      **spec, **dataclasses.asdict(config)})  # the results file's config
    stem = claim_results(out_dir, attention, name, record, seed, overwrite, allow_dirty, resume)
    if vqa2_root is not None:
        check_vqa2(Path(vqa2_root))
    torch.manual_seed(seed)
    sets = load_data(spec, seed, vqa2_root)
    net = build_model(attention, sets["train"], seed, **spec["model"])
    score = functools.partial(evaluate, qtype_names=sets["train"].qtype_names)
    metrics = fit_and_save(
        net, sets, loss_fn, score, config, spec, record,
        lambda rec: claim_results(out_dir, attention, name, rec, seed, overwrite, allow_dirty, resume),
        out_dir=out_dir, stem=stem, experiment=name, protocol=label, seed=seed, device=device,
        command=command, resume=resume, progress=progress)
    return metrics["test"], metrics["history"]


def main(argv=None):
    p = ExperimentParser("vqa", "Train one VQA model (MCB, MCB+ATT, MCB+ARNN) and write its results file.",
                         ATTENTIONS, PROTOCOLS)
    p.add_argument("--vqa2-root", help="folder with VQA v2 JSON files and features/ (else: synthetic scenes)")
    p.add_sizes(("train", "val", "test", "canvas", "epochs", "batch_size", "d", "d_att", "channels",
                 "hidden"))
    p.add_sizes(["lr"], positive_float)
    a = p.parse(argv)
    with p.running(a, distributed=True) as device:
        test, _ = run(a.attention, a.protocol, a.seed, device, a.out_dir, a.resume, a.overrides,
                      command=a.command, vqa2_root=a.vqa2_root, overwrite=a.overwrite,
                      allow_dirty=a.allow_dirty, budget_minutes=a.budget_minutes)
        if is_main():
            by_type = ", ".join(f"{k} {v:.3f}" for k, v in test["accuracy_by_type"].items() if v is not None)
            print(f"{a.attention}: test accuracy {test['accuracy']:.4f} ({by_type})")


if __name__ == "__main__":
    main()
