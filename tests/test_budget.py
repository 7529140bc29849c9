"""Full mode's time budget: ``fit`` stops within it and says why, every experiment has a
``budget`` protocol that runs end to end, full mode never starts the paper protocol without
the reader's opt-in, and batch sizes are fitted to a 16 GB GPU's memory (issue 20)."""

import dataclasses
import time

import pytest
import torch

from arnn_lite import train

# --------------------------------------------------------------------------- fit's budget
from tests.test_train import _data  # noqa: E402  (the same toy data as the loop's own tests)


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))


def _evaluate(model, loader, device):
    right = sum(int((model(x).argmax(1) == y).sum()) for x, y in loader)
    return {"accuracy": right / len(loader.dataset)}


class FakeClock:
    """A clock that moves only when a training step runs (``step_s`` per step), so that
    budget decisions are the same on every machine."""

    def __init__(self, step_s=0.1):
        self.now, self.step_s = 0.0, step_s

    def __call__(self):
        return self.now

    def loss(self, net, batch, device):
        self.now += self.step_s
        x, y = batch
        return torch.nn.functional.cross_entropy(net(x), y)


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(train, "_clock", fake)
    return fake


# 64 items in batches of 16: 4 steps, 0.4 fake seconds per epoch
CONFIG = train.TrainConfig(epochs=50, batch_size=16, lr=1e-2, patience=None)


def _fit(clock, budget_s, **kw):
    config = dataclasses.replace(CONFIG, budget_s=budget_s)
    return train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate, config, progress=False, **kw)


def test_budget_stops_before_an_epoch_that_would_not_fit(clock):
    history, best = _fit(clock, 1.0)  # 0.4 + 0.4 = 0.8 fits; a third epoch would end at 1.2
    assert len(history) == 2 and best is not None
    assert history[-1]["stopped"] == "budget" and "stopped" not in history[0]
    assert [h["budget_left_s"] for h in history] == pytest.approx([0.6, 0.2])
    summary = train.budget_summary(history, dataclasses.replace(CONFIG, budget_s=1.0))
    assert summary == {"budget_s": 1.0, "seconds": pytest.approx(0.8), "epochs_run": 2, "epochs_max": 50,
                       "stopped": "budget", "cut_short": False}


def test_an_epoch_longer_than_the_budget_is_cut_at_the_step_that_spends_it(clock):
    history, _ = _fit(clock, 0.25)  # steps end at 0.1, 0.2, 0.3: the third spends the budget
    assert len(history) == 1
    assert history[0]["budget_cut"] is True and history[0]["steps"] == 3
    assert history[0]["stopped"] == "budget" and history[0]["seconds"] == pytest.approx(0.3)


def test_without_a_budget_nothing_changes(clock):
    history, _ = train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate,
                           dataclasses.replace(CONFIG, epochs=3), progress=False)
    assert len(history) == 3 and not {"stopped", "budget_left_s", "budget_cut"} & set(history[-1])
    assert not train.budget_ends(history, None)


def test_epochs_and_patience_still_end_a_budgeted_run_and_say_so(clock):
    history, _ = _fit(clock, 100.0, **{})  # 50 epochs of 0.4 s fit in 100 s
    assert len(history) == 50 and history[-1]["stopped"] == "epochs"


def test_real_clock_budget_of_about_two_epochs_stops_early():
    def slow_loss(net, batch, device):
        time.sleep(0.02)  # 4 steps: about 0.08 s per epoch
        x, y = batch
        return torch.nn.functional.cross_entropy(net(x), y)

    config = dataclasses.replace(CONFIG, budget_s=0.2)
    history, _ = train.fit(_model(), _data(), _data(seed=1), slow_loss, _evaluate, config, progress=False)
    assert 1 <= len(history) < CONFIG.epochs and history[-1]["stopped"] == "budget"
    spent = sum(h["seconds"] for h in history)
    assert spent <= config.budget_s + max(h["seconds"] for h in history)  # never a whole epoch over


