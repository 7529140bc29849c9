"""The CPU campaign's MBG and MBGⁱⁿᵛ runs as chapters 09 and 10 show them: accuracy over seeds
(per scale bin, with the supplement's Table 1 rows beside the U-Nets), parameter counts, paired
comparisons per seed pooled into one verdict, and learning curves. Every table is empty until
runs finish; :func:`progress` says how far the plan has got
(:mod:`arnn_lite.experiments.campaign` runs it).
"""

from __future__ import annotations

from ..datasets.mbg import COLOUR_NAMES, MBG, SCALE_BINS, config_generator, config_version
from ..experiments import campaign, results
from ..models.mbg import MBGNet
from . import paper, seeds

__all__ = ["NAMES", "PAIRS", "runs", "progress", "accuracy_rows", "paired", "plot_curves", "test_items", "show_masks"]

NAMES = {"none": "NONE", "noctx": "¬CTX", "ctx": "CTX", "ctx_wide": "CTX-wide", "san": "SAN", "arnn": "ARNN",
         "arnn_sample": "ARNN~", "unet2": "UNet d=2", "unet2_arnn": "UNet d=2 + ARNN", "unet3": "UNet d=3",
         "unet3_arnn": "UNet d=3 + ARNN"}
# (A, B): "A beats B". CTX-wide has ARNN's parameter count; NONE tells whether attention helps at all.
PAIRS = (("arnn", "ctx"), ("arnn", "ctx_wide"), ("ctx", "noctx"), ("ctx", "none"), ("arnn", "none"),
         ("unet2_arnn", "unet2"), ("unet3_arnn", "unet3"))
BINS = tuple(f"{lo}-{hi}" for lo, hi in SCALE_BINS)


def _folder(inverse: bool) -> str:
    return f"{'mbg_inv' if inverse else 'mbg'}_{campaign.VARIANT}/{campaign.PROTOCOL}"


def runs(inverse: bool = False, root=None) -> dict[str, dict[int, dict]]:
    """``{model: {seed: results file}}`` of the campaign's finished runs on MBG (or MBGⁱⁿᵛ)."""
    found = results.load_results(f"{_folder(inverse)}/*.json", root=root)
    return seeds.group(found, "model", campaign.PROTOCOL)


def progress(inverse: bool = False, root=None) -> str:
    """One sentence: how many of the plan's runs on this task are done and started."""
    task = "MBGⁱⁿᵛ" if inverse else "MBG"
    plan = [r for r in campaign.status(root) if r["run"].split(" ")[0] == task]
    done, started = (sum(r["state"] == s for r in plan) for s in ("done", "started"))
    return (f"{done} of the {len(plan)} planned {task} runs of the campaign are done and {started} "
            f"started (`python -m arnn_lite.experiments.campaign` lists them)")


def _bin(name: str):
    return lambda r: r["metrics"]["test"]["accuracy_by_scale"][name]


def accuracy_rows(by_model: dict, inverse: bool = False) -> tuple[list[dict], list[str]]:
    """Rows and columns of the accuracy table: mean ± spread over seeds, total and per scale
    bin (only the bins the variant fills), the network's parameter count and health; under
    each U-Net model, the supplement's Table 1 row for it (the paper's MBG, labelled)."""
    filled = [b for b in BINS if all(_bin(b)(r) is not None for by_seed in by_model.values()
                                     for r in by_seed.values())]
    names = {m: n for m, n in NAMES.items() if m in by_model}
    metrics = {"total": lambda r: r["metrics"]["test"]["accuracy"], **{b: _bin(b) for b in filled}}
    rows = []
    for model, row in zip(names, seeds.spread_rows(by_model, names, metrics)):
        net = MBGNet(model, num_classes=10 if inverse else 5, query_dim=5 if inverse else 10)
        rows.append({**row, "source": "ours", "parameters": sum(p.numel() for p in net.parameters())})
        entry = None if inverse else paper.paper_row("mbg", model)
        if entry:
            rows.append({"model": row["model"], "source": f"paper: {entry['source']}",
                         **{k: f"{v:.1f}%" for k, v in entry["values"].items() if k == "total" or k in filled}})
    columns = ["model", "source", "seeds", "total", *filled, "parameters", "health", "minutes (mean)"]
    return rows, columns


def paired(by_model: dict) -> tuple[list[dict], list[str]]:
    """Paired rows per seed for every pair of :data:`PAIRS` with runs, and one line per pair
    with its seeds pooled (:func:`~arnn_lite.book.seeds.compare_pairs`)."""
    return seeds.compare_pairs(by_model, NAMES, PAIRS)


def plot_curves(ax, by_model: dict) -> None:
    """Validation accuracy per epoch: one colour and marker per model (a marker on about every
    eighth epoch), one line style per seed; when every model has one seed, one line style per
    model instead, so that lines stay apart in print. ``by_model``: ``{model: {seed: results
    file}}``; a key that is not a model's name labels its lines as it is."""
    several = any(len(by_seed) > 1 for by_seed in by_model.values())
    for k, (model, by_seed) in enumerate(by_model.items()):
        for s, r in by_seed.items():
            h = r["metrics"]["history"]
            ax.plot([e["epoch"] for e in h], [e["accuracy"] for e in h], color=f"C{k % 10}",
                    marker=seeds.MARKERS[k % len(seeds.MARKERS)], markersize=3, markevery=max(1, len(h) // 8),
                    linestyle=seeds.LINESTYLES[(s if several else k) % len(seeds.LINESTYLES)],
                    label=f"{NAMES.get(model, model)}, seed {s}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    if by_model:
        ax.legend(fontsize=8, ncol=2)


def test_items(result: dict, count: int = 4) -> list[dict]:
    """The first ``count`` items of the test split a results file's run was tested on (its
    size, seed, canvas, task, generator version and variant), generated afresh: what a
    chapter shows a shipped model's masks on."""
    c = result["config"]
    split = MBG("test", c["test"], result["provenance"]["seed"], result["experiment"].startswith("mbg_inv"),
                c["canvas"], version=config_version(c), **config_generator(c))
    return [split[i] for i in range(count)]


def show_masks(by_model: dict, items: list[dict], label: str) -> list[str]:
    """One figure per shipped MBG or MBGⁱⁿᵛ model of ``by_model`` (``{name: results file}``):
    ``items`` (e.g. :func:`test_items`) in the top row, titled with the query, the truth and
    the model's prediction, and below them each attention stage's mask, upsampled to the image
    and scaled to its maximum. ``label`` goes into each figure's title. Returns the names shown."""
    import matplotlib.pyplot as plt
    import torch

    from . import viz
    from .models import load_model

    images = torch.stack([it["image"] for it in items])
    queries = torch.stack([it["query"] for it in items])
    for name, result in by_model.items():
        with torch.no_grad():
            logits, masks = load_model(result)(images, queries)
        if result["experiment"].startswith("mbg_inv"):  # query a colour, name the digit
            titles = [f"query {COLOUR_NAMES[int(q.argmax())]}: digit {it['label']}\npredicted {int(p)}"
                      for q, it, p in zip(queries, items, logits.argmax(1))]
        else:  # query a digit, name its colour
            titles = [f"query {int(q.argmax())}: {COLOUR_NAMES[it['label']]}\npredicted {COLOUR_NAMES[int(p)]}"
                      for q, it, p in zip(queries, items, logits.argmax(1))]
        rows = {f"stage {k + 1}": m for k, m in enumerate(masks) if m is not None}
        viz.show_mask_grid(rows, images, col_titles=titles, suptitle=f"{name}: masks per stage ({label})")
        plt.show()
    return list(by_model)
