"""ModularGAN vs ModularGAN+ARNN hair-colour transfer: train, measure, write results.

    python -m arnn_lite.experiments.mgan --attention mgan|arnn --protocol book|paper|budget \
        [--dataset synthetic|celeba] [--data-root DIR] [--resume] [--budget-minutes 10]

Chapter 14 (``chapters/14_mgan_hair_colour.ipynb``) walks through it. The recipe is
StarGAN's, which ModularGAN follows: WGAN-GP critic with an attribute head, Adam (lr 1e-4,
betas 0.5 / 0.999), 5 critic steps per generator step, lambda_gp 10, lambda_cls 1, target
labels drawn by shuffling the batch's labels. The generator adds ModularGAN's two L1 terms:
reconstruction ``R(E(x)) ≈ x`` (lambda_rec 10) and the feature cycle ``E(R(T(E(x), c))) ≈
T(E(x), c)`` (lambda_cyc 10). ``paper`` is that recipe on CelebA 128×128 with ModularGAN's
layer sizes (20 epochs, lr decaying linearly to 0 over the last 10): a GPU job. ``book``
keeps the losses, loss weights, Adam betas and n_critic but shrinks images, networks and
epochs to fit a 2-core CPU, drops instance norm and raises the learning rate to 1e-3 (its
``changes_from_recipe`` says why; sizes in :data:`PROTOCOLS`, recorded in every results
file). ``budget`` is full mode's (chapter 14 on a GPU, with CelebA): the paper protocol, the
judge and each generator trained for ``--budget-minutes`` (default 10) by
:func:`~arnn_lite.train.budget_ends`'s rule, the GAN's batch halved if one step would not
fit 12 GiB. A separately trained hair-colour classifier (``--classifier``, trained first if
missing) judges the translations; see :mod:`arnn_lite.experiments.mgan_eval`.

A run never replaces the results (or the judge) of another configuration; ``--overwrite``
does. Seeds other than 0 write ``<attention>_seed<N>.json`` and train their own judge,
``classifier_seed<N>.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from .._repo import data_dir
from ..datasets.faces import CELEBA_FILES, SyntheticFaces, celeba_hair, materialize
from ..datasets.tensors import TensorDict
from ..models.mgan import ATTENTIONS, Discriminator, ModularGenerator, gradient_penalty
from ..train import (
    TrainConfig,
    _estimator,
    _left,
    budget_ends,
    budget_summary,
    halve_to_fit,
    load_checkpoint,
    make_loader,
    measure_peak_bytes,
    recorded_sha256,
    save_checkpoint,
    sha256,
)
from . import results
from .common import (
    BUDGET_MINUTES,
    ExperimentParser,
    Refused,
    as_json,
    claim_results,
    config_diff,
    require_files,
    results_conflict,
    results_stem,
    with_budget,
)
from .mgan_eval import classifier_config, evaluate_translations, load_classifier, train_classifier, translation_pairs

__all__ = ["GANConfig", "PROTOCOLS", "critic_loss", "generator_loss",
           "train_gan", "run", "main"]



@dataclasses.dataclass
class GANConfig:
    """Optimisation of the GAN (defaults: the StarGAN / ModularGAN recipe)."""

    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-4
    betas: tuple = (0.5, 0.999)
    n_critic: int = 5  # critic steps per generator step
    lambda_gp: float = 10.0
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_cyc: float = 10.0
    decay_start: int | None = 10  # lr falls linearly to 0 from this epoch to the last
    num_workers: int = 0
    seed: int = 0
    budget_s: float | None = None  # seconds of training; the rule of arnn_lite.train.budget_ends

    def lr_at(self, epoch: int) -> float:
        if self.decay_start is None or epoch < self.decay_start:
            return self.lr
        return self.lr * (self.epochs - epoch) / (self.epochs - self.decay_start + 1)


PROTOCOLS = {
    "paper": dict(dataset="celeba", image_size=128, train=None, val=100, test=500,  # pairs held in memory
                  generator=dict(conv_dim=64, downsample=2, repeat=6, hidden=16),
                  critic=dict(conv_dim=64, repeat=6), gan=GANConfig(num_workers=4),
                  classifier=TrainConfig(epochs=5, batch_size=64, lr=1e-3, patience=None, decay_start=3,
                                         num_workers=4)),
    "book": dict(dataset="synthetic", image_size=32, train=2000, val=50, test=300,
                 generator=dict(conv_dim=8, downsample=1, repeat=1, hidden=8, norm="none"),
                 critic=dict(conv_dim=16, repeat=3), gan=GANConfig(epochs=20, lr=1e-3, decay_start=None),
                 classifier=TrainConfig(epochs=5, batch_size=50, lr=1e-3, patience=None, decay_start=100),
                 changes_from_recipe="32x32 synthetic faces, tiny networks without instance norm, "
                                     "lr 1e-3 instead of 1e-4, 20 epochs of 2000 images: at lr 1e-4 "
                                     "(and with instance norm) the generator had not started to "
                                     "change hair colour within the CPU budget in our trial runs"),
}
PROTOCOLS["budget"] = {
    **PROTOCOLS["paper"], "memory_limit_gib": 12,
    "gan": dataclasses.replace(PROTOCOLS["paper"]["gan"], budget_s=BUDGET_MINUTES * 60),
    "classifier": dataclasses.replace(PROTOCOLS["paper"]["classifier"], budget_s=BUDGET_MINUTES * 60),
    "changes_from_recipe": "the judge and each generator train for the time budget (budget_s) rather "
                           "than 5 and 20 epochs, so the learning-rate decay (epochs 10-20) is usually not "
                           "reached; the GAN's batch is halved when one step would not fit 12 GiB"}


def critic_loss(G, D, x, label, target, alpha, cfg: GANConfig) -> dict:
    """``-D(x) + D(G(x, c)) + λ_cls CE(D_cls(x), label) + λ_gp GP`` (images in [-1, 1])."""
    with torch.no_grad():
        fake = G(x, F.one_hot(target, 3).float())[0]
    src_real, cls_real = D(x)
    src_fake, _ = D(fake)
    terms = {"d_adv": src_fake.mean() - src_real.mean(), "d_cls": F.cross_entropy(cls_real, label),
             "gp": gradient_penalty(lambda z: D(z)[0], x, fake, alpha)}
    terms["d_loss"] = terms["d_adv"] + cfg.lambda_cls * terms["d_cls"] + cfg.lambda_gp * terms["gp"]
    return terms


def generator_loss(G, D, x, target, cfg: GANConfig) -> dict:
    """``-D(G(x, c)) + λ_cls CE(D_cls(G(x, c)), c) + λ_rec L1(R(E(x)), x) + λ_cyc L1(E(G(x, c)), T(E(x), c))``."""
    fake, _, features = G(x, F.one_hot(target, 3).float())
    src, cls = D(fake)
    terms = {"g_adv": -src.mean(), "g_cls": F.cross_entropy(cls, target),
             "rec": (G.reconstruct(x) - x).abs().mean(),
             "cyc": (G.encoder(fake) - features).abs().mean()}
    terms["g_loss"] = (terms["g_adv"] + cfg.lambda_cls * terms["g_cls"]
                       + cfg.lambda_rec * terms["rec"] + cfg.lambda_cyc * terms["cyc"])
    return terms


def _epoch(G, D, opt_g, opt_d, loader, cfg, gen, step, device, progress, desc, left=None):
    """One pass over the data: a critic step per batch, a generator step every
    ``n_critic``. Returns the mean of each loss term and the updated step count.
    ``left``: ``() -> seconds`` of budget left; the pass ends after the step that spends it
    (the returned terms then hold ``budget_cut``)."""
    from ..progress import bar
    sums, counts, cut = {}, {}, {}
    shown = bar(loader, desc=desc, unit="batches", disable=not progress)
    for k, batch in enumerate(shown):
        x, label = batch["image"].to(device) * 2 - 1, batch["label"].to(device)  # [-1, 1]
        target = label[torch.randperm(len(label), generator=gen).to(device)]  # StarGAN's targets
        alpha = torch.rand(len(label), 1, 1, 1, generator=gen).to(device)
        terms = critic_loss(G, D, x, label, target, alpha, cfg)
        opt_d.zero_grad(set_to_none=True)
        terms["d_loss"].backward()
        opt_d.step()
        step += 1
        if step % cfg.n_critic == 0:
            g_terms = generator_loss(G, D, x, target, cfg)
            opt_g.zero_grad(set_to_none=True)
            g_terms["g_loss"].backward()
            opt_g.step()
            terms.update(g_terms)
        for key, v in terms.items():
            sums[key], counts[key] = sums.get(key, 0.0) + v.item(), counts.get(key, 0) + 1
        if left is not None:
            seconds = left()
            if hasattr(shown, "set_description"):  # a live bar
                shown.set_description(f"{desc.split(',')[0]}, {_left(seconds)} left", refresh=False)
            if seconds <= 0 and k + 1 < len(loader):
                cut = {"budget_cut": True, "steps": k + 1}
                break
    if hasattr(shown, "close"):
        shown.close()
    return {**{key: sums[key] / counts[key] for key in sums}, **cut}, step


def train_gan(G, D, train_set, cfg: GANConfig, checkpoint=None, resume=False, device="cpu",
              evaluate=None, progress=True, stop_after=None, identity=None):
    """Train generator ``G`` and critic ``D``; return the history (one dict per epoch).

    Args:
        checkpoint: written atomically after every epoch (models, optimisers, random
            state, history); read back when ``resume``.
        evaluate: ``G -> dict`` of validation metrics added to each epoch's entry.
        stop_after: return after this many epochs of this call, as if killed (tests).
        identity: the run's config, stored in the checkpoint; resuming a checkpoint that
            recorded another raises :class:`~.common.Refused` naming the differing keys.
    """
    G.to(device), D.to(device)
    opt_g = torch.optim.Adam(G.parameters(), cfg.lr, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr, betas=tuple(cfg.betas))
    gen = torch.Generator().manual_seed(cfg.seed)  # targets and GP mixing weights
    history, start, step = [], 0, 0
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, recorded_sha256(checkpoint))  # verified, like fit's
        stored = state.get("identity")
        if identity is not None and stored is not None and stored != identity:
            raise Refused(f"{checkpoint} is a checkpoint of another run (differs in "
                          f"{', '.join(config_diff(stored, identity))}); resume it with its own "
                          "settings, or start afresh without --resume")
        for module, key in ((G, "generator"), (D, "critic"), (opt_g, "opt_g"), (opt_d, "opt_d")):
            module.load_state_dict(state[key])
        gen.set_state(state["generator_rng"])
        history, start, step = state["history"], state["epoch"] + 1, state["step"]
        if budget_ends(history, cfg.budget_s):  # ended by its budget; killed before its results
            return history
    loader_cfg = TrainConfig(batch_size=cfg.batch_size, seed=cfg.seed, num_workers=cfg.num_workers)
    for epoch in range(start, cfg.epochs):
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = cfg.lr_at(epoch)
        G.train(), D.train()
        started = time.perf_counter()
        spent = sum(h["seconds"] for h in history)  # before this epoch, across resumes
        left = None if cfg.budget_s is None else (lambda: cfg.budget_s - spent - (time.perf_counter() - started))
        desc = f"epoch {epoch + 1}/{cfg.epochs}"
        losses, step = _epoch(G, D, opt_g, opt_d, make_loader(train_set, loader_cfg, epoch, True),
                              cfg, gen, step, device, progress,
                              desc if left is None else f"{desc}, {_left(left())} left", left)
        entry = {"epoch": epoch + 1, "step": step, "lr": cfg.lr_at(epoch), **losses}
        entry.update(evaluate(G) if evaluate else {})
        entry["seconds"] = time.perf_counter() - started
        history.append(entry)
        ended = budget_ends(history, cfg.budget_s)
        if cfg.budget_s is not None:
            entry["budget_left_s"] = cfg.budget_s - spent - entry["seconds"]
            if ended or epoch + 1 == cfg.epochs:
                entry["stopped"] = "budget" if ended else "epochs"
        if checkpoint is not None:
            save_checkpoint({"generator": G.state_dict(), "critic": D.state_dict(),
                             "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                             "generator_rng": gen.get_state(), "history": history,
                             "epoch": epoch, "step": step, "identity": identity}, checkpoint,
                            record_sha256=True)
        if ended or (stop_after is not None and epoch + 1 - start >= stop_after):
            break
    return history


# --------------------------------------------------------------------------- data
def load_splits(spec: dict, seed: int, data_root=None) -> dict:
    """``train`` (a Dataset of dicts) and the ``val`` / ``test`` translation pairs."""
    size = spec["image_size"]
    if spec["dataset"] == "synthetic":
        sets = {split: SyntheticFaces(split, spec[split], seed, size) for split in ("train", "val", "test")}
        out = {"train": TensorDict(materialize(sets["train"]))}
    else:
        if data_root is None:
            raise ValueError("data_root: expected the folder that holds celeba/ (--data-root), got None")
        sets = {"train": celeba_hair(data_root, "train", size), "val": celeba_hair(data_root, "valid", size),
                "test": celeba_hair(data_root, "test", size)}
        out = {"train": sets["train"]}
        if spec["train"]:
            out["train"] = torch.utils.data.Subset(sets["train"], range(min(spec["train"], len(sets["train"]))))
    for split in ("val", "test"):
        out[split] = translation_pairs(sets[split], range(min(spec[split], len(sets[split]))))
    return out


def check_celeba(data_root) -> None:
    """Refuse, naming the folder and what it lacks, unless ``data_root/celeba`` holds CelebA."""
    if data_root is None:
        raise Refused("data_root: expected the folder that holds celeba/ (--data-root), got None")
    require_files(Path(data_root) / "celeba", ("img_align_celeba", *CELEBA_FILES), "data_root (--data-root)",
                  "CelebA", "download the aligned-and-cropped CelebA (img_align_celeba.zip and the "
                  "list files, https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) and unzip it there")


def _claim_judge(out_dir, spec, seed, overwrite, allow_dirty=False):
    """The judge's file stem, and whether a judge there was trained otherwise (refused
    unless ``overwrite``; then it is retrained)."""
    stem, config = results_stem("classifier", seed), classifier_config(spec, seed)
    stale = bool(results_conflict(out_dir / f"{stem}.json", "mgan_classifier", config, seed))
    claim_results(out_dir, "classifier", "mgan_classifier", config, seed, overwrite, allow_dirty)
    return stem, stale


# --------------------------------------------------------------------------- one run
def run(attention="arnn", protocol="book", dataset=None, seed=0, device=None, out_dir=None,
        resume=False, overrides=None, data_root=None, progress=True, command=None,
        classifier_only=False, stop_after=None, overwrite=False, allow_dirty=False, budget_minutes=None):
    """Train one generator (and the judge, if missing); write
    ``data/results/mgan/<protocol>/<attention>.json`` and ``<attention>.pt``
    (generator weights; ``<attention>_seed<N>`` for seed N > 0). Returns ``(test metrics,
    history)``; on faces with hair masks the test metrics also keep the mask measures per
    translation pair (``per_face``, see :func:`~.mgan_eval.evaluate_translations`), the
    per-epoch validation only their means. Raises :class:`~.common.Refused` before any data is built when CelebA is
    missing, or when the results or the judge of another configuration are in the way
    (unless ``overwrite``, which also retrains such a judge). ``budget_minutes``: the
    ``budget`` protocol's training time for the judge and for the generator (default 10)."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    spec = {k: v for k, v in PROTOCOLS[protocol].items()}
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    gan_fields = {f.name for f in dataclasses.fields(GANConfig)} - {"seed", "budget_s"}
    gan = dataclasses.replace(spec.pop("gan"), seed=seed,
                              **{k: overrides.pop(k) for k in list(overrides) if k in gan_fields})
    label = protocol if not overrides and dataset in (None, spec["dataset"]) else "custom"
    spec.update(overrides, dataset=dataset or spec["dataset"])
    if budget_minutes is not None:
        gan = with_budget(gan, protocol, budget_minutes)
        spec["classifier"] = with_budget(spec["classifier"], protocol, budget_minutes)
    out_dir = Path(out_dir) if out_dir else data_dir() / "results" / "mgan" / label
    judge, stale = _claim_judge(out_dir, spec, seed, overwrite, allow_dirty)
    config = as_json({"attention": attention, **{k: v for k, v in spec.items() if k != "classifier"},
                      "gan": _gan_record(gan)})  # the results file's config
    stem = None if classifier_only else claim_results(out_dir, attention, "mgan", config, seed,
                                                      overwrite, allow_dirty)
    if spec["dataset"] == "celeba":
        check_celeba(data_root)
    splits = load_splits(spec, seed, data_root)
    classifier = None if classifier_only or stale else load_classifier(out_dir, device, judge)
    if classifier is None:
        classifier = train_classifier(spec, splits, out_dir, seed, device, command, progress, judge)
    if classifier_only:
        return None, None
    torch.manual_seed(seed)
    G = ModularGenerator(attention, **spec["generator"])
    D = Discriminator(spec["image_size"], **spec["critic"])
    memory = None
    if "memory_limit_gib" in spec:  # full mode: a batch that fits a 16 GB GPU
        gan, memory = _fit_gan_batch(G, D, splits["train"], gan, device, spec["memory_limit_gib"] * 2**30)
        if memory["batch_to"] != memory["batch_from"]:
            config = {**config, "gan": as_json(_gan_record(gan))}
            stem = claim_results(out_dir, attention, "mgan", config, seed, overwrite, allow_dirty)
    started, t0, commit = results.now(), time.perf_counter(), results.git_commit()
    history = train_gan(G, D, splits["train"], gan, out_dir / f"{stem}.ckpt", resume, device,
                        lambda g: evaluate_translations(g, classifier, splits["val"], device),
                        progress, stop_after, identity=config)
    if stop_after is not None and len(history) < gan.epochs and not budget_ends(history, gan.budget_s):
        return None, history  # "killed": no results file
    test = evaluate_translations(G, classifier, splits["test"], device, per_item=True)  # per face: paired tests
    weights = out_dir / f"{stem}.pt"
    save_checkpoint({k: v.detach().cpu() for k, v in G.state_dict().items()}, weights)
    extra = {"memory": memory} if memory else {}
    if gan.budget_s is not None:
        extra["budget"] = budget_summary(history, gan)
    results.write_result(out_dir / f"{stem}.json", "mgan", label, config,
                         {"test": test, "history": history, **extra},
                         results.provenance(seed, device, started, time.perf_counter() - t0, command, commit),
                         checkpoint={"file": weights.name, "sha256": sha256(weights)},
                         classifier={"file": f"{judge}.pt", "sha256": sha256(out_dir / f"{judge}.pt")})
    return test, history


