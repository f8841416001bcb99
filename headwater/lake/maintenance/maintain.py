"""One table's maintenance, in the order that frees the most: compact, expire, remove orphans.

Compaction replaces small files in a new snapshot; expiry then removes old snapshots and the
files only they referenced (the small files, once the snapshots that used them are gone);
orphan removal deletes what no metadata references at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from headwater.errors import HeadwaterError
from headwater.lake.catalog import Lake
from headwater.lake.maintenance.compact import compact
from headwater.lake.maintenance.expire import KEEP_LAST, expire_snapshots
from headwater.lake.maintenance.orphans import ORPHAN_AGE, remove_orphan_files
from headwater.lake.maintenance.report import MaintenanceReport, Progress


@dataclass(frozen=True)
class Maintenance:
    """Which operations to run and their settings (``headwater maintain``'s options)."""

    compact: bool = True
    expire: bool = True
    orphans: bool = True
    dry_run: bool = False
    target_bytes: int | None = None  # compaction's file size; default: the lake's
    keep_last: int = KEEP_LAST
    older_than: timedelta | None = None  # expiry also keeps every snapshot newer than this
    orphan_age: timedelta = ORPHAN_AGE


def maintain(
    lake: Lake,
    name: str,
    options: Maintenance = Maintenance(),
    progress: Progress | None = None,
    now: datetime | None = None,
) -> MaintenanceReport:
    """Run the operations ``options`` asks for on table ``name``, one after the other."""

    def tell(step: str, rows: int = 0) -> None:
        if progress is not None:
            progress(name, step, rows)

    compacted = expired = orphans = None
    if options.compact:
        tell("compacting")
        done = 0

        def on_rows(rows: int) -> None:
            nonlocal done
            done += rows
            tell("compacting", done)

        compacted = compact(
            lake, name, target_bytes=options.target_bytes, dry_run=options.dry_run, on_rows=on_rows
        )
    if options.expire:
        tell("expiring snapshots")
        expired = expire_snapshots(
            lake,
            name,
            keep_last=options.keep_last,
            older_than=options.older_than,
            dry_run=options.dry_run,
            now=now,
        )
    if options.orphans:
        tell("removing orphan files")
        orphans = remove_orphan_files(
            lake, name, older_than=options.orphan_age, dry_run=options.dry_run, now=now
        )
    return MaintenanceReport(name, compacted, expired, orphans)


def maintain_tables(
    lake: Lake,
    table: str | None = None,
    options: Maintenance | None = None,
    progress: Progress | None = None,
) -> list[MaintenanceReport]:
    """Maintain ``table``, or every table one at a time (each table's operations commit on
    their own). Of every table, one that fails is reported with its error and the others go on."""
    if table is not None:
        lake.table_metadata(table)  # an unknown or malformed name fails here, with the fix
        return [maintain(lake, table, options or Maintenance(), progress)]
    reports = []
    for name in lake.tables():
        try:
            reports.append(maintain(lake, name, options or Maintenance(), progress))
        except HeadwaterError as exc:
            reports.append(MaintenanceReport(name, error=str(exc)))
    return reports
