"""Measuring hair-colour translations: metrics the supplement could only show as pictures.

Chapter 14 (``chapters/14_mgan_hair_colour.ipynb``) explains each one. On the synthetic
faces we know the exact hair mask and the true translation (the same face drawn with
the target colour), so we measure:

* ``target_accuracy``: an independently trained hair-colour classifier (never seen by
  the GAN) names the *target* colour on the translated image;
* ``mask_iou``: IoU of the mask ``g > 0.5`` (upsampled, nearest) with the hair mask;
* ``mask_tv_hair``: mean total variation of ``g`` between neighbouring hair positions
  (mask resolution; a hair position is one whose cell is at least half hair): lower is
  a more uniform mask over the hair, the supplement's qualitative claim for ARNN;
* ``change_outside_hair`` / ``change_inside_hair``: mean absolute pixel change (images
  in [0, 1]) outside / inside the hair;
* ``l1_to_truth``: mean absolute difference to the true translation.

The judge is :class:`~arnn_lite.models.mgan.HairClassifier`, trained with
:func:`arnn_lite.train.fit` on real training faces by :func:`train_classifier`, which
also records two reference rows: the untouched images ("no change") and, on synthetic
faces, the true translations, as the judge sees them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..datasets.tensors import TensorDict
from ..models.metrics import mask_iou
from ..models.mgan import HairClassifier
from ..train import fit, load_checkpoint, save_checkpoint, sha256
from . import results

__all__ = ["PER_FACE", "mask_tv", "masked_change", "translation_pairs", "evaluate_translations",
           "classifier_config", "train_classifier", "load_classifier"]


def mask_tv(mask, region) -> torch.Tensor:
    """Mean ``|g_p - g_q|`` over horizontally and vertically adjacent positions ``p, q``
    both inside ``region``: ``(B, 1, h, w), (B, 1, h, w) bool -> (B,)`` (0 if none)."""
    dx = (mask[..., :, 1:] - mask[..., :, :-1]).abs()  # (B, 1, h, w-1)
    dy = (mask[..., 1:, :] - mask[..., :-1, :]).abs()  # (B, 1, h-1, w)
    in_x = region[..., :, 1:] & region[..., :, :-1]
    in_y = region[..., 1:, :] & region[..., :-1, :]
    total = (dx * in_x).flatten(1).sum(1) + (dy * in_y).flatten(1).sum(1)
    count = in_x.flatten(1).sum(1) + in_y.flatten(1).sum(1)
    return total / count.clamp_min(1)


def masked_change(a, b, region) -> torch.Tensor:
    """Mean absolute difference of images ``a, b`` ``(B, 3, S, S)`` over the pixels where
    ``region`` ``(B, 1, S, S)`` is true, all channels: ``-> (B,)`` (0 if empty)."""
    weight = region.to(a.dtype).expand_as(a)
    return ((a - b).abs() * weight).flatten(1).sum(1) / weight.flatten(1).sum(1).clamp_min(1)


def translation_pairs(dataset, indices) -> dict:
    """Every (image, other hair colour) pair of the given items, stacked: ``image``,
    ``label`` (its colour), ``target``, ``hair_mask`` and, for synthetic faces, ``truth`` (the same face drawn
    with the target colour). ``N`` items give ``2N`` pairs."""
    images, labels, targets, hair, truth = [], [], [], [], []
    for i in indices:
        item = dataset[i]
        for target in range(3):
            if target == item["label"]:
                continue
            images.append(item["image"])
            labels.append(item["label"])
            targets.append(target)
            if "hair_mask" in item:
                hair.append(item["hair_mask"])
                truth.append(dataset.render(i, target)["image"])
    out = {"image": torch.stack(images), "label": torch.tensor(labels), "target": torch.tensor(targets)}
    if hair:
        out.update(hair_mask=torch.stack(hair), truth=torch.stack(truth))
    return out


PER_FACE = ("mask_tv_hair", "mask_iou")  # kept per pair by evaluate_translations(per_item=True)


@torch.no_grad()
def evaluate_translations(generator, classifier, pairs, device="cpu", batch_size=100, per_item=False) -> dict:
    """Translate every pair and average the metrics of the module docstring (only
    ``target_accuracy`` and ``reconstruction_l1`` when ``pairs`` has no hair masks).

    With ``per_item`` and hair masks, the result also holds ``per_face``: for each key of
    :data:`PER_FACE`, a list of floats, one per pair in pair order (each face gives two
    consecutive pairs, see :func:`translation_pairs`), so two generators can be compared
    paired, face by face (:func:`arnn_lite.stats.compare_values`)."""
    generator.eval()
    classifier.eval()
    sums, n, kept = {}, len(pairs["target"]), {key: [] for key in PER_FACE}
    for start in range(0, n, batch_size):
        part = {k: v[start:start + batch_size].to(device) for k, v in pairs.items()}
        x = part["image"]  # (b, 3, S, S) in [0, 1]
        c = F.one_hot(part["target"], 3).float()
        y, g, _ = generator(x * 2 - 1, c)
        y = (y + 1) / 2  # back to [0, 1]
        batch = {"target_accuracy": (classifier(y).argmax(1) == part["target"]).float(),
                 "reconstruction_l1": ((generator.reconstruct(x * 2 - 1) + 1) / 2 - x).abs().flatten(1).mean(1)}
        if "hair_mask" in part:
            batch.update(_mask_metrics(x, y, g, part["hair_mask"], part["truth"]))
            for key in kept:
                kept[key] += batch[key].cpu().tolist()
        for key, values in batch.items():
            sums[key] = sums.get(key, 0.0) + float(values.sum())
    out = {key: total / n for key, total in sums.items()}
    if per_item and "hair_mask" in pairs:
        out["per_face"] = kept
    return out


def _mask_metrics(x, y, g, hair, truth) -> dict:
    """Per-pair mask and change metrics (see the module docstring), each ``(b,)``."""
    size = x.shape[-1]
    hair_bool = hair > 0.5
    g_up = F.interpolate(g, size=(size, size), mode="nearest")  # (b, 1, S, S)
    hair_small = F.adaptive_avg_pool2d(hair, g.shape[-2:]) >= 0.5  # (b, 1, h, w)
    inside, outside = hair_bool.float(), (~hair_bool).float()
    return {"mask_iou": mask_iou(g_up, hair),
            "mask_tv_hair": mask_tv(g, hair_small),
            "mask_mean_hair": (g_up * inside).flatten(1).sum(1) / inside.flatten(1).sum(1).clamp_min(1),
            "mask_mean_outside": (g_up * outside).flatten(1).sum(1) / outside.flatten(1).sum(1).clamp_min(1),
            "change_outside_hair": masked_change(y, x, ~hair_bool),
            "change_inside_hair": masked_change(y, x, hair_bool),
            "l1_to_truth": (y - truth).abs().flatten(1).mean(1)}


# --------------------------------------------------------------------------- classifier
def _classifier_loss(net, batch, device):
    return F.cross_entropy(net(batch["image"].to(device)), batch["label"].to(device))


@torch.no_grad()
def _classifier_accuracy(net, loader, device):
    right = total = 0
    for batch in loader:
        right += int((net(batch["image"].to(device)).argmax(1).cpu() == batch["label"]).sum())
        total += len(batch["label"])
    return {"accuracy": right / total}


class _Identity(torch.nn.Module):
    """The "no change" translation: image out = image in, mask all zeros."""

    def forward(self, image, c):
        return image, torch.zeros_like(image[:, :1, ::2, ::2]), None

    def reconstruct(self, image):
        return image


def classifier_config(spec: dict, seed: int = 0) -> dict:
    """The judge's config as its results file records it: data, image size, training."""
    return {"dataset": spec["dataset"], "image_size": spec["image_size"],
            **dataclasses.asdict(dataclasses.replace(spec["classifier"], seed=seed))}


