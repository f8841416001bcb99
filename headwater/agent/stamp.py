"""Whether the code an agent imported is still the code installed.

The agent keeps the sizes and times of Headwater's source files it imported and the times of
the folders packages are installed in (installing or removing a package changes them). A command is
only handed to an agent whose stamp still holds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import headwater


def take() -> tuple[tuple[str, int, int], ...]:
    """The stamp of the code imported now."""
    package = str(Path(headwater.__file__).parent)
    files = sorted(
        path
        for module in list(sys.modules.values())
        if (path := getattr(module, "__file__", None)) and path.startswith(package)
    )
    folders = sorted({p for p in sys.path if p and _holds_distributions(p)})
    return tuple(_entry(p) for p in (*files, *folders))


def changed(stamp: tuple[tuple[str, int, int], ...]) -> str | None:
    """The first file that differs from ``stamp``, or ``None`` when none does."""
    for path, size, mtime in stamp:
        if _entry(path) != (path, size, mtime):
            return path
    return None


def _holds_distributions(folder: str) -> bool:
    """A folder packages are installed in (``site-packages``): one holding ``*.dist-info``.
    Other folders on the path, such as a project an editable install points at, change for
    reasons that leave the code alone."""
    try:
        return any(name.endswith((".dist-info", ".egg-info")) for name in os.listdir(folder))
    except OSError:
        return False


def _entry(path: str) -> tuple[str, int, int]:
    try:
        stat = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, stat.st_size, stat.st_mtime_ns)