def test_resume_of_a_budgeted_run_is_exact_and_counts_the_time_already_spent(clock, tmp_path):
    straight = _model()
    config = dataclasses.replace(CONFIG, budget_s=1.3)  # three epochs of 0.4 s
    h1, _ = train.fit(straight, _data(), _data(seed=1), clock.loss, _evaluate, config, progress=False)
    assert len(h1) == 3

    def killed_in_epoch_2(model, loader, device):
        if clock.now > 0.5:
            raise KeyboardInterrupt  # the kill, after epoch 1's checkpoint
        return _evaluate(model, loader, device)

    ckpt = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train.fit(_model(), _data(), _data(seed=1), clock.loss, killed_in_epoch_2, config, checkpoint=ckpt,
                  progress=False)
    clock.now = 1000.0  # time between the kill and the resume does not count
    resumed = _model()
    h2, _ = train.fit(resumed, _data(), _data(seed=1), clock.loss, _evaluate, config, checkpoint=ckpt,
                      resume=True, progress=False)
    assert [h["accuracy"] for h in h2] == [h["accuracy"] for h in h1] and h2[-1]["stopped"] == "budget"
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    again, _ = train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate, config, checkpoint=ckpt,
                         resume=True, progress=False)  # ended: nothing more is trained
    assert len(again) == 3
    with pytest.raises(ValueError, match="budget_s: 1.3 -> 60"):  # the budget is part of the identity
        train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate,
                  dataclasses.replace(config, budget_s=60), checkpoint=ckpt, resume=True, progress=False)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "10", True])
def test_a_bad_budget_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="budget_s: expected None or a finite number"):
        train.fit(_model(), _data(), _data(seed=1), lambda *a: None, _evaluate,
                  dataclasses.replace(CONFIG, budget_s=bad), progress=False)


def test_progress_bar_shows_the_time_left(clock, capsys):
    _fit(clock, 1.0, **{})
    train.fit(_model(), _data(), _data(seed=1), clock.loss, _evaluate,
              dataclasses.replace(CONFIG, budget_s=100.0, epochs=1), progress=True)
    err = capsys.readouterr().err
    assert "left" in err and "epoch 1/1" in err


# --------------------------------------------------------------------------- batch vs memory
def _linear_loss(net, batch, device):
    x, y = batch
    return torch.nn.functional.cross_entropy(net(x), y)


def _linear_sample():
    return [(torch.randn(100), torch.tensor(i % 2)) for i in range(3)]


def test_activation_bytes_grow_with_the_batch_as_the_layers_say():
    net = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.ReLU(), torch.nn.Linear(50, 2))
    sizes = {b: train.activation_bytes(net, train._collate(_linear_sample(), b), _linear_loss) for b in (2, 4, 8)}
    per_item = (sizes[8] - sizes[4]) / 4
    assert sizes[4] - sizes[2] == 2 * per_item  # linear in the batch
    # ReLU's output (kept once for the ReLU and the second layer) is 50 float32 per item;
    # the loss keeps a few more bytes per item
    assert 50 * 4 <= per_item <= 50 * 4 + 32


class _KeepsOnContext(torch.autograd.Function):
    """Keeps a large buffer on ``ctx`` rather than through ``save_for_backward``, as the
    fused scan does with its per-step gates."""

    @staticmethod
    def forward(ctx, x):
        ctx.buffer = x.repeat(1, 64)  # (B, 64 * F)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_activation_bytes_count_what_a_custom_function_keeps_on_its_context():
    def loss(net, batch, device):
        return _KeepsOnContext.apply(net(batch[0])).sum()

    net = torch.nn.Linear(100, 10)
    got = train.activation_bytes(net, train._collate(_linear_sample(), 4), loss)
    assert got >= 4 * 64 * 10 * 4  # the buffer: 4 items x 640 float32


def test_estimate_scales_with_the_batch_and_counts_the_weights():
    net = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.ReLU(), torch.nn.Linear(50, 2))
    weights = sum(p.numel() * 4 for p in net.parameters())
    small, large = (train.estimate_peak_bytes(net, _linear_sample(), _linear_loss, b) for b in (10, 1010))
    assert small > 4 * weights
    assert large - small == pytest.approx(1.5 * 1000 * (large - small) / 1500, rel=1e-6)
    assert 1.5 * 1000 * 200 <= large - small <= 1.5 * 1000 * 232


