"""Atomic file writes shared by checkpoints, results files and dataset caches."""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Open ``path`` for writing through a temporary file in the same folder, renamed onto
    ``path`` when the block succeeds: a kill or an error never leaves half a file at ``path``.

    The temporary file is ``<path>.<pid>.tmp``: concurrent writers (two runs sharing a dataset
    cache) never share one, and each write first deletes the ones left by processes that
    died mid-write. The file gets the usual permissions (``0o666`` less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; removes a failed write's half


def _remove_orphans(path: Path) -> None:
    """Delete ``<path>.<pid>.tmp`` files whose writing process no longer exists."""
    for tmp in path.parent.glob(glob.escape(path.name) + ".*.tmp"):
        pid = tmp.name[len(path.name) + 1:-len(".tmp")]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if os.name != "posix":  # no harmless probe elsewhere (os.kill would end the process)
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid)
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
