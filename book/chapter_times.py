"""Record how long each chapter took to execute in a book build, from the build's log.

    python book/chapter_times.py _build/build-strict.log [--out data/bench/chapter_times.json]

Jupyter Book logs one line per executed notebook ("chapters/NAME.ipynb: Executed notebook in
S seconds"; executed pages of book/, such as findings.ipynb and the text notebook intro.md,
too); this writes those seconds into a results file with provenance (machine, threads,
commit, date, the load average while it was recorded), which each chapter's setup() reads to
tell the reader how long the chapter takes, so no chapter types a duration by hand.
`make chapter-times` runs it on the log of the last `make build-strict` (or `make test`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arnn_lite.experiments import results  # noqa: E402

# Chapters, and executed pages of book/ (the findings page, the intro): keyed by file stem.
LINE = re.compile(r"(?:chapters|book)/(?P<name>[\w-]+)\.(?:ipynb|md): Executed notebook in (?P<s>[\d.]+) seconds")


def parse(log: str) -> dict[str, float]:
    """``{chapter name: seconds}`` from a Jupyter Book build log (colour codes allowed)."""
    times = {m["name"]: float(m["s"]) for m in LINE.finditer(re.sub(r"\x1b\[[0-9;]*m", "", log))}
    if not times:
        raise ValueError("no 'Executed notebook in ... seconds' line in the log: was the book "
                         "built with execution (make build-strict), and is this its log?")
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("log", type=Path, help="a Jupyter Book build log")
    p.add_argument("--out", type=Path, default=ROOT / "data" / "bench" / "chapter_times.json")
    p.add_argument("--mode", default=os.environ.get("ARNN_MODE", "book"))
    a = p.parse_args(argv)
    try:
        times = parse(a.log.read_text(errors="replace"))
    except (OSError, ValueError) as err:
        p.error(str(err))
    prov = results.provenance(0, "cpu", results.now(), sum(times.values()),
                              "python book/chapter_times.py " + " ".join(map(str, argv or sys.argv[1:])))
    prov["cpus"] = os.cpu_count()
    prov["load_average_1min"] = round(os.getloadavg()[0], 2)
    results.write_result(a.out, "chapter_times", a.mode, {"source_log": str(a.log), "mode": a.mode},
                         {"seconds": times}, prov)
    print(f"{len(times)} chapters, {sum(times.values()):.0f} s in all -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