def train_classifier(spec, splits, out_dir, seed=0, device="cpu", command=None, progress=True,
                     stem="classifier"):
    """Train the hair-colour judge on real training faces; write ``<stem>.pt`` and
    ``<stem>.json`` (test accuracy on real faces, and the reference rows: the
    untouched images and, on synthetic faces, the true translations, as the judge sees them)."""
    started, t0, commit = results.now(), time.perf_counter(), results.git_commit()
    config = dataclasses.replace(spec["classifier"], seed=seed)
    torch.manual_seed(seed)
    net = HairClassifier()
    train = splits["train"]
    val = TensorDict({"image": splits["val"]["image"], "label": splits["val"]["label"]})
    history, best = fit(net, train, val, _classifier_loss, _classifier_accuracy, config,
                        device=device, progress=progress)
    net.load_state_dict(best)
    net.to(device).eval()
    test = splits["test"]
    real = [{"image": test["image"], "label": test["label"]}]
    metrics = {"test_accuracy_real": _classifier_accuracy(net, real, device)["accuracy"],
               "identity": evaluate_translations(_Identity(), net, test, device)}
    if "truth" in test:
        metrics["true_translation_accuracy"] = _classifier_accuracy(
            net, [{"image": test["truth"], "label": test["target"]}], device)["accuracy"]
    weights = Path(out_dir) / f"{stem}.pt"
    save_checkpoint(best, weights)
    results.write_result(Path(out_dir) / f"{stem}.json", "mgan_classifier", Path(out_dir).name,
                         classifier_config(spec, seed), {**metrics, "history": history},
                         results.provenance(seed, device, started, time.perf_counter() - t0, command, commit),
                         checkpoint={"file": weights.name, "sha256": sha256(weights)})
    return net


def load_classifier(out_dir, device="cpu", stem="classifier"):
    """The judge written by :func:`train_classifier` (SHA-256 checked), or ``None``."""
    path = Path(out_dir) / f"{stem}.json"
    if not path.exists():
        return None
    entry = results.load_results(f"{stem}.json", root=out_dir)[0]
    net = HairClassifier()
    net.load_state_dict(load_checkpoint(Path(out_dir) / entry["checkpoint"]["file"],
                                        entry["checkpoint"]["sha256"]))
    return net.to(device).eval()
