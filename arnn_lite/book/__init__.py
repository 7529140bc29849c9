"""Book runtime: the one setup cell every chapter starts with (DESIGN.md §5).

    from arnn_lite.book import setup
    cfg = setup()          # BookConfig(device='cpu', mode='book', seed=0, on_colab=False)

`setup()` installs the package on Colab (reusing Colab's own torch), picks the device,
seeds python/numpy/torch, chooses book or full mode and sets figure defaults. Later cells
read the same settings with `current()`, `is_full()` or `budget(book=..., full=...)`.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from .. import _repo
from .._checks import check_choice

# Repository facts live in arnn_lite._repo; the book re-exports the ones chapters and
# teachers use (`book.data_dir()`, `book.REPOSITORY_URL`).
from .._repo import (  # noqa: F401
    PLACEHOLDER_URL,
    REPOSITORY_BRANCH,
    REPOSITORY_ENV,
    REPOSITORY_URL,
    SET_REPOSITORY,
    checkout,
    data_dir,
    on_colab,
    repository_url,
)

# The package's dependencies that Colab may lack; never torch/torchvision (Colab's own build,
# matched to its CUDA, is reused). Keep in sync with pyproject.toml (tested).
LIGHT_DEPS = ("numpy", "matplotlib", "pillow", "cycler", "ipywidgets", "tqdm", "scikit-image")
MODES = ("book", "full")
MODE_ENV = "ARNN_MODE"

# Okabe & Ito's colour-blind-safe palette (no red/green pair), each colour with its own line
# style and marker, so up to eight series stay apart in greyscale print and for every reader.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3)), (0, (8, 3)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
MIN_FONT_PT = 8  # no text on a figure smaller than this


def _prop_cycle():
    from cycler import cycler

    return cycler(color=list(PALETTE)) + cycler(linestyle=list(LINESTYLES)) + \
        cycler(marker=list(MARKERS))


FIGURE_DEFAULTS = {
    "figure.figsize": (6.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "image.cmap": "viridis",
    "image.interpolation": "nearest",  # attention masks are pixel grids: no smoothing
    "axes.titlesize": "medium",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.markersize": 4.0,
    "font.size": 10.0,  # tick and legend labels ("small", x0.833) stay above MIN_FONT_PT
    "legend.fontsize": "small",
    "xtick.labelsize": "small",
    "ytick.labelsize": "small",
}


@dataclasses.dataclass(frozen=True)
class BookConfig:
    """What `setup()` decided.

    Args:
        device: ``"cuda"`` or ``"cpu"``.
        mode: ``"book"`` (short CPU runs, shipped results) or ``"full"`` (the real protocol).
        seed: the seed given to python, numpy and torch.
        on_colab: whether the notebook runs on Google Colab.
    """

    device: str
    mode: str
    seed: int
    on_colab: bool


_CURRENT: BookConfig | None = None


IMPORT_NAMES = {"scikit-image": "skimage", "pillow": "PIL"}  # distribution name -> module name, where they differ


def missing_light_deps() -> list[str]:
    """The entries of `LIGHT_DEPS` that cannot be imported."""
    return [name for name in LIGHT_DEPS
            if importlib.util.find_spec(IMPORT_NAMES.get(name, name)) is None]


def pip_commands() -> list[list[str]]:
    """The pip commands that install what is missing on Colab, never touching torch.

    The package itself with ``--no-deps`` (from the checkout it is imported from, else from
    the repository), then only the missing `LIGHT_DEPS`; no ``--upgrade``, so everything
    Colab already has (torch, torchvision, numpy, ...) stays as it is.
    """
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    commands = []
    if not _is_installed():
        local = _repo.checkout()
        source = str(local) if local else \
            f"git+{_repo.repository_url('install arnn_lite')}@{_repo.REPOSITORY_BRANCH}"
        commands.append(pip + ["--no-deps", source])
    missing = missing_light_deps()
    if missing:
        commands.append(pip + missing)
    return commands


def _is_installed() -> bool:
    """True if pip knows an installed `arnn_lite` distribution (editable counts)."""
    try:
        importlib.metadata.distribution("arnn_lite")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def install_on_colab(quiet: bool = False) -> bool:
    """The Colab install: the package and its light dependencies, then the shipped ``data/``.

    Chapters can import `arnn_lite` from a checkout on Colab; installing it makes it
    importable from subprocesses too (DataLoader workers, `python -m arnn_lite...`).
    ``data/`` is cloned once per runtime (:func:`data_dir`). While `REPOSITORY_URL` is the
    placeholder this stops with one sentence saying what to set, before any pip or git call.

    Returns:
        True if pip was run.
    """
    commands = pip_commands()
    for command in commands:
        if not quiet:
            print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)
    data_dir()
    return bool(commands)


def resolve_mode(mode: str | None, device: str) -> str:
    """The mode: $ARNN_MODE wins, then the `mode` argument, then full on GPU, book on CPU."""
    if mode is not None:
        check_choice(mode, MODES, "mode")
    env = os.environ.get(MODE_ENV)
    if env:
        check_choice(env, MODES, MODE_ENV)
        return env
    if mode is not None:
        return mode
    return "full" if device == "cuda" else "book"


def seed_everything(seed: int) -> None:
    """Seed python's `random`, numpy's global generator and torch (all devices)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_figure_defaults() -> None:
    """Apply the book's matplotlib defaults (does not pick a backend)."""
    import matplotlib

    matplotlib.rcParams.update(FIGURE_DEFAULTS)
    matplotlib.rcParams["axes.prop_cycle"] = _prop_cycle()


