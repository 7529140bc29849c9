"""Set the GitHub repository the book is published from, in every place that names it.

    python book/set_repository.py https://github.com/OWNER/REPO [--branch main]
    python book/set_repository.py --check     # list the places; fail if one lacks the URL

The source of truth is ``REPOSITORY_URL`` and ``REPOSITORY_BRANCH`` in arnn_lite/_repo.py
(the package needs them on Colab, where _config.yml is not installed). This script reads
the current values there and rewrites every copy (tests/test_book_setup.py checks that they
agree): those two constants; _config.yml's ``repository`` block (the launch and repository
buttons); pyproject.toml's project URLs; README.md; and in every chapter the Colab badge
under the title and the install line of the setup cell (``git+URL@BRANCH``), which also
clones ``data/`` on Colab. The GitHub Pages address ``https://OWNER.github.io/REPO/``
follows. ``PLACEHOLDER_URL`` in book.py is never rewritten: it is how the Colab install
recognises an unpublished copy. Needs only the standard library; run it from anywhere
(``--root`` is the repository, default: this script's).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK_PY = "arnn_lite/_repo.py"
# Every file that names the repository, and whether it must (False: rewritten if it does).
PLACES = {BOOK_PY: True, "_config.yml": True, "pyproject.toml": True, "README.md": True,
          "chapters/*.ipynb": True, "book/*.md": False}
GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/([A-Za-z0-9._-]+)$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")


def parse_url(url: str) -> tuple[str, str]:
    """``(owner, repo)`` of a GitHub repository URL; ``ValueError`` naming the argument."""
    url = url.strip().rstrip("/").removesuffix(".git")
    match = GITHUB.match(url)
    if not match:
        raise ValueError(f"url: expected https://github.com/OWNER/REPO (Colab opens notebooks "
                         f"from GitHub only), got {url!r}")
    return match.group(1), match.group(2)


def current(root: Path) -> tuple[str, str]:
    """``(REPOSITORY_URL, REPOSITORY_BRANCH)`` as written in ``root``'s arnn_lite/_repo.py."""
    text = (root / BOOK_PY).read_text()
    found = [re.search(rf'^{name} = "([^"]+)"', text, re.M)
             for name in ("REPOSITORY_URL", "REPOSITORY_BRANCH")]
    if not all(found):
        raise ValueError(f"{root / BOOK_PY}: no REPOSITORY_URL / REPOSITORY_BRANCH assignment")
    return found[0].group(1), found[1].group(1)


def files(root: Path) -> list[tuple[Path, bool]]:
    """Every existing file of :data:`PLACES` under ``root``, with whether it must name the URL."""
    return [(path, required) for pattern, required in PLACES.items()
            for path in sorted(root.glob(pattern))]


def pages_url(url: str) -> str:
    """The GitHub Pages address of a repository: ``https://owner.github.io/repo/``."""
    owner, repo = parse_url(url)
    return f"https://{owner.lower()}.github.io/{repo}/"


def rewrite_text(text: str, old: tuple[str, str], new: tuple[str, str]) -> str:
    """``text`` with repository ``old = (url, branch)`` replaced by ``new`` in every form:
    ``git+URL@BRANCH``, Colab and GitHub file links, the Pages address, the bare URL, and
    book.py's and _config.yml's branch settings. ``PLACEHOLDER_URL = ...`` lines stay."""
    (old_url, old_branch), (new_url, new_branch) = old, new
    (old_owner, old_repo), (new_owner, new_repo) = parse_url(old_url), parse_url(new_url)
    end = r"(?![\w.-])"  # .../book must not match inside .../book-two
    forms = [
        (f"git+{old_url}@{old_branch}", f"git+{new_url}@{new_branch}"),
        (f"colab.research.google.com/github/{old_owner}/{old_repo}/blob/{old_branch}/",
         f"colab.research.google.com/github/{new_owner}/{new_repo}/blob/{new_branch}/"),
        (f"{old_url}/blob/{old_branch}/", f"{new_url}/blob/{new_branch}/"),
        (f"{old_url}/tree/{old_branch}", f"{new_url}/tree/{new_branch}"),
        (pages_url(old_url), pages_url(new_url)),
    ]
    lines = text.splitlines(keepends=True)
    for k, line in enumerate(lines):
        if line.startswith("PLACEHOLDER_URL"):
            continue
        for before, after in forms:
            line = re.sub(re.escape(before) + (end if before[-1] not in "/" else ""),
                          lambda _: after, line)
        line = re.sub(re.escape(old_url) + end, lambda _: new_url, line)
        line = re.sub(r'^(REPOSITORY_BRANCH = )"[^"]*"', lambda m: f'{m.group(1)}"{new_branch}"', line)
        lines[k] = line
    text = "".join(lines)
    # _config.yml: the branch of the `repository:` block
    return re.sub(r"(^repository:\n(?:[ \t]+.*\n)*?[ \t]+branch:[ \t]*)(\S+)",
                  lambda m: m.group(1) + new_branch, text, flags=re.M)


def set_repository(root: Path, url: str, branch: str | None = None) -> dict[str, int]:
    """Rewrite every place under ``root`` to ``url`` and ``branch`` (default: unchanged).

    Returns:
        ``{relative path: number of changed lines}`` for the files that changed.
    """
    owner, repo = parse_url(url)
    url = f"https://github.com/{owner}/{repo}"
    old = current(root)
    branch = old[1] if branch is None else branch
    if not BRANCH.match(branch):
        raise ValueError(f"branch: expected a git branch name, got {branch!r}")
    changed = {}
    for path, _ in files(root):
        text = path.read_text()
        new = rewrite_text(text, old, (url, branch))
        if new != text:
            path.write_text(new)
            changed[path.relative_to(root).as_posix()] = sum(
                a != b for a, b in zip(text.splitlines(), new.splitlines()))
    return changed


def check(root: Path) -> list[str]:
    """The places that must name the current URL but do not (empty: all agree)."""
    url, _ = current(root)
    return [path.relative_to(root).as_posix() for path, required in files(root)
            if required and url not in path.read_text()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", nargs="?", help="https://github.com/OWNER/REPO")
    parser.add_argument("--branch", help="branch the badges, launch buttons and installs use "
                                         "(default: unchanged)")
    parser.add_argument("--check", action="store_true", help="only list the places and check them")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.check:
        missing = check(args.root)
        url, branch = current(args.root)
        print(f"repository: {url} (branch {branch}), in {len(files(args.root))} files")
        for place in missing:
            print(f"  missing in {place}")
        return 1 if missing else 0
    if args.url is None:
        parser.error("give the repository URL (https://github.com/OWNER/REPO), or --check")
    try:
        changed = set_repository(args.root, args.url, args.branch)
    except ValueError as err:
        parser.error(str(err))
    for place, lines in changed.items():
        print(f"{place}: {lines} line(s)")
    url, branch = current(args.root)
    print(f"repository: {url} (branch {branch}); {len(changed)} file(s) changed. "
          f"Commit and push; GitHub Pages serves the book at {pages_url(url)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
