"""The CPU reproduction campaign: every planned MBG run in the order it is run, its command,
where it stands and what it costs.

    python -m arnn_lite.experiments.campaign                          # the plan, each run's state
    python -m arnn_lite.experiments.campaign --next 3                 # the next three commands
    python -m arnn_lite.experiments.campaign --run       # run what is left (one per core)

Every run uses the ``cpu`` protocol of :mod:`arnn_lite.experiments.mbg` on the ``narrow``
variant, so its results land in ``data/results/mbg_narrow/cpu`` (MBG^inv:
``mbg_inv_narrow/cpu``). A run killed when a working session ends keeps its checkpoint; the
runner starts every run with ``--resume``, so the next session continues it where it stopped.
Two ``--run`` processes (one thread each) use two cores: each takes the first run that is
neither done nor held by the other, through a lock file next to the run's results.

Costs are estimates until a run is done: seconds per training image, measured by the
campaign's finished runs with the same attention, or before there is one by the one-thread
MBG runs already in ``data/results`` (:func:`seconds_per_image`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .._repo import data_dir
from ..train import CheckpointError, load_checkpoint, recorded_sha256
from . import results
from .common import results_stem
from .mbg import PROTOCOLS

__all__ = ["PROTOCOL", "VARIANT", "PlannedRun", "PLAN", "state", "seconds_per_image", "status",
           "pending", "claim", "next_run", "main"]

PROTOCOL, VARIANT = "cpu", "narrow"
HEADLINE = ("none", "ctx", "arnn")


@dataclass(frozen=True)
class PlannedRun:
    """One run of the campaign: an MBGNet ``attention``, a ``seed``, MBG or MBG^inv."""
    attention: str
    seed: int
    inverse: bool = False
    why: str = ""

    @property
    def folder(self) -> str:
        """Its results folder under ``data/results`` (what ``experiments.mbg`` writes to)."""
        return f"{'mbg_inv' if self.inverse else 'mbg'}_{VARIANT}/{PROTOCOL}"

    @property
    def stem(self) -> str:
        return results_stem(self.attention, self.seed)

    def argv(self) -> list[str]:
        return (["--attention", self.attention, "--protocol", PROTOCOL, "--variant", VARIANT,
                 "--seed", str(self.seed)] + (["--inverse"] if self.inverse else []))

    @property
    def command(self) -> str:
        return " ".join(["python -m arnn_lite.experiments.mbg", *self.argv()])

    @property
    def name(self) -> str:
        return f"{'MBGⁱⁿᵛ' if self.inverse else 'MBG'} {self.attention} seed {self.seed}"


def _plan() -> tuple[PlannedRun, ...]:
    """The order runs are made in: each seed's headline triple on MBG, its capacity-matched
    CTX, then the same triple on MBG^inv; seed 0 first, so one complete seed exists early;
    then the supplement's U-Net pairs (the only rows with paper numbers) and the other
    baselines, one seed each."""
    runs = []
    for seed in range(3):
        runs += [PlannedRun(a, seed, False, "NONE, CTX and ARNN on MBG, three seeds") for a in HEADLINE]
        runs.append(PlannedRun("ctx_wide", seed, False, "CTX with ARNN's parameter count, three seeds"))
        runs += [PlannedRun(a, seed, True, "NONE, CTX and ARNN on MBGⁱⁿᵛ, three seeds") for a in HEADLINE]
    runs += [PlannedRun(a, 0, False, "supplement Table 1's U-Net pairs, one seed")
             for a in ("unet2", "unet2_arnn", "unet3", "unet3_arnn")]
    runs += [PlannedRun(a, 0, False, "the other baselines, one seed") for a in ("noctx", "san", "arnn_sample")]
    return tuple(runs)


PLAN = _plan()


def _results_root(root=None) -> Path:
    return Path(root) if root is not None else data_dir() / "results"


def state(run: PlannedRun, root=None) -> dict:
    """Where ``run`` stands: ``{"state": "done" | "started" | "planned", "epochs": done,
    "minutes": measured (done runs) or None}``. A started run is one with a checkpoint and no
    results file (stopped at a session's end, or running now)."""
    folder = _results_root(root) / run.folder
    result, ckpt = folder / f"{run.stem}.json", folder / f"{run.stem}.ckpt"
    if result.exists():
        r = results.read_result(result)
        return {"state": "done", "epochs": len(r["metrics"]["history"]),
                "minutes": r["provenance"]["duration_s"] / 60}
    if ckpt.exists():
        try:
            epochs = len(load_checkpoint(ckpt, recorded_sha256(ckpt))["history"])
        except (CheckpointError, OSError, KeyError):
            epochs = None  # being written, or damaged: the run itself will say
        return {"state": "started", "epochs": epochs, "minutes": None}
    return {"state": "planned", "epochs": 0, "minutes": None}


def _one_thread(result: dict) -> bool:
    return "1 threads" in result["provenance"]["device"]


def seconds_per_image(attention: str, root=None) -> tuple[float, str] | None:
    """Median seconds per training image (training and validation passes, as the run's
    duration counts them) of one-thread MBG runs in ``data/results`` with ``attention``,
    and what it was measured on; ``None`` when there is none. The campaign's own runs (its
    protocol and variant) are used once one exists; until then every one-thread MBG run of
    that attention (other sizes, so a rougher guess). ``ctx_wide`` falls back to CTX's."""
    own, other = [], []
    for r in results.load_results(root=_results_root(root)):
        config = r.get("config", {})
        if (r["experiment"] in ("mbg", "mbg_inv") and config.get("model") == attention and _one_thread(r)
                and r["metrics"].get("history")):
            images = config["train"] * len(r["metrics"]["history"])
            mine = r["protocol"] == PROTOCOL and config.get("variant") == VARIANT
            (own if mine else other).append(r["provenance"]["duration_s"] / images)
    if own:
        return statistics.median(own), f"{len(own)} campaign run(s) of {attention}"
    if attention == "ctx_wide":
        got = seconds_per_image("ctx", root)
        if got is not None and "campaign" in got[1]:
            return got[0], got[1] + " (CTX-wide: CTX's cost)"
    if other:
        return statistics.median(other), f"{len(other)} one-thread run(s) of {attention} at other sizes"
    if attention == "ctx_wide":
        return None if got is None else (got[0], got[1] + " (CTX-wide: CTX's cost)")
    return None


def status(root=None, runs=None) -> list[dict]:
    """One row per planned run (or per run of ``runs``, in their order): its name, state,
    epochs done, minutes (measured when done, else estimated for the whole run) and command."""
    spec = PROTOCOLS[PROTOCOL]
    images = spec["train"] * spec["config"].epochs
    rows, rates = [], {}
    for run in PLAN if runs is None else runs:
        s = state(run, root)
        if s["minutes"] is not None:
            minutes, how = s["minutes"], "measured"
        else:
            if run.attention not in rates:  # each scans every results file: once per attention
                rates[run.attention] = seconds_per_image(run.attention, root)
            rate = rates[run.attention]
            minutes, how = (None, "no estimate") if rate is None else (rate[0] * images / 60, "estimated")
        rows.append({"run": run.name, "state": s["state"], "epochs": s["epochs"], "minutes": minutes,
                     "minutes are": how, "command": run.command, "why": run.why})
    return rows


def pending(root=None) -> list[PlannedRun]:
    """The runs not done yet, in plan order (started ones included: they resume)."""
    return [run for run in PLAN if state(run, root)["state"] != "done"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def claim(run: PlannedRun, root=None) -> Path | None:
    """Take ``run`` for this process: create ``<stem>.lock`` (holding this process's id) next
    to its results, atomically, and return its path; ``None`` when a live process holds it. A
    lock left by a process that is gone (killed at a session's end) is taken over."""
    lock = _results_root(root) / run.folder / f"{run.stem}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(lock.read_text() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and _alive(holder):
                return None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return lock
    return None


def next_run(root=None) -> tuple[PlannedRun, Path] | None:
    """The first run not done and not held by another live worker, claimed (:func:`claim`)."""
    for run in pending(root):
        lock = claim(run, root)
        if lock is not None:
            return run, lock
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m arnn_lite.experiments.campaign", description=__doc__.split("\n")[0])
    p.add_argument("--next", type=int, metavar="N", help="print the next N commands")
    p.add_argument("--run", action="store_true",
                   help="run what is left, in order, each with --resume (start one per core: they share the work)")
    a = p.parse_args(argv)
    if a.next is not None:
        for run in pending()[:a.next]:
            print(run.command + " --resume")
        return 0
    if a.run:
        while taken := next_run():
            run, lock = taken
            print(f"campaign: {run.command} --resume", flush=True)
            try:
                code = subprocess.call([sys.executable, "-m", "arnn_lite.experiments.mbg", *run.argv(), "--resume"],
                                       env=os.environ)
            finally:
                lock.unlink(missing_ok=True)
            if code != 0:
                print(f"campaign: {run.name} failed (exit {code}); stopping", flush=True)
                return code
        return 0
    rows = status()
    for r in rows:
        minutes = "?" if r["minutes"] is None else f"{r['minutes']:.0f} min ({r['minutes are']})"
        print(f"{r['run']:<28} {r['state']:<8} {r['epochs'] if r['epochs'] is not None else '?':>3} epochs  {minutes}")
    total = sum(r["minutes"] or 0 for r in rows)
    done = sum(r["minutes"] or 0 for r in rows if r["state"] == "done")
    print(f"{sum(r['state'] == 'done' for r in rows)} of {len(rows)} runs done; about {total / 60:.1f} CPU hours "
          f"in all, {done / 60:.1f} of them spent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
