"""The files a table's metadata references, so that expiry and orphan removal agree on them.

A snapshot reaches its manifest list, the manifests listed there and the live data (and
delete) files those manifests name. An entry marked deleted names a file of the parent
snapshot, reached through the parent's own manifests while it is kept. Manifests are shared
by many snapshots, so each is read once.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestEntryStatus, ManifestFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

UNKNOWN_SIZE = -1


def canonical(uri: str) -> str:
    """A file's URI as pyiceberg's filesystem names it (``file:///a/b`` → ``/a/b``,
    ``s3://b/k`` → ``b/k``), so that spellings of one file compare equal and match a listing."""
    return PyArrowFileIO.parse_location(uri)[2]


class References:
    """Files reached from snapshots (URI → size in bytes, or UNKNOWN_SIZE)."""

    def __init__(self, io: FileIO) -> None:
        self._io = io
        self._entries: dict[str, list[tuple[str, int, bool]]] = {}

    def of(self, snapshots: Iterable[Snapshot], deleted: bool = False) -> dict[str, int]:
        """The files ``snapshots`` reach; with ``deleted``, also those their manifests record
        as deleted (the files their parents had)."""
        files: dict[str, int] = {}
        for snapshot in snapshots:
            files[snapshot.manifest_list] = UNKNOWN_SIZE
            for manifest in snapshot.manifests(self._io):
                files[manifest.manifest_path] = manifest.manifest_length
                for path, size, live in self._files_of(manifest):
                    if live or deleted:
                        files[path] = size
        return files

    def _files_of(self, manifest: ManifestFile) -> list[tuple[str, int, bool]]:
        path = manifest.manifest_path
        if path not in self._entries:
            self._entries[path] = [
                (
                    entry.data_file.file_path,
                    entry.data_file.file_size_in_bytes,
                    entry.status != ManifestEntryStatus.DELETED,
                )
                for entry in manifest.fetch_manifest_entry(self._io, discard_deleted=False)
            ]
        return self._entries[path]


def metadata_files(table: Table) -> set[str]:
    """The table's metadata files that are still referenced: the current one, those in its
    metadata log, and statistics files."""
    metadata = table.metadata
    files = {table.metadata_location}
    files.update(entry.metadata_file for entry in metadata.metadata_log)
    files.update(s.statistics_path for s in metadata.statistics)
    files.update(s.statistics_path for s in metadata.partition_statistics)
    return files


def referenced(table: Table, cache: References | None = None) -> set[str]:
    """Canonical paths of every file the table's metadata references, in any snapshot."""
    reached = (cache or References(table.io)).of(table.snapshots())
    return {canonical(uri) for uri in [*reached, *metadata_files(table)]}