def test_halve_to_fit_halves_until_the_step_fits_and_refuses_when_nothing_does():
    gib = 2**30
    asked = []
    batch, peak = train.halve_to_fit(lambda b: asked.append(b) or b * gib, 200, 12 * gib)
    assert asked == [200, 100, 50, 25, 12] and (batch, peak) == (12, 12 * gib)
    assert train.halve_to_fit(lambda b: 1.0, 200) == (200, 1.0)  # fits: unchanged
    with pytest.raises(ValueError, match="batch_size: expected a batch that fits 12.0 GiB, but even a batch of 1"):
        train.halve_to_fit(lambda b: 13 * gib, 8, 12 * gib)


def test_fit_batch_to_memory_on_the_cpu_estimates_and_scales_the_learning_rate():
    net = torch.nn.Sequential(torch.nn.Linear(100, 50), torch.nn.ReLU(), torch.nn.Linear(50, 2))
    config = train.TrainConfig(batch_size=200, lr=3e-3)
    same, info = train.fit_batch_to_memory(net, _linear_sample(), _linear_loss, config, "cpu")
    assert same is config and info["method"] == "estimated" and info["batch_to"] == 200
    limit = train.estimate_peak_bytes(net, _linear_sample(), _linear_loss, 60)  # 50 fits, 100 does not
    fitted, info = train.fit_batch_to_memory(net, _linear_sample(), _linear_loss, config, "cpu", limit)
    assert (fitted.batch_size, info["batch_from"], info["batch_to"]) == (50, 200, 50)
    assert fitted.lr == pytest.approx(3e-3 * 50 / 200) and info["peak_bytes"] <= limit


# --------------------------------------------------------------------------- budget protocols
import json  # noqa: E402

from arnn_lite.experiments import cbam, mbg, mgan, scalability, vqa  # noqa: E402

from .test_datasets_cifar import write_tiny_cifar100  # noqa: E402

BUDGET_MINUTES = 0.02  # 1.2 s of training


def _budgeted(path):
    """The results file at ``path``: labelled with its budget and device, and with what the
    run did with the budget and the memory check."""
    result = json.loads(path.read_text())
    config = result["config"].get("gan", result["config"])  # MGAN: the GAN's training config
    assert config["budget_s"] == pytest.approx(BUDGET_MINUTES * 60)
    assert result["config"]["memory_limit_gib"] == 12
    assert result["provenance"]["device"].startswith("cpu")  # "cuda (<GPU name>, ...)" on a GPU
    budget, memory = result["metrics"]["budget"], result["metrics"]["memory"]
    assert budget["stopped"] in ("budget", "epochs") and budget["epochs_run"] >= 1
    assert budget["epochs_run"] == len(result["metrics"]["history"])
    assert memory["method"] == "estimated" and memory["peak_bytes"] <= memory["limit_bytes"] == 12 * 2**30
    return result


def test_every_experiment_has_a_budget_protocol_with_its_paper_recipe():
    for module in (mbg, scalability, cbam, vqa):
        paper, budget = module.PROTOCOLS["paper"], module.PROTOCOLS["budget"]
        assert budget["config"].budget_s == 600 and paper["config"].budget_s is None
        same = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "patience", "grad_clip")
        assert [getattr(budget["config"], k) for k in same] == [getattr(paper["config"], k) for k in same]
    assert (mbg.PROTOCOLS["budget"]["train"], mbg.PROTOCOLS["budget"]["val"],
            mbg.PROTOCOLS["budget"]["test"]) == (10000, 2000, 5000)
    assert mbg.PROTOCOLS["budget"]["config"].batch_size == 200 and mbg.PROTOCOLS["budget"]["config"].lr == 3e-3
    assert mgan.PROTOCOLS["budget"]["gan"].budget_s == 600 and mgan.PROTOCOLS["paper"]["gan"].budget_s is None
    assert mgan.PROTOCOLS["budget"]["classifier"].budget_s == 600


def test_mbg_budget_protocol_runs_end_to_end(tmp_path):
    test, history = mbg.run("noctx", "budget", seed=1, device="cpu", out_dir=tmp_path, progress=False,
                            overrides={"train": 16, "val": 8, "test": 8, "batch_size": 8},
                            budget_minutes=BUDGET_MINUTES)
    result = _budgeted(tmp_path / "noctx_seed1.json")
    assert result["config"]["epochs"] == 300 and 0 <= test["accuracy"] <= 1
    assert result["metrics"]["budget"]["epochs_run"] < 300


