"""Where files live, behind one small Protocol: a local folder now, object stores later.

A storage lists the files a glob matches (with what identifies their content: size and a
version, the mtime locally or the ETag on S3) and tells DuckDB where to read each one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from headwater.errors import SourceError

__all__ = ["FileEntry", "Storage", "open_storage"]


@dataclass(frozen=True)
class FileEntry:
    """One file: its path under the storage root and what changes when its content does."""

    path: str  # relative to the root, "/"-separated: the file's identity in the load state
    size: int
    version: str  # mtime in ns on a local disk, the ETag on an object store
    location: str  # what DuckDB opens: a local path or an s3:// URL


class Storage(Protocol):
    """A folder of files on some storage."""

    @property
    def root(self) -> str:
        """The folder, as the user can find it (for messages)."""
        ...

    def list(self, pattern: str) -> Iterator[FileEntry]:
        """The files matching a glob under the root (``**`` spans folders), sorted by path."""
        ...

    def open(self, path: str) -> BinaryIO:
        """A file, opened for reading bytes."""
        ...


def open_storage(url: str, base: Path) -> Storage:
    """The storage for a connection URL; a relative folder is relative to ``base``."""
    from headwater.connect.storage.local import LocalStorage

    if url.startswith("file://"):
        return LocalStorage(Path(url.removeprefix("file://")))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise SourceError(
            f"files connection `{url}`: storage `{scheme}://` is not supported yet",
            hint="use a local folder (relative to the project, absolute, or file://)",
        )
    folder = Path(url).expanduser()
    return LocalStorage(folder if folder.is_absolute() else base / folder)
