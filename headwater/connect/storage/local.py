"""Files in a local folder."""

from __future__ import annotations

import glob as globbing
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from headwater.connect.storage import FileEntry
from headwater.errors import SourceError


class LocalStorage:
    """A folder on a local (or mounted) file system."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    @property
    def root(self) -> str:
        return str(self.folder)

    def list(self, pattern: str) -> Iterator[FileEntry]:
        base = self.folder / _fixed_prefix(pattern)
        if not base.is_dir():
            raise SourceError(
                f"folder {base} does not exist (glob `{pattern}` under {self.folder})",
                hint="check the connection's `url` and the table's `glob`",
            )
        matches = globbing.glob(pattern, root_dir=self.folder, recursive=True)
        for relative in sorted(matches):
            path = self.folder / relative
            try:
                info = path.stat()
            except FileNotFoundError:  # a dangling link, or removed while we list
                continue
            if stat.S_ISREG(info.st_mode):
                yield FileEntry(
                    path=Path(relative).as_posix(),
                    size=info.st_size,
                    version=str(info.st_mtime_ns),
                    location=str(path),
                )

    def open(self, path: str) -> BinaryIO:
        return (self.folder / path).open("rb")


def _fixed_prefix(pattern: str) -> str:
    """The folders of a glob before its first wildcard: they must exist for a match."""
    parts = Path(pattern).parts[:-1]
    fixed = []
    for part in parts:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."
