"""Chapter 09 checkers: solutions pass, stubs and plausible mistakes fail helpfully."""

import pytest
import torch
import torch.nn.functional as F

from arnn_lite.exercises import ExerciseError, ch09
from arnn_lite.models.metrics import mass_in_box


def stub(*args):
    ...
    raise NotImplementedError


def test_solutions_pass(capsys):
    ch09.check_accuracy_by_scale(ch09.accuracy_by_scale_reference)
    ch09.check_mass_in_box(mass_in_box)
    assert capsys.readouterr().out.count("Correct!") == 2


@pytest.mark.parametrize("check", [ch09.check_accuracy_by_scale, ch09.check_mass_in_box])
def test_stubs_fail_with_not_implemented(check):
    with pytest.raises(ExerciseError, match="not implemented"):
        check(stub)


def test_last_bin_edge_mistake_is_explained():
    def open_last_bin(correct, scales):
        out = []
        for k in range(5):
            hits = [float(c) for c, s in zip(correct, scales) if 0.5 + 0.5 * k <= float(s) < 1.0 + 0.5 * k]
            out.append(sum(hits) / len(hits) if hits else None)
        return out
    with pytest.raises(ExerciseError, match="exactly 3.0 belongs to the last bin"):
        ch09.check_accuracy_by_scale(open_last_bin)


def test_nearest_upsampling_mistake_is_explained():
    def nearest(mask, box, canvas):
        up = F.interpolate(mask, size=(canvas, canvas), mode="nearest")[:, 0]
        inside = torch.zeros_like(up)
        for b, (x0, y0, x1, y1) in enumerate(box.tolist()):
            inside[b, y0:y1, x0:x1] = 1
        return (up * inside).sum((1, 2)) / up.sum((1, 2))
    with pytest.raises(ExerciseError, match="bilinearly"):
        ch09.check_mass_in_box(nearest)


# ------------------------------------------------------------------ 9.3, the experiment
import copy  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from arnn_lite.experiments import mbg as experiment  # noqa: E402
from arnn_lite.train import budget_summary  # noqa: E402

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "09_mbg_attribute_prediction.ipynb"


def model_solution():
    """The teacher edition's budget_run (chapter cell e9c1b5f4)."""
    source = next("".join(c["source"]) for c in json.loads(CHAPTER.read_text())["cells"]
                  if c["id"] == "e9c1b5f4")
    namespace = {"experiment": experiment}
    exec(source, namespace)
    return namespace["budget_run"]


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """The model solution through the check, for real (two budgeted runs): its printout and
    the results file of each run, kept for the answers below that replay them."""
    keep, solution = tmp_path_factory.mktemp("runs"), model_solution()

    def budget_run(model, out_dir):
        report = solution(model, out_dir)
        shutil.copy(next(Path(out_dir).glob("*.json")), keep / f"{model}.json")
        return report

    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        ch09.check_budget_run(budget_run)
    return printed.getvalue(), {p.stem: json.loads(p.read_text()) for p in keep.glob("*.json")}


def test_budget_run_model_solution_passes(solved):
    printed, runs = solved
    assert "Correct!" in printed and "seconds_per_epoch" in printed
    assert set(runs) == {"ctx", "arnn"}
    for model, run in runs.items():  # each run really used the exercise's settings
        assert run["config"]["model"] == model and run["config"]["budget_s"] == 6.0
        assert run["config"]["train"] == ch09.TINY_BUDGET["overrides"]["train"]


def replay(runs, mistake=None, tamper=None):
    """An answer that writes a recorded run's results file (its last epoch made the worst,
    as runs often end) and reports it, with ``mistake`` applied to the report."""
    def budget_run(model, out_dir):
        run = copy.deepcopy(runs[model])
        history = run["metrics"]["history"]
        history[-1]["accuracy"] = 0.0 if len(history) > 1 else history[-1]["accuracy"]
        (tamper or (lambda r: None))(run)
        (Path(out_dir) / f"{model}.json").write_text(json.dumps(run))
        seconds = sum(h["seconds"] for h in history)
        report = {"model": model, "epochs": len(history), "seconds": seconds,
                  "seconds_per_epoch": seconds / len(history),
                  "best_val_accuracy": max(h["accuracy"] for h in history),
                  "test_accuracy": run["metrics"]["test"]["accuracy"]}
        return (mistake or (lambda r, run: r))(report, run)
    return budget_run


def test_budget_run_replay_passes(solved, capsys):  # the replay is a right answer...
    ch09.check_budget_run(replay(solved[1]))
    assert "Correct!" in capsys.readouterr().out


def test_budget_run_stub_fails():
    with pytest.raises(ExerciseError, match="not implemented"):
        ch09.check_budget_run(stub)


def test_budget_run_refuses_budget_summary(solved):
    def summary(report, run):  # ...that calls the package's summary itself
        done = budget_summary(run["metrics"]["history"], experiment.PROTOCOLS["budget"]["config"])
        return {**report, "seconds": done["seconds"]}
    with pytest.raises(ExerciseError, match="package's own implementation .*budget_summary"):
        ch09.check_budget_run(replay(solved[1], summary))


@pytest.mark.parametrize("mistake, message", [
    (lambda r, run: {**r, "seconds": run["config"]["budget_s"]}, "That is the budget"),
    (lambda r, run: {**r, "best_val_accuracy": run["metrics"]["history"][-1]["accuracy"]},
     "That is the last epoch's"),
    (lambda r, run: {**r, "epochs": run["config"]["epochs"]}, "the most epochs the run was allowed"),
    (lambda r, run: {k: v for k, v in r.items() if k != "test_accuracy"}, "expected a dict with the keys"),
])
def test_budget_run_wrong_reports_are_explained(solved, mistake, message):
    if message.startswith("That is the last epoch") and any(
            len(r["metrics"]["history"]) < 2 for r in solved[1].values()):
        pytest.skip("a budgeted run ended after one epoch (a loaded machine): its last epoch is its best")
    with pytest.raises(ExerciseError, match=message):
        ch09.check_budget_run(replay(solved[1], mistake))


def test_budget_run_checks_the_run_itself(solved):
    runs = solved[1]
    same = {"ctx": runs["ctx"], "arnn": runs["ctx"]}  # the setting never changed
    with pytest.raises(ExerciseError, match="trained 'ctx', not 'arnn'"):
        ch09.check_budget_run(replay(same))
    def unbudgeted(run):
        run["config"]["budget_s"] = None
    with pytest.raises(ExerciseError, match="budget"):
        ch09.check_budget_run(replay(runs, tamper=unbudgeted))
    def edited(run):  # a test accuracy the predictions do not give
        run["metrics"]["test"]["accuracy"] += 0.5
    with pytest.raises(ExerciseError, match="does not match its predictions"):
        ch09.check_budget_run(replay(runs, tamper=edited))
    with pytest.raises(ExerciseError, match="found 0"):
        ch09.check_budget_run(lambda model, out_dir: {})
