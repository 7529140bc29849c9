"""Checkers for chapter 09, MBG attribute prediction (``chapters/09_mbg_attribute_prediction.ipynb``)."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import torch

from ..datasets.mbg import SCALE_BINS, scale_bin
from ..experiments.results import read_result, standard_error
from ..models.metrics import mass_in_box
from ..train import budget_summary
from . import ExerciseError, cases, check_close, is_hidden, passed, rng, run_student

__all__ = ["check_accuracy_by_scale", "check_mass_in_box", "check_budget_run",
           "accuracy_by_scale_reference", "TINY_BUDGET", "REPORT_KEYS"]


def accuracy_by_scale_reference(correct, scales):
    """Known-correct answer: accuracy per paper scale bin, ``None`` for an empty bin."""
    out = []
    for k in range(len(SCALE_BINS)):
        hits = [float(c) for c, s in zip(correct, scales) if scale_bin(float(s)) == k]
        out.append(sum(hits) / len(hits) if hits else None)
    return out


def check_accuracy_by_scale(accuracy_by_scale) -> None:
    """Exercise ex-09-scale-bins: per-bin accuracy with the paper's five bins."""
    g = rng(9)
    examples = [(torch.rand(40, generator=g) > 0.3, 0.5 + 2.5 * torch.rand(40, generator=g)),
             (torch.tensor([True, False, True]), torch.tensor([0.5, 0.99, 3.0])),  # bin edges
             (torch.tensor([True, True]), torch.tensor([1.0, 1.49])),  # empty bins
             *cases([], [(torch.rand(25, generator=g) > 0.5, 0.5 + 2.5 * torch.rand(25, generator=g))])]
    for correct, scales in examples:
        got = run_student(accuracy_by_scale, correct, scales, name="accuracy_by_scale")
        expected = accuracy_by_scale_reference(correct, scales)
        got = list(got) if got is not None else got
        if got is None or len(got) != 5:
            raise ExerciseError(f"accuracy_by_scale: expected a list of 5 values (one per bin), got {got!r}")
        for k, (a, b) in enumerate(zip(got, expected)):
            lo, hi = SCALE_BINS[k]
            if b is None and a is not None:
                raise ExerciseError(f"bin {lo}-{hi} holds no example: return None there, not {a!r}.")
            if b is not None and (a is None or abs(float(a) - b) > 1e-6):
                hint = ("A scale of exactly 3.0 belongs to the last bin, 2.5-3.0 (see scale_bin)."
                        if any(float(s) == 3.0 for s in scales) else
                        "A bin [lo, hi) holds the scales lo <= s < hi.")
                raise ExerciseError(f"bin {lo}-{hi}: got {a!r}, expected {b:.4f} for scales "
                                    f"{[round(float(s), 2) for s in scales][:8]}... {hint}")
    passed("accuracy_by_scale matches the paper's five bins, edges and empty bins included.")


def check_mass_in_box(mass_in_box_fn) -> None:
    """Exercise ex-09-mass: the share of a mask's mass inside the queried digit's box."""
    g = rng(3)
    for h, canvas in cases([(4, 100), (10, 100), (7, 60)], [(5, 80), (8, 64)]):
        mask = torch.rand(3, 1, h, h, generator=g)  # (B, 1, h, h)
        box = torch.tensor([[10, 20, 40, 50], [0, 0, canvas, canvas], [55, 5, 58, 30]])
        box = box.clamp(max=canvas)
        got = run_student(mass_in_box_fn, mask.clone(), box.clone(), canvas, name="mass_in_box",
                          forbid=[mass_in_box])
        check_close(f"mass_in_box on a {h}x{h} mask, canvas {canvas}", torch.as_tensor(got).float(),
                    mass_in_box(mask, box, canvas), atol=1e-4,
                    hint="Upsample the mask bilinearly to canvas x canvas first (align_corners=False), "
                         "then divide the sum inside [x0, x1) x [y0, y1) by the total sum.")
    passed("mass_in_box agrees with the metric the experiments report.")


# Exercise 9.3's experiment: the live demo's tiny MBG task, trained with the budget protocol
# for a few seconds. Settings, not measurements: the checker verifies each run used them.
TINY_BUDGET = {"overrides": {"train": 50, "val": 50, "test": 50, "batch_size": 25, "epochs": 20},
               "budget_minutes": 0.1}
REPORT_KEYS = ("model", "epochs", "seconds", "seconds_per_epoch", "best_val_accuracy", "test_accuracy")
_BASELINE, _CHANGED = "ctx", "arnn"  # the setting the exercise changes: the attention


def _results_file(out_dir: Path, model: str) -> dict:
    found = sorted(out_dir.glob("*.json"))
    if len(found) != 1:
        raise ExerciseError(
            f"budget_run({model!r}, out_dir): expected the run to write one results file into "
            f"out_dir, found {len(found)}. Pass out_dir=out_dir to experiment.run.")
    return read_result(found[0])


def _check_settings(result: dict, model: str) -> None:
    """The run really trained ``model`` with the exercise's sizes and budget."""
    config, want = result["config"], TINY_BUDGET["overrides"]
    if config.get("model") != model:
        raise ExerciseError(f"budget_run({model!r}, ...): the run trained {config.get('model')!r}, "
                            f"not {model!r}: pass the model argument on to experiment.run.")
    budget_s = round(TINY_BUDGET["budget_minutes"] * 60, 3)
    if config.get("budget_s") != budget_s:
        raise ExerciseError(f"budget_run({model!r}, ...): the run's budget is {config.get('budget_s')} s, "
                            f"expected {budget_s} s: use the budget protocol with "
                            "budget_minutes=ch09.TINY_BUDGET['budget_minutes'].")
    wrong = {k: config.get(k) for k, v in want.items() if config.get(k) != v}
    if wrong:
        raise ExerciseError(f"budget_run({model!r}, ...): the run used {wrong}, expected "
                            f"{ {k: want[k] for k in wrong} }: pass overrides=ch09.TINY_BUDGET['overrides'].")


