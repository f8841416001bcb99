"""What tells one version of a project's definitions from another, cheaply: the names, sizes
and modification times of its project file and of the files under ``models/``,
``pipelines/`` and ``checks/``. A long-lived worker compares it to know when to load the
project again."""

from __future__ import annotations

import hashlib
from pathlib import Path

FOLDERS = ("models", "pipelines", "checks")


def fingerprint(root: Path, project_file: Path) -> str:
    """A short digest of the definition files' names, sizes and times."""
    digest = hashlib.sha256()
    files = [project_file]
    for folder in FOLDERS:
        if (root / folder).is_dir():
            files.extend(sorted(p for p in (root / folder).rglob("*") if p.is_file()))
    for path in files:
        if "__pycache__" in path.parts:
            continue
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
