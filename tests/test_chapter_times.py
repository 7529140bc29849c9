"""Chapter execution times come from a build's log, never from prose (issue 19)."""

import importlib.util
import json
from pathlib import Path

import pytest

from arnn_lite import book

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("chapter_times", ROOT / "book" / "chapter_times.py")
chapter_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chapter_times)

LOG = """\x1b[01mreading sources... \x1b[39;49;00m[ 5%] chapters/01_spatial_attention
/x/chapters/01_spatial_attention.ipynb: Executed notebook in 34.06 seconds [mystnb]
/x/chapters/02_skew.ipynb: Executed notebook in 9.01 seconds [mystnb]
/x/book/findings.ipynb: Executed notebook in 3.5 seconds [mystnb]
/x/book/intro.md: Executed notebook in 2.25 seconds [mystnb]
"""


def test_log_lines_become_a_results_file(tmp_path, monkeypatch):
    (tmp_path / "build.log").write_text(LOG)
    out = tmp_path / "data" / "bench" / "chapter_times.json"
    assert chapter_times.main([str(tmp_path / "build.log"), "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["metrics"]["seconds"] == {"01_spatial_attention": 34.06, "02_skew": 9.01,
                                            "findings": 3.5, "intro": 2.25}
    assert {"git_commit", "device", "started", "load_average_1min"} <= set(record["provenance"])
    monkeypatch.setenv("ARNN_DATA_DIR", str(tmp_path / "data"))
    line = book.chapter_time("02_skew")
    assert "this chapter took 9 s to execute" in line and "book mode" in line
    assert "No build" in book.chapter_time("99_missing")


def test_a_log_without_executions_is_refused(tmp_path):
    (tmp_path / "build.log").write_text("nothing executed\n")
    with pytest.raises(SystemExit):
        chapter_times.main([str(tmp_path / "build.log"), "--out", str(tmp_path / "t.json")])


def test_every_chapter_asks_setup_for_its_time():
    for path in sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        first = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
        assert f'setup(chapter="{path.stem}")' in first, path.name