def _truth(result: dict) -> dict:
    """What the report must say, computed from the results file the run wrote."""
    history, test = result["metrics"]["history"], result["metrics"]["test"]
    seconds = sum(h["seconds"] for h in history)
    right = [p == y for p, y in zip(test["predictions"], test["labels"])]
    if abs(sum(right) / len(right) - test["accuracy"]) > 1e-9:  # the file agrees with itself
        raise ExerciseError("the results file's test accuracy does not match its predictions: "
                            "do not edit the files a run writes.")
    return {"model": result["config"]["model"], "epochs": len(history), "seconds": seconds,
            "seconds_per_epoch": seconds / len(history),
            "best_val_accuracy": max(h["accuracy"] for h in history),
            "test_accuracy": test["accuracy"]}


def _check_report(report, truth: dict, result: dict) -> None:
    model = truth["model"]
    where = f"budget_run({model!r}, ...)"
    if not isinstance(report, dict) or set(report) != set(REPORT_KEYS):
        got = sorted(report) if isinstance(report, dict) else type(report).__name__
        raise ExerciseError(f"{where}: expected a dict with the keys {list(REPORT_KEYS)}, got {got}")
    history, budget_s = result["metrics"]["history"], result["config"]["budget_s"]
    hints = {"epochs": "the number of epochs the run made: len(history)",
             "seconds": "the training time the run measured: the sum of the epochs' 'seconds'",
             "seconds_per_epoch": "seconds / epochs",
             "best_val_accuracy": "the best validation accuracy over the epochs (the run keeps "
                                  "that epoch's weights), not the last one",
             "test_accuracy": "test['accuracy'] of what experiment.run returned"}
    if report["model"] != model:
        raise ExerciseError(f"{where}: report['model'] is {report['model']!r}, expected {model!r}")
    for key, hint in hints.items():
        value = report[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ExerciseError(f"{where}: report[{key!r}] must be a number, got {value!r}")
        if abs(value - truth[key]) > 1e-6 * max(1.0, abs(truth[key])):
            mistake = ""
            if key == "seconds" and abs(value - budget_s) < 1e-6:
                mistake = " That is the budget, not what the run measured."
            elif key == "epochs" and value == result["config"]["epochs"]:
                mistake = " That is the most epochs the run was allowed, not how many it ran."
            elif key == "best_val_accuracy" and abs(value - history[-1]["accuracy"]) < 1e-9:
                mistake = " That is the last epoch's."
            raise ExerciseError(f"{where}: report[{key!r}] = {value:.6g}, but the run's results "
                                f"file says {truth[key]:.6g}.{mistake} Expected {hint}.")
    # sanity: a budgeted run is never over by more than one epoch (one step and one validation pass)
    if not 1 <= truth["epochs"] <= result["config"]["epochs"] or \
            truth["seconds"] > budget_s + max(h["seconds"] for h in history):
        raise ExerciseError(f"{where}: the run made {truth['epochs']} epochs in {truth['seconds']:.1f} s "
                            f"with a budget of {budget_s} s: that is not a budgeted run.")


def _run_and_check(budget_run, model: str) -> dict:
    out_dir = Path(tempfile.mkdtemp(prefix=f"arnn_ex09_{model}_"))
    try:
        report = run_student(budget_run, model, out_dir, name="budget_run",
                             forbid_direct=[budget_summary])
        result = _results_file(out_dir, model)
        _check_settings(result, model)
        truth = _truth(result)
        _check_report(report, truth, result)
        return {**truth, "n_val": result["config"]["val"]}
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def check_budget_run(budget_run) -> None:
    """Exercise ex-09-budget: ``budget_run(model, out_dir)`` trains ``model`` on the tiny MBG
    task for the budget of :data:`TINY_BUDGET` into ``out_dir`` and reports what the run
    measured (:data:`REPORT_KEYS`); the report must match the results file the run wrote.

    Visible: the baseline (CTX) and the changed setting (ARNN), then a table of both runs.
    Hidden: one more attention, drawn with the grader's seed (the visible runs have already
    run in the same check, and every run costs the budget)."""
    if is_hidden():
        model = cases([], lambda r: [r.choice(["none", "noctx", "san"])])[0]
        _run_and_check(budget_run, model)
        passed(f"budget_run also reports the budgeted run of {model!r} exactly.")
        return
    runs = [_run_and_check(budget_run, m) for m in (_BASELINE, _CHANGED)]
    print(f"{'':>22}" + "".join(f"{r['model']:>12}" for r in runs))
    for key, fmt in (("epochs", "{:d}"), ("seconds", "{:.1f}"), ("seconds_per_epoch", "{:.2f}"),
                     ("best_val_accuracy", "{:.2f}"), ("test_accuracy", "{:.2f}")):
        print(f"{key:>22}" + "".join(f"{fmt.format(r[key]):>12}" for r in runs))
    spread = max(2 * standard_error(r["best_val_accuracy"], r["n_val"]) for r in runs)
    print(f"two standard errors of a validation accuracy on {runs[0]['n_val']} images: up to {spread:.2f}")
    passed("both runs used the budget and the tiny task, and your reports match their results files.")
