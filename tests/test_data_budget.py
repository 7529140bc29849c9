"""The shipped data stays within its budget: under 5 MB a file, 40 MB in all (git-tracked)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_data_files():
    out = subprocess.run(["git", "ls-files", "data"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (e.g. an sdist): check what is there
        return [p for p in (ROOT / "data").rglob("*") if p.is_file() and p.suffix != ".ckpt"]
    return [ROOT / line for line in out.stdout.splitlines() if (ROOT / line).exists()]


def test_every_shipped_file_is_under_5_mb_and_all_under_40_mb():
    files = tracked_data_files()
    assert files, "no data files found"
    big = {str(p.relative_to(ROOT)): p.stat().st_size for p in files if p.stat().st_size > 5 * 2**20}
    assert not big, f"over the 5 MB per-file budget: {big}"
    assert sum(p.stat().st_size for p in files) < 40 * 2**20
