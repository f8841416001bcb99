"""Where files live, behind one small Protocol: a local folder or an S3 bucket prefix.

A storage lists the files a glob matches (with what identifies their content: size and a
version, the mtime locally or the ETag on S3) and tells DuckDB where to read each one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from headwater.errors import SourceError

if TYPE_CHECKING:
    import duckdb

    from headwater.project.files import S3Config

__all__ = ["FileEntry", "Storage", "attach", "open_storage"]


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


def open_storage(
    url: str, base: Path, s3: S3Config | None = None, setting: str = "the url"
) -> Storage:
    """The storage for a connection URL; a relative folder is relative to ``base``.

    ``s3://bucket/prefix`` is reached with ``s3`` (then the AWS_* environment); ``setting``
    names where the URL was given, for messages.
    """
    from headwater.connect.storage.local import LocalStorage

    if url.startswith("file://"):
        return LocalStorage(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        from headwater.connect.storage.s3 import S3Access, S3Storage

        return S3Storage(url, S3Access.resolve(s3), setting)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise SourceError(
            f"files connection `{url}`: storage `{scheme}://` is not supported",
            hint="use a local folder (relative to the project, absolute, or file://) or s3://",
        )
    folder = Path(url).expanduser()
    return LocalStorage(folder if folder.is_absolute() else base / folder)


def attach(storage: Storage, con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB connection ``con`` open the storage's locations (S3: httpfs and a secret)."""
    from headwater.connect.storage.s3 import S3Storage

    if isinstance(storage, S3Storage):
        storage.attach(con)