def test_scalability_budget_protocol_runs_end_to_end(tmp_path):
    scalability.run("none", "budget", device="cpu", out_dir=tmp_path, progress=False, timing_steps=1,
                    overrides={"train": 8, "val": 4, "test": 4, "batch_size": 4}, budget_minutes=BUDGET_MINUTES)
    assert _budgeted(tmp_path / "front_none.json")["config"]["canvas"] == 128


def test_cbam_budget_protocol_runs_end_to_end_on_cifar_files(tmp_path):
    write_tiny_cifar100(tmp_path / "cifar", n_train=40, n_test=6)
    cbam.run("arnn", "budget", device="cpu", out_dir=tmp_path / "out", progress=False,
             overrides={"depth": 8, "width": 4, "train": 30, "val": 10, "test": 6, "batch_size": 10},
             data_root=tmp_path / "cifar", verify=False, budget_minutes=BUDGET_MINUTES)
    result = _budgeted(tmp_path / "out" / "arnn.json")
    assert result["config"]["dataset"] == "cifar100" and result["config"]["optimizer"] == "sgd"


def test_vqa_budget_protocol_runs_end_to_end(tmp_path):
    vqa.run("arnn", "budget", device="cpu", out_dir=tmp_path, progress=False, budget_minutes=BUDGET_MINUTES,
            overrides={"train": 16, "val": 8, "test": 8, "batch_size": 8, "canvas": 48, "d": 64, "d_att": 32,
                       "channels": 8, "hidden": 16, "att_channels": 8})
    assert _budgeted(tmp_path / "arnn.json")["config"]["model"]["glimpses"] == 2  # MCB's, kept


def test_mgan_budget_protocol_runs_end_to_end(tmp_path):
    tiny = {"train": 24, "val": 2, "test": 2, "image_size": 32, "batch_size": 8, "num_workers": 0,
            "generator": {"conv_dim": 8, "downsample": 1, "repeat": 1, "hidden": 8, "norm": "none"},
            "critic": {"conv_dim": 8, "repeat": 3},
            "classifier": train.TrainConfig(epochs=5, batch_size=8, lr=1e-3, patience=None)}
    test, history = mgan.run("arnn", "budget", dataset="synthetic", device="cpu", out_dir=tmp_path,
                             progress=False, overrides=tiny, budget_minutes=BUDGET_MINUTES)
    _budgeted(tmp_path / "arnn.json")
    judge = json.loads((tmp_path / "classifier.json").read_text())
    assert judge["config"]["budget_s"] == pytest.approx(BUDGET_MINUTES * 60)
    assert test is not None and history[-1]["stopped"] in ("budget", "epochs")


