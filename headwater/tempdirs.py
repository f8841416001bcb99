"""Temporary folders named after the process that made them, and the sweep of those whose
process is gone (killed with SIGKILL, or by the machine's out-of-memory killer: nothing of
theirs ran to delete them)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

PREFIX = "headwater-"
_OWNED = re.compile(rf"^{PREFIX}(?P<kind>[a-z]+)-(?P<pid>\d+)-")


def make(kind: str) -> Path:
    """A new folder ``headwater-<kind>-<pid>-…`` in the system's temporary folder."""
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{os.getpid()}-"))


def alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(folder: Path | None = None) -> list[Path]:
    """Delete the folders of :func:`make` whose process no longer runs; returns them."""
    return _remove(folder, lambda pid: not alive(pid))


def remove_own(folder: Path | None = None) -> list[Path]:
    """Delete this process's folders of :func:`make`: for a process about to leave without
    waiting for the threads that still write to them (nothing of theirs is published)."""
    return _remove(folder, lambda pid: pid == os.getpid())


def _remove(folder: Path | None, owner_done: Callable[[int], bool]) -> list[Path]:
    """Delete the folders of :func:`make` under ``folder`` (the system's temporary folder)
    whose process ``owner_done`` says of; returns those that went."""
    root = Path(folder or tempfile.gettempdir())
    removed = []
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            match = _OWNED.match(entry.name)
            if match is None or not entry.is_dir() or not owner_done(int(match["pid"])):
                continue
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry)
    return removed
