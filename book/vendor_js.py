"""Vendor the book's JavaScript (MathJax 3, the ipywidgets HTML manager, RequireJS) from npm.

Why a script and not `npm install`: we need a handful of files from three packages, not a
node_modules tree. `npm pack NAME@VERSION` fetches each tarball with npm's own registry
settings; the tarball is checked against the sha512 `dist.integrity` pinned below, and only the files
the built book loads are copied to `book/vendor/` (gitignored; listed in `html_extra_path`,
so its contents land at the root of `_build/html`). About 6 MB on disk; nothing is committed.

Usage: python book/vendor_js.py [--dest book/vendor] [--cache DIR]
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

# name, version, sha512 integrity (from `npm view NAME@VERSION dist.integrity`),
# destination folder, globs inside the tarball's `package/` to keep.
PACKAGES = [
    ("mathjax", "3.2.2",
     "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
     "mathjax",
     # The combined component Sphinx loads, its fonts, and what it may load on demand
     # (TeX extensions via autoload, accessibility and menu parts). Not sre/ (speech, 4 MB).
     ["LICENSE", "package.json", "es5/tex-mml-chtml.js", "es5/output/chtml/fonts/woff-v2/*",
      "es5/input/tex/extensions/*", "es5/input/tex/extensions/*/*", "es5/a11y/*", "es5/ui/*"]),
    ("@jupyter-widgets/html-manager", "1.0.15",
     "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
     "jupyter-widgets",
     # The AMD embedder (ipywidgets 8 base + controls built in) and the icon fonts it
     # references next to itself (modern browsers use woff2, then woff).
     ["package.json", "dist/embed-amd.js", "dist/*.woff2", "dist/*.woff"]),
    ("requirejs", "2.3.8",
     "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
     "requirejs",
     ["package.json", "require.js"]),
]


# embed-amd.js finds its icon fonts relative to the RequireJS URL of its module, which is
# the page's own folder unless RequireJS is told where the manager lives. Loaded between
# require.js and embed-amd.js (see nb_ipywidgets_js in _config.yml).
REQUIRE_PATHS_JS = """\
// Written by book/vendor_js.py. Map the widget manager's AMD module to this folder so
// the fonts it loads next to itself resolve here, offline, from any page of the book.
(function () {
  var here = document.currentScript.src.replace(/\\/[^\\/]*$/, "");
  require.config({paths: {"@jupyter-widgets/html-manager/dist": here}});
})();
"""


def npm_pack(name: str, version: str, cache: Path) -> Path:
    """Fetch ``name@version``'s tarball into ``cache`` with ``npm pack``; return its path."""
    if shutil.which("npm") is None:
        raise SystemExit("vendor_js: npm not found; install Node.js's npm (Debian: apt-get install npm)")
    cache.mkdir(parents=True, exist_ok=True)
    print(f"vendor_js: npm pack {name}@{version}", flush=True)
    out = subprocess.run(["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(cache)],
                         capture_output=True, text=True, check=True).stdout
    return cache / json.loads(out)[0]["filename"]


def fetch(name: str, version: str, integrity: str, cache: Path) -> bytes:
    """Read a package tarball (``npm pack`` it on first use) and verify its sha512 integrity."""
    algo, _, expected = integrity.partition("-")
    path = cache / f"{name.replace('/', '+')}-{version}.tgz"
    if not path.exists():
        npm_pack(name, version, cache).replace(path)
    data = path.read_bytes()
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        path.unlink()
        raise SystemExit(f"vendor_js: integrity mismatch for {name}@{version}: "
                         f"expected {integrity}, got {algo}-{actual}")
    return data


def extract(data: bytes, globs: list[str], dest: Path) -> int:
    """Copy the tarball members matching `globs` (paths under `package/`) into `dest`."""
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            rel = member.name.split("/", 1)[-1]
            if member.isfile() and any(fnmatch.fnmatchcase(rel, g) for g in globs):
                target = dest / (rel[len("dist/"):] if rel.startswith("dist/") else rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path("book/vendor"))
    parser.add_argument("--cache", type=Path, default=Path(".venv/npm-tarballs"))
    args = parser.parse_args()
    stamp = args.dest / "VENDORED.json"
    wanted = {"packages": [{"name": n, "version": v, "integrity": i} for n, v, i, _, _ in PACKAGES],
              "require-paths.js": hashlib.sha256(REQUIRE_PATHS_JS.encode()).hexdigest()}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        print(f"vendor_js: {args.dest} is up to date")
        return
    shutil.rmtree(args.dest, ignore_errors=True)
    for name, version, integrity, folder, globs in PACKAGES:
        count = extract(fetch(name, version, integrity, args.cache), globs, args.dest / folder)
        print(f"vendor_js: {name}@{version}: {count} files -> {args.dest / folder}")
    (args.dest / "jupyter-widgets" / "require-paths.js").write_text(REQUIRE_PATHS_JS)
    stamp.write_text(json.dumps(wanted, indent=1) + "\n")


if __name__ == "__main__":
    main()