def test_budget_minutes_only_with_the_budget_protocol(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        mbg.main(["--protocol", "book", "--budget-minutes", "5", "--out-dir", str(tmp_path)])
    assert stop.value.code == 2
    assert "budget_minutes (--budget-minutes): expected only with the budget protocol, got 5.0 with " \
           "protocol 'book'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        mbg.main(["--protocol", "budget", "--budget-minutes", "0"])
    assert "--budget-minutes: expected a finite number > 0, got '0'" in capsys.readouterr().err


# --------------------------------------------------------------------------- full mode in the chapters
import collections  # noqa: E402
import os  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402

from arnn_lite import book  # noqa: E402

CHAPTERS = Path(__file__).resolve().parent.parent / "chapters"
FULL = book.BookConfig(device="cpu", mode="full", seed=0, on_colab=False)
BOOK = book.BookConfig(device="cpu", mode="book", seed=0, on_colab=False)
COMMANDS = {"ctx": "python -m arnn_lite.experiments.mbg --model ctx",
            "arnn": "python -m arnn_lite.experiments.mbg --model arnn"}


def test_budget_minutes_come_from_the_environment_when_set(monkeypatch):
    monkeypatch.delenv(book.BUDGET_ENV, raising=False)
    assert book.budget_minutes(10) == 10.0
    monkeypatch.setenv(book.BUDGET_ENV, "0.05")
    assert book.budget_minutes(10) == 0.05
    for bad in ("ten", "0", "-1", "inf", "nan"):
        monkeypatch.setenv(book.BUDGET_ENV, bad)
        with pytest.raises(ValueError, match=f"ARNN_BUDGET_MINUTES: expected a number of minutes > 0, got '{bad}'"):
            book.budget_minutes(10)


def test_full_mode_plan_runs_the_paper_protocol_only_with_the_opt_in(tmp_path):
    plan = book.full_mode_plan(BOOK, COMMANDS, 10, run_paper=True, folder=tmp_path)
    assert plan.budget == plan.paper == ()  # book mode: nothing, even with the opt-in
    assert "Book mode: nothing is trained here" in plan.describe() and "2 runs x 10 min = 20 min" in plan.describe()
    plan = book.full_mode_plan(FULL, COMMANDS, 10, folder=tmp_path)
    assert plan.budget == ("ctx", "arnn") and plan.paper == () and plan.total_minutes == 20
    text = plan.describe()
    assert text.startswith("Full mode on cpu: the budget protocol, 2 runs x 10 min = 20 min of training")
    assert f"python -m arnn_lite.experiments.mbg --model ctx --protocol budget --budget-minutes 10 --out-dir " \
           f"{tmp_path / 'budget-10min'} --resume" in text
    assert "--protocol paper" not in text and "only with RUN_PAPER_PROTOCOL = True" in text
    plan = book.full_mode_plan(FULL, COMMANDS, 10, run_paper=True, folder=tmp_path)
    assert plan.paper == ("ctx", "arnn") and plan.out_dir("paper") == tmp_path / "paper"
    assert f"--protocol paper --out-dir {tmp_path / 'paper'} --resume" in plan.describe()
    assert plan.paper_note("ctx", 3.25) == (f"ctx, paper protocol: expect up to about 3.2 h on cpu (from its "
                                            f"budgeted run's epochs); resumable from {tmp_path / 'paper'}")
    plan = book.full_mode_plan(FULL, COMMANDS, 10, True, tmp_path, note="CELEBA_ROOT is not set")
    assert plan.budget == plan.paper == () and plan.describe().startswith("CELEBA_ROOT is not set. Full mode")
    with pytest.raises(ValueError, match="minutes: expected a number of minutes > 0, got 0"):
        book.full_mode_plan(FULL, COMMANDS, 0)


def test_expected_hours_leave_out_the_warm_up_and_cut_epochs():
    history = [{"seconds": 100.0}, {"seconds": 36.0}, {"seconds": 36.0}, {"seconds": 5.0, "budget_cut": True}]
    assert book.expected_hours(history, 300, scale=3.0) == pytest.approx(36 * 3 * 300 / 3600)
    assert book.expected_hours([{"seconds": 72.0}], 100) == pytest.approx(2.0)
    assert book.expected_hours([{"seconds": 5.0, "budget_cut": True}], 100) is None


def _full_mode_cells(number):
    """The settings cell and the run cell of a chapter's full mode."""
    path = next(CHAPTERS.glob(f"{number}_*.ipynb"))
    cells = json.loads(path.read_text())["cells"]
    k = next(i for i, c in enumerate(cells) if c.get("id") == f"ch{number}-full-settings")
    return "".join(cells[k]["source"]), "".join(cells[k + 1]["source"])


class _Recorder:
    """Stands in for an experiment module: records each ``run`` call, trains nothing."""

    def __init__(self, module):
        self.PROTOCOLS, self.FRONTS, self.calls = module.PROTOCOLS, getattr(module, "FRONTS", None), []

    def run(self, name, protocol, **kw):
        self.calls.append((name, protocol, kw))
        print(f"RUN {name} {protocol}")
        test = collections.defaultdict(lambda: 0.5)
        if protocol == "budget" and self.FRONTS:  # scalability: (test, timing)
            return test, {"seconds_per_step": 0.1}
        return test, [{"seconds": 60.0}, {"seconds": 30.0}]


MODULES = {"09": ("experiment", mbg, ["ctx", "arnn"]), "10": ("experiment", mbg, ["ctx", "arnn"]),
           "11": ("scalability", scalability, list(scalability.FRONTS)), "12": ("experiment", cbam, ["cbam", "arnn"]),
           "13": ("experiment", vqa, ["none", "att", "arnn"]), "14": ("experiment", mgan, ["mgan", "arnn"])}


def _exec_full_mode(number, cfg, run_paper, tmp_path, capsys):
    settings, cell = _full_mode_cells(number)
    assert "RUN_PAPER_PROTOCOL = False" in settings and "BUDGET_MINUTES = budget_minutes(10)" in settings
    settings = settings.replace("RUN_PAPER_PROTOCOL = False", f"RUN_PAPER_PROTOCOL = {run_paper}")
    settings = settings.replace('Path("arnn_runs")', f'Path({str(tmp_path)!r})')
    alias, module, _ = MODULES[number]
    recorder = _Recorder(module)
    history = {"metrics": {"history": [{"seconds": 60.0}, {"seconds": 30.0}]}}
    namespace = {"cfg": cfg, alias: recorder, "os": os,
                 "results": types.SimpleNamespace(read_result=lambda path: history)}
    exec(compile(settings, f"chapter {number} settings", "exec"), namespace)
    exec(compile(cell, f"chapter {number} full mode", "exec"), namespace)
    return recorder.calls, capsys.readouterr().out


@pytest.mark.parametrize("number", sorted(MODULES))
def test_chapter_full_mode_runs_the_budget_protocol_and_the_paper_one_only_on_request(
        number, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(book.BUDGET_ENV, "0.05")
    monkeypatch.setenv("CELEBA_ROOT", str(tmp_path / "celeba-root"))
    names = MODULES[number][2]
    calls, out = _exec_full_mode(number, BOOK, True, tmp_path, capsys)
    assert calls == [] and "Book mode: nothing is trained here" in out  # book mode: commands only

    calls, out = _exec_full_mode(number, FULL, False, tmp_path, capsys)
    assert [(n, p) for n, p, _ in calls] == [(n, "budget") for n in names]
    for _, _, kw in calls:
        assert kw["budget_minutes"] == 0.05 and kw["resume"] is True
        assert Path(kw["out_dir"]).parent.parent == tmp_path and Path(kw["out_dir"]).name == "budget-0.05min"
    total = len(names) + (number == "14")  # chapter 14 also counts the judge
    assert f"{total} runs x 0.05 min = {total * 0.05:g} min of training" in out
    assert out.index("min of training") < out.index("RUN ")  # stated before anything starts

    calls, out = _exec_full_mode(number, FULL, True, tmp_path, capsys)
    paper = [(n, kw) for n, p, kw in calls if p == "paper"]
    assert [n for n, _ in paper] == names and [p for _, p, _ in calls[:len(names)]] == ["budget"] * len(names)
    assert all(kw["resume"] is True and Path(kw["out_dir"]).name == "paper" for _, kw in paper)
    first_paper = out.index(f"RUN {names[0]} paper")
    assert "paper protocol: expect up to about" in out[:first_paper]  # the hours, printed first


def test_chapter_14_full_mode_needs_celeba(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CELEBA_ROOT", raising=False)
    calls, out = _exec_full_mode("14", FULL, True, tmp_path, capsys)
    assert calls == [] and out.startswith("CELEBA_ROOT is not set, so nothing is trained here.")


def test_chapter_09_full_mode_trains_for_its_budget_on_the_cpu(tmp_path, capsys, monkeypatch):
    """Chapter 09's full-mode cells, executed as they are (the real experiment, tiny data)."""
    monkeypatch.setenv(book.BUDGET_ENV, str(BUDGET_MINUTES))
    monkeypatch.setitem(mbg.PROTOCOLS, "budget", {**mbg.PROTOCOLS["budget"], "train": 16, "val": 8, "test": 8,
                                                  "config": dataclasses.replace(mbg.PROTOCOLS["budget"]["config"],
                                                                                batch_size=8)})
    monkeypatch.chdir(tmp_path)
    settings, cell = _full_mode_cells("09")
    namespace = {"cfg": FULL, "experiment": mbg}
    exec(compile(settings, "chapter 09 settings", "exec"), namespace)
    exec(compile(cell.replace("device=cfg.device,", "device=cfg.device, progress=False,"), "chapter 09", "exec"),
         namespace)
    out = capsys.readouterr().out
    folder = tmp_path / "arnn_runs" / "mbg" / f"budget-{BUDGET_MINUTES:g}min"
    for model in ("ctx", "arnn"):
        result = _budgeted(folder / f"{model}.json")
        assert result["protocol"] == "budget" and f"{model}: test accuracy" in out
    assert not (tmp_path / "arnn_runs" / "mbg" / "paper").exists()