def chapter_time(chapter: str) -> str:
    """One sentence on how long ``chapter`` (e.g. ``"01_spatial_attention"``) took to execute
    in the last recorded build (``data/bench/chapter_times.json``, written by
    ``book/chapter_times.py``), or that no build time is recorded for it."""
    try:
        record = json.loads((data_dir() / "bench" / "chapter_times.json").read_text())
        seconds = record["metrics"]["seconds"][chapter]
        prov = record["provenance"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"No build of {chapter} has a recorded execution time yet."
    return (f"In the last recorded build ({record['protocol']} mode, {prov['device']}, "
            f"{prov['started'][:10]}, commit {prov['git_commit'][:7]}) this chapter took "
            f"{seconds:.0f} s to execute.")


def setup(seed: int = 0, mode: str | None = None, quiet: bool = False,
          chapter: str | None = None, repository: str | None = None) -> BookConfig:
    """Prepare a chapter: Colab install, device, seeds, mode and figure defaults.

    Args:
        seed: seed for python, numpy and torch.
        mode: ``"book"`` or ``"full"``; ``None`` picks full on a GPU, book on CPU.
            The environment variable ``ARNN_MODE`` overrides it (CI pins ``book``).
        quiet: print nothing.
        chapter: the chapter's file name without suffix: also print how long it took in the
            last recorded build (:func:`chapter_time`), so no page types a duration by hand.
        repository: the GitHub URL to install from and clone the data of, when it is not
            `REPOSITORY_URL` (a fork's student copies pass the fork; sets ``$ARNN_REPOSITORY``).

    Returns:
        The `BookConfig`, also available later as `current()`.
    """
    global _CURRENT
    if repository is not None:
        if not isinstance(repository, str) or not repository.startswith("https://") \
                or len(repository.split()) != 1:
            raise ValueError(f"repository: expected the https URL of the book's repository "
                             f"(e.g. a fork's), got {repository!r}")
        os.environ[REPOSITORY_ENV] = repository.rstrip("/")
    colab = on_colab()
    if colab:
        install_on_colab(quiet=quiet)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = BookConfig(device=device, mode=resolve_mode(mode, device), seed=seed,
                        on_colab=colab)
    seed_everything(seed)
    set_figure_defaults()
    _CURRENT = config
    if not quiet:  # the provenance of every number this page computes live
        from .._repo import git_commit, now
        print(f"arnn_lite: device={config.device} mode={config.mode} seed={config.seed} "
              f"colab={config.on_colab} torch={torch.__version__} "
              f"commit={git_commit()[:12]} date={now()}")
        if chapter is not None:
            print(chapter_time(chapter))
    return config


def current() -> BookConfig:
    """The `BookConfig` of the last `setup()` call."""
    if _CURRENT is None:
        raise RuntimeError("arnn_lite.book.setup() has not been called in this session; "
                           "run the chapter's setup cell first")
    return _CURRENT


def is_full() -> bool:
    """True in full mode (the real protocol), False in book mode."""
    return current().mode == "full"


def budget(*, book, full):
    """Pick a size by mode, e.g. ``epochs = budget(book=2, full=300)``."""
    return full if is_full() else book


# --------------------------------------------------------------------------- full mode
# Full mode trains each model for a stated time (the experiments' `budget` protocol) and runs
# the paper protocol (hours per model) only when the reader opts in (DESIGN.md §5).
BUDGET_ENV = "ARNN_BUDGET_MINUTES"


def budget_minutes(default: float = 10.0) -> float:
    """Minutes of training per model in full mode: ``$ARNN_BUDGET_MINUTES`` when set (tests
    run a chapter's full mode in seconds with it), else ``default``."""
    text = os.environ.get(BUDGET_ENV)
    if not text:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise ValueError(f"{BUDGET_ENV}: expected a number of minutes > 0, got {text!r}")
    return value


@dataclasses.dataclass(frozen=True)
class FullModePlan:
    """What a chapter's full-mode cell runs (made by :func:`full_mode_plan`).

    Args:
        budget: names of the runs of the ``budget`` protocol, in order (empty in book mode).
        paper: names of the runs of the paper protocol (empty unless the reader opted in).
        commands: for each name, the command line of that run without protocol options.
        minutes: training minutes per budgeted run.
        folder: where results and checkpoints go (``budget-<M>min/`` and ``paper/`` in it).
        note: why nothing runs although the mode is full (e.g. missing data), or ``""``.
    """

    mode: str
    device: str
    budget: tuple
    paper: tuple
    commands: dict
    minutes: float
    folder: Path
    note: str = ""

    @property
    def total_minutes(self) -> float:
        """Training minutes of all budgeted runs together (runs x minutes)."""
        return len(self.commands) * self.minutes

    def out_dir(self, protocol: str) -> Path:
        """The folder of ``protocol``'s results and checkpoints."""
        return self.folder / ("paper" if protocol == "paper" else f"budget-{self.minutes:g}min")

    def command(self, name: str, protocol: str) -> str:
        """The command line that runs ``name`` with ``protocol`` (both resume: a run cut off by
        the end of a Colab session continues; one that ended reports its results again)."""
        extra = f" --budget-minutes {self.minutes:g}" if protocol == "budget" else ""
        return (f"{self.commands[name]} --protocol {protocol}{extra} "
                f"--out-dir {self.out_dir(protocol)} --resume")

    def paper_note(self, name: str, hours) -> str:
        """The line printed before ``name``'s paper run starts: its expected hours on this
        device (:func:`expected_hours`) and where it resumes from."""
        when = ("expected time not estimated (no whole budgeted epoch to time it by)" if hours is None
                else f"expect up to about {hours:.1f} h on {self.device} (from its budgeted run's epochs)")
        return f"{name}, paper protocol: {when}; resumable from {self.out_dir('paper')}"

    def describe(self) -> str:
        """What will run, in a few lines, stated before anything starts."""
        n, total = len(self.commands), self.total_minutes
        size = f"{n} run{'s' if n != 1 else ''} x {self.minutes:g} min = {total:g} min of training"
        lines = [self.command(name, "budget") for name in self.commands]
        if self.budget:
            head = (f"Full mode on {self.device}: the budget protocol, {size} (plus data preparation "
                    f"and evaluation), into {self.out_dir('budget')}:")
        else:
            why = self.note or "book mode: nothing is trained here"
            head = f"{why[0].upper()}{why[1:]}. Full mode (a GPU, or ARNN_MODE=full) would run {size}:"
        if self.paper:
            tail = (f"Then the paper protocol (RUN_PAPER_PROTOCOL = True; hours per run, estimated "
                    f"after each budgeted run), resumable from {self.out_dir('paper')}:")
            lines += [tail] + [self.command(name, "paper") for name in self.paper]
        else:
            lines.append("The paper protocol (hours per run) runs only with RUN_PAPER_PROTOCOL = True.")
        return "\n".join([head] + [f"  {line}" if line.startswith("python") else line for line in lines])


def full_mode_plan(cfg: BookConfig, commands: dict, minutes: float, run_paper: bool = False,
                   folder="arnn_runs", note: str = "") -> FullModePlan:
    """What a chapter's full-mode cell runs: in full mode every run of ``commands``
    (``{name: "python -m ... --attention name"}``) with the ``budget`` protocol for ``minutes``
    each, and the paper protocol only when ``run_paper`` (the reader's opt-in); in book mode,
    or with a ``note`` saying what full mode lacks here, nothing. Results and checkpoints go
    under ``folder``."""
    if not (isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and 0 < minutes < float("inf")):
        raise ValueError(f"minutes: expected a number of minutes > 0, got {minutes!r}")
    runs = tuple(commands) if cfg.mode == "full" and not note else ()
    device = cfg.device
    if device == "cuda" and torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name()})"
    return FullModePlan(cfg.mode, device, runs, runs if run_paper else (), dict(commands), float(minutes),
                        Path(folder), note)


def expected_hours(history: list, epochs: int, scale: float = 1.0):
    """Hours that ``epochs`` epochs would take at the pace of a budgeted run's ``history``
    on data ``scale`` times as large: the mean seconds of its whole epochs, the first
    (warm-up) left out when there are others. ``None`` without a whole epoch. An upper
    estimate where early stopping ends the run sooner."""
    whole = [h["seconds"] for h in history if not h.get("budget_cut")]
    if len(whole) > 1:
        whole = whole[1:]
    if not whole:
        return None
    return sum(whole) / len(whole) * scale * epochs / 3600


def recipe_changes(runs, config) -> dict:
    """Training settings where shipped results files differ from a protocol's today:
    ``{field: (values in the files, today's value)}`` for every field of ``config`` (a
    :class:`~arnn_lite.train.TrainConfig`, e.g. ``PROTOCOLS["book"]["config"]``) but the
    seed. Fields a file predates are left out. Chapters print it under their results tables."""
    today = dataclasses.asdict(config)
    changes = {}
    for key, value in today.items():
        shipped = list(dict.fromkeys(r["config"][key] for r in runs if key in r["config"]))
        if key != "seed" and shipped and shipped != [value]:
            changes[key] = (shipped, value)
    return changes
