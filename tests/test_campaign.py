"""The CPU campaign's plan: what it runs, in which order, and how it knows where each run stands."""

import dataclasses
from collections import Counter

import pytest

from arnn_lite.experiments import campaign, mbg, results
from arnn_lite.train import TrainConfig, save_checkpoint


def test_the_plan_holds_every_run_the_campaign_needs_once():
    runs = Counter((r.attention, r.seed, r.inverse) for r in campaign.PLAN)
    assert max(runs.values()) == 1
    for seed in range(3):
        for inverse in (False, True):
            for attention in ("none", "ctx", "arnn"):
                assert (attention, seed, inverse) in runs
        assert ("ctx_wide", seed, False) in runs
    for attention in ("unet2", "unet2_arnn", "unet3", "unet3_arnn", "noctx", "san", "arnn_sample"):
        assert (attention, 0, False) in runs
    order = [(r.attention, r.seed, r.inverse) for r in campaign.PLAN]
    assert order.index(("arnn", 0, False)) < order.index(("none", 1, False))  # one full seed first
    assert all(r.why for r in campaign.PLAN)


def test_every_planned_command_reaches_the_experiment_as_planned(monkeypatch, capsys):
    got = []
    monkeypatch.setattr(mbg, "run", lambda *a, **kw: got.append((a, kw)) or ({"accuracy": 0.5}, []))
    for run in campaign.PLAN:
        mbg.main([*run.argv(), "--device", "cpu"])
        (attention, protocol, inverse, seed, *_), kw = got.pop()
        assert (attention, protocol, inverse, seed) == (run.attention, "cpu", run.inverse, run.seed)
        assert kw["variant"] == "narrow"
        assert run.command.startswith("python -m arnn_lite.experiments.mbg --attention ")


TINY = dict(train=20, val=10, test=10, canvas=100, changes_from_recipe=("tiny",),
            config=TrainConfig(epochs=2, batch_size=10, lr=1e-3, patience=None))


def test_a_finished_run_is_done_and_no_longer_pending(tmp_path, monkeypatch, one_thread):
    """End to end: the first planned run, made by the experiment's own command line at a
    tiny stand-in for the cpu protocol, lands where the campaign looks for it."""
    monkeypatch.setenv("ARNN_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(mbg.PROTOCOLS, "cpu", TINY)
    first = campaign.PLAN[0]
    assert campaign.state(first)["state"] == "planned"
    assert campaign.pending()[0] == first
    mbg.main([*first.argv(), "--device", "cpu", "--allow-dirty"])
    s = campaign.state(first)
    assert s["state"] == "done" and s["epochs"] == 2 and s["minutes"] > 0
    assert first not in campaign.pending()
    row = campaign.status()[0]
    assert row["state"] == "done" and row["minutes are"] == "measured"


def test_a_stopped_run_is_started_with_its_epochs(tmp_path):
    run = campaign.PLAN[1]
    folder = tmp_path / run.folder
    folder.mkdir(parents=True)
    save_checkpoint({"history": [{"accuracy": 0.2}, {"accuracy": 0.3}]}, folder / f"{run.stem}.ckpt",
                    record_sha256=True)
    assert campaign.state(run, tmp_path) == {"state": "started", "epochs": 2, "minutes": None}
    assert run in campaign.pending(tmp_path)  # the runner resumes it


def test_a_live_worker_holds_its_run_and_a_dead_ones_lock_is_taken_over(tmp_path):
    import os
    import subprocess
    import sys

    first, second = campaign.PLAN[0], campaign.PLAN[1]
    lock = campaign.claim(first, tmp_path)
    assert lock is not None and lock.read_text() == str(os.getpid())
    assert campaign.claim(first, tmp_path) is None  # held by a live process (this one)
    run, other = campaign.next_run(tmp_path)  # another worker skips to the next run
    assert run == second
    other.unlink()
    lock.unlink()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(gone.stdout.strip())  # a worker killed at a session's end left its lock
    assert campaign.claim(first, tmp_path) == lock and lock.read_text() == str(os.getpid())


def _fake_run(root, model, seconds, threads=1, train=100, epochs=4, campaign_run=False):
    prov = {**results.provenance(0, "cpu", results.now(), seconds, command="x"),
            "device": f"cpu (cpu, {threads} threads)"}
    history = [{"accuracy": 0.5}] * epochs
    protocol, config = "book", {"model": model, "train": train}
    if campaign_run:
        protocol, config = campaign.PROTOCOL, {**config, "variant": campaign.VARIANT}
    results.write_result(root / f"mbg/{protocol}/{model}_{seconds}.json", "mbg", protocol, config,
                         {"history": history}, prov)


def test_costs_come_from_one_thread_runs_of_the_same_attention(tmp_path):
    _fake_run(tmp_path, "ctx", 40.0)  # 40 s / (100 images x 4 epochs) = 0.1 s per image
    _fake_run(tmp_path, "ctx", 80.0)
    _fake_run(tmp_path, "ctx", 999.0, threads=2)  # another thread count: left out
    rate, how = campaign.seconds_per_image("ctx", tmp_path)
    assert rate == pytest.approx(0.15) and "2 one-thread" in how
    assert campaign.seconds_per_image("ctx_wide", tmp_path)[0] == pytest.approx(0.15)  # CTX's, said so
    assert campaign.seconds_per_image("arnn", tmp_path) is None
    rows = {r["run"]: r for r in campaign.status(tmp_path)}
    spec = mbg.PROTOCOLS["cpu"]
    expected = 0.15 * spec["train"] * spec["config"].epochs / 60
    assert rows["MBG ctx seed 0"]["minutes"] == pytest.approx(expected)
    assert rows["MBG arnn seed 0"]["minutes"] is None and rows["MBG arnn seed 0"]["minutes are"] == "no estimate"


def test_once_the_campaign_has_run_an_attention_its_own_runs_set_the_cost(tmp_path):
    """Runs at other sizes (the book protocol, other canvases, older code) are only a first
    guess: the campaign's own finished run of an attention replaces them."""
    _fake_run(tmp_path, "ctx", 40.0)  # book-sized run: 0.1 s per image
    _fake_run(tmp_path, "arnn", 400.0)
    assert "other sizes" in campaign.seconds_per_image("ctx", tmp_path)[1]
    _fake_run(tmp_path, "ctx", 8.0, campaign_run=True)  # the campaign's: 0.02 s per image
    rate, how = campaign.seconds_per_image("ctx", tmp_path)
    assert rate == pytest.approx(0.02) and "1 campaign run" in how
    rate, how = campaign.seconds_per_image("ctx_wide", tmp_path)  # no CTX-wide run: CTX's campaign cost
    assert rate == pytest.approx(0.02) and "CTX's cost" in how
    assert campaign.seconds_per_image("arnn", tmp_path)[0] == pytest.approx(1.0)  # no campaign run yet


def test_the_cpu_protocol_is_the_campaigns():
    spec = mbg.PROTOCOLS["cpu"]
    assert (spec["train"], spec["test"]) == (10000, 5000)
    assert spec["config"].epochs == mbg.CPU_EPOCHS and spec["config"].patience is None
    assert dataclasses.replace(spec["config"], epochs=8, patience=4) == mbg.PROTOCOLS["book"]["config"]
