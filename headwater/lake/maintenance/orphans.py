"""Orphan files: files under a table's location that its metadata does not reference.

A write that crashed before its commit, a commit that lost its race, an expiry that stopped
half-way, old metadata files beyond the metadata log: all leave such files. Only those older
than a safety age are deleted, so the files of a write still in progress are never touched.
The table is listed through pyiceberg's own filesystem, so that listed paths and the paths in
the metadata are spelled alike; if the table's current files are not found in the listing, the
two do not match and nothing is deleted.

Two catalogs may share a warehouse folder on purpose, and a table name both use then has one
folder for two tables: files the other table's metadata references are unreferenced by ours.
So before deleting, the metadata files of the folder that ours does not reference are read
(their table uuid and properties only): one of another catalog (its ``headwater.catalog-id``
is not ours), or of a table of no known catalog (no id, and not our table's uuid), means the
folder is shared, and nothing in it is deleted (see lake.identity).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow.fs as pafs
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table

from headwater.errors import LakeError
from headwater.lake.catalog import Lake
from headwater.lake.maintenance.references import References, canonical, referenced
from headwater.lake.maintenance.report import OrphanFile, OrphanReport, SharedFolder
from headwater.lake.metadata import local_path, read
from headwater.lake.properties import CATALOG_ID

ORPHAN_AGE = timedelta(days=1)


def remove_orphan_files(
    lake: Lake,
    name: str,
    *,
    older_than: timedelta = ORPHAN_AGE,
    dry_run: bool = False,
    now: datetime | None = None,
) -> OrphanReport:
    """Delete the files under the location of ``name`` that no snapshot, manifest or metadata
    file of the table references and that were last modified before ``now - older_than``."""
    table = lake.table(name)
    filesystem, root = _filesystem(table)
    listed = [
        info
        for info in filesystem.get_file_info(
            pafs.FileSelector(root, recursive=True, allow_not_found=True)
        )
        if info.type == pafs.FileType.File
    ]
    # read after listing: a file written by a commit that lands before this is seen referenced
    cache = References(table.io)
    table = lake.table(name)
    known = referenced(table, cache)
    _check_listing(name, root, table, {info.path for info in listed})
    cutoff = (now or datetime.now(UTC)) - older_than
    unreferenced = [info for info in listed if info.path not in known]
    old = [info for info in unreferenced if _modified(info) < cutoff]
    shared = _shared(lake, table, filesystem, root, unreferenced) if old else None
    if shared is not None:
        return OrphanReport(
            table=name,
            scanned=len(listed),
            orphans=(),
            too_young=len(unreferenced) - len(old),
            dry_run=dry_run,
            kept=len(old),
            shared=shared,
        )
    if not dry_run and old:
        latest = lake.table(name)
        if latest.metadata_location != table.metadata_location:  # a commit landed meanwhile
            known = referenced(latest, cache)
            old = [info for info in old if info.path not in known]
        for info in old:
            filesystem.delete_file(info.path)
    return OrphanReport(
        table=name,
        scanned=len(listed),
        orphans=tuple(OrphanFile(info.path, info.size or 0, _modified(info)) for info in old),
        too_young=len(unreferenced) - len(old),
        dry_run=dry_run,
    )


def _shared(
    lake: Lake,
    table: Table,
    filesystem: pafs.FileSystem,
    root: str,
    unreferenced: list[pafs.FileInfo],
) -> SharedFolder | None:
    """The folder as shared with another table, when an Iceberg metadata file in it that our
    table does not reference is not of our catalog; None when every one is."""
    ours = lake.catalog_id
    uuid = str(table.metadata.table_uuid)
    others: set[str] = set()
    unknown: list[str] = []
    for info in unreferenced:
        if not _is_metadata(root, info.path):
            continue
        try:
            # gone meanwhile (another catalog's maintenance), or cut short by a crashed write
            document = read(info.path, filesystem.open_input_stream)
        except LakeError:
            continue
        owner = document.properties.get(CATALOG_ID)
        if owner is None:
            if document.document.get("table-uuid") != uuid:
                unknown.append(info.path)
        elif owner != ours:
            others.add(str(owner))
    if not others and not unknown:
        return None
    folder = table.metadata.location.rstrip("/")
    return SharedFolder(
        folder=local_path(folder) or folder, catalogs=tuple(sorted(others)), unknown=tuple(unknown)
    )


def _is_metadata(root: str, path: str) -> bool:
    """An Iceberg metadata file of a table in this folder (``metadata/*.metadata.json``)."""
    return path.startswith(f"{root.rstrip('/')}/metadata/") and path.endswith(".metadata.json")


def _filesystem(table: Table) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding the table's files and its location's path on it, as pyiceberg
    opens them (another FileIO is listed by pyarrow's reading of the location)."""
    location = table.metadata.location.rstrip("/")
    if isinstance(table.io, PyArrowFileIO):
        scheme, netloc, path = PyArrowFileIO.parse_location(location, table.io.properties)
        return table.io.fs_by_scheme(scheme, netloc), path
    return pafs.FileSystem.from_uri(location)


def _check_listing(name: str, root: str, table: Table, listed: set[str]) -> None:
    """Refuse to go on when the current metadata file or a current data file is not in the
    listing: every file would then look unreferenced."""
    current = [table.metadata_location] + [t.file.file_path for t in table.scan().plan_files()]
    missing = [uri for uri in current if canonical(uri) not in listed]
    if missing:
        raise LakeError(
            f"table `{name}`: {len(missing)} of its current files are not under {root} as "
            f"listed (e.g. {missing[0]}); no file was deleted",
            hint="the table's files live elsewhere than its location, or the storage spells "
            "paths differently; remove orphans with the engine that wrote the table",
        )


def _modified(info: pafs.FileInfo) -> datetime:
    """When the file was last written, in UTC (a filesystem may not say: then it is new)."""
    mtime = info.mtime
    if mtime is None:
        return datetime.now(UTC)
    return mtime if mtime.tzinfo else mtime.replace(tzinfo=UTC)
