"""Write the strict build's config: _config.yml with every chapter executed (``force``).

    python book/test_config.py _config.yml _build/config.test.yml

Jupyter Book reads ``sphinx.local_extensions`` paths relative to the config file, so they are
made absolute here: the copy lives in _build/, not next to book/.
"""

import sys
from pathlib import Path

import yaml


def main(source, target):
    source, target = Path(source), Path(target)
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "force"
    local = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in local.items():
        local[name] = str((source.parent / path).resolve())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
