"""What each maintenance operation did to a table (or, in a dry run, would do)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Progress(Protocol):
    """Told what maintenance is doing: the table, the step, and rows rewritten so far."""

    def __call__(self, table: str, step: str, rows: int = 0) -> None: ...


@dataclass(frozen=True)
class CompactReport:
    """Small data files rewritten into files of the target size, in one commit."""

    table: str
    files_before: int
    files_after: int
    bytes_before: int
    bytes_after: int
    rewritten: int  # small files replaced (or that would be, in a dry run)
    rewritten_bytes: int
    written: int  # files written in their place
    rows: int  # rows moved
    snapshot_id: int | None  # the compaction's snapshot; None when nothing was committed
    attempts: int = 1  # a commit that lost a race with another writer is planned again
    dry_run: bool = False

    @property
    def committed(self) -> bool:
        return self.snapshot_id is not None


@dataclass(frozen=True)
class ExpireReport:
    """Snapshots removed from a table's history and the files only they referenced."""

    table: str
    snapshots_before: int
    snapshots_after: int
    expired: tuple[int, ...]  # snapshot ids
    deleted_files: int  # data files, manifests and manifest lists
    deleted_bytes: int
    dry_run: bool = False


@dataclass(frozen=True)
class OrphanFile:
    path: str
    bytes: int
    modified: datetime


@dataclass(frozen=True)
class SharedFolder:
    """A table's folder that also holds the metadata of a table not of its catalog: orphan
    removal deletes nothing in it, since the other table's files look unreferenced."""

    folder: str
    catalogs: tuple[str, ...]  # ids of the other catalogs whose tables' metadata lie there
    unknown: tuple[str, ...]  # metadata files of a table of no known catalog

    def __str__(self) -> str:
        if self.catalogs:
            ids = ", ".join(self.catalogs)
            return (
                f"orphans kept: {self.folder} also holds a table of another catalog "
                f"(catalog id {ids}); give one of the tables another name, or the projects "
                "separate warehouses"
            )
        return (
            f"orphans kept: {self.folder} also holds metadata of a table of no known catalog "
            f"(e.g. {self.unknown[0]}), written before tables carried their catalog's id or by "
            "another engine; if it is a leftover of this table (dropped and created again), "
            "delete that metadata file, else give one of the tables another name, or the "
            "projects separate warehouses"
        )


@dataclass(frozen=True)
class OrphanReport:
    """Files under a table's location that its metadata does not reference."""

    table: str
    scanned: int  # files under the table's location
    orphans: tuple[OrphanFile, ...]  # deleted (or, in a dry run, that would be)
    too_young: int  # unreferenced files newer than the safety age, left alone
    dry_run: bool = False
    kept: int = 0  # unreferenced files old enough to go, kept because the folder is shared
    shared: SharedFolder | None = None  # why they were kept

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.orphans)


@dataclass(frozen=True)
class MaintenanceReport:
    """The operations run on one table; None for an operation that was not asked for."""

    table: str
    compact: CompactReport | None = None
    expire: ExpireReport | None = None
    orphans: OrphanReport | None = None
    error: str | None = None  # why this table could not be maintained (the others were)
