"""arnn_lite.progress: a tqdm bar for a reader, one summary line in the static book."""

import ast
from pathlib import Path

import pytest
import torch

from arnn_lite import AttentionRNN, progress
from arnn_lite.toys import shapes, two_targets

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _live_by_default(monkeypatch):
    monkeypatch.delenv(progress.STATIC_ENV, raising=False)


def test_static_prints_one_line_and_no_bar(capsys):
    items = list(progress.bar(range(7), desc="training", static=True))
    out, err = capsys.readouterr()
    assert items == list(range(7))
    assert err == "", "tqdm writes its bar to stderr: there must be none"
    (line,) = out.splitlines()
    assert line.startswith("training: 7 steps in ") and line.endswith(" s")


def test_static_line_says_when_a_loop_stops_early(capsys):
    for k in progress.bar(range(10), desc="epoch 1/3", unit="batches", static=True):
        if k == 3:
            break
    assert capsys.readouterr().out.startswith("epoch 1/3: 4 of 10 batches in ")


def test_live_is_tqdm_and_disable_is_silent(capsys):
    from tqdm.auto import tqdm

    assert isinstance(progress.bar(range(3), desc="x", static=False), tqdm)
    plain = [1, 2]
    assert progress.bar(plain, disable=True, static=True) is plain
    assert list(progress.bar(total=3, static=True)) == [0, 1, 2]
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["3 steps in 0.0 s"]


def test_environment_switch(monkeypatch):
    assert not progress.static_build()
    for value, expected in [("1", True), ("yes", True), ("0", False), ("", False), ("false", False)]:
        monkeypatch.setenv(progress.STATIC_ENV, value)
        assert progress.static_build() is expected, value


def test_no_iterable_and_no_total_is_refused():
    with pytest.raises(ValueError, match="give an iterable or total"):
        progress.bar()


def test_training_loops_print_a_summary_in_the_static_book(monkeypatch, capsys):
    monkeypatch.setenv(progress.STATIC_ENV, "1")
    torch.manual_seed(0)
    shapes.train_toy(shapes.ToyNet("none", channels=4), shapes.make_toy(8, size=16, seed=0), steps=2,
                  batch_size=4)
    two_targets.train_two_targets(AttentionRNN(3, hidden_channels=4, query_dim=3),
                          two_targets.make_two_targets(4, size=7), steps=2, batch_size=2)
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("training: ")]
    assert len(lines) == 2 and "\r" not in err and "it/s" not in err, (out, err)


def test_no_module_imports_tqdm_directly():
    """Every loop with progress goes through progress.bar (so the book gets summary lines)."""
    offenders = []
    for path in sorted((ROOT / "arnn_lite").rglob("*.py")):
        if path.name == "progress.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == "tqdm" or n.startswith("tqdm.") for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"use arnn_lite.progress.bar instead of tqdm in {offenders}"


def test_progress_does_not_import_the_book_runtime():
    tree = ast.parse((ROOT / "arnn_lite" / "progress.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not any("book" in (m or "") for m in imported)