def _gan_record(gan: GANConfig) -> dict:
    """``gan`` as results files record it; without a budget, as before budgets existed (so
    earlier results files and checkpoints still count as the same run)."""
    record = dataclasses.asdict(gan)
    if record["budget_s"] is None:
        del record["budget_s"]
    return record


def _fit_gan_batch(G, D, train_set, gan: GANConfig, device, limit):
    """``gan`` with its batch halved until one critic and one generator step together fit
    ``limit`` bytes (measured on CUDA, estimated elsewhere; the learning rate is kept: Adam),
    and what was found (as :func:`~arnn_lite.train.fit_batch_to_memory`)."""
    pair = torch.nn.ModuleDict({"G": G, "D": D})

    def loss(net, batch, dev):
        x, label = batch["image"].to(dev) * 2 - 1, batch["label"].to(dev)
        target, alpha = label.roll(1), torch.full((len(label), 1, 1, 1), 0.5, device=dev)
        return (critic_loss(net["G"], net["D"], x, label, target, alpha, gan)["d_loss"]
                + generator_loss(net["G"], net["D"], x, target, gan)["g_loss"])

    sample = [train_set[i] for i in range(min(4, len(train_set)))]
    if torch.device(device).type == "cuda":
        method, peak = "measured", (lambda b: measure_peak_bytes(pair, sample, loss, b, TrainConfig(), device))
    else:
        method, peak = "estimated", _estimator(pair, sample, loss)
    batch, bytes_ = halve_to_fit(peak, gan.batch_size, limit)
    return dataclasses.replace(gan, batch_size=batch), {
        "method": method, "peak_bytes": bytes_, "limit_bytes": limit, "batch_from": gan.batch_size,
        "batch_to": batch}


def main(argv=None):
    p = ExperimentParser("mgan", "Train ModularGAN (mgan) or ModularGAN+ARNN (arnn) for hair-colour "
                                 "transfer and write its results file.", ATTENTIONS, PROTOCOLS)
    p.add_argument("--dataset", choices=("synthetic", "celeba"),
                   help="default: synthetic faces for book, CelebA for paper")
    p.add_argument("--data-root", help="folder holding celeba/ (img_align_celeba/, list_attr_celeba.txt, ...)")
    p.add_argument("--classifier", action="store_true", help="(re)train only the hair-colour judge")
    p.add_sizes(("train", "val", "test", "epochs", "batch_size"))
    a = p.parse(argv)
    with p.running(a) as device:
        test, _ = run(a.attention, a.protocol, a.dataset, a.seed, device, a.out_dir, a.resume, a.overrides,
                      a.data_root, command=a.command, classifier_only=a.classifier, overwrite=a.overwrite,
                      allow_dirty=a.allow_dirty, budget_minutes=a.budget_minutes)
    if test is not None:
        print(f"{a.attention}: " + ", ".join(f"{k} {v:.3f}" for k, v in test.items() if k != "per_face"))


if __name__ == "__main__":
    main()
