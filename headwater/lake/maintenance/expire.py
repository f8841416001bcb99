"""Snapshot expiry: drop old snapshots from a table's history and delete the files only they used.

pyiceberg's ``ExpireSnapshots`` removes snapshots from the metadata and leaves every file in
place. The files here are deleted after that commit, and only those that no snapshot of the
committed metadata references, read after the commit: a commit that lands meanwhile keeps its
files. A crash between the commit and the deletes leaves orphans that remove_orphan_files finds.
"""

from __future__ import annotations

import itertools
import logging
from datetime import UTC, datetime, timedelta

from pyiceberg.io import FileIO
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of

from headwater.errors import CommitConflict, LakeError
from headwater.lake.catalog import Lake
from headwater.lake.change import TableChange
from headwater.lake.commits import commit
from headwater.lake.maintenance.references import UNKNOWN_SIZE, References, canonical
from headwater.lake.maintenance.report import ExpireReport
from headwater.lake.maintenance.state import state_lineage

log = logging.getLogger(__name__)

KEEP_LAST = 5


def expire_snapshots(
    lake: Lake,
    name: str,
    *,
    keep_last: int = KEEP_LAST,
    older_than: timedelta | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    attempts: int = 3,
) -> ExpireReport:
    """Expire the snapshots of ``name`` that are neither among the ``keep_last`` newest of the
    current history nor, with ``older_than``, newer than ``now - older_than``; delete the
    files only they referenced. The current snapshot, branch and tag heads, and the snapshots
    holding the load state (cursor) are always kept.
    """
    if keep_last < 1:
        raise LakeError(
            f"keep_last is {keep_last}: the current snapshot is always kept",
            hint="keep at least 1 snapshot (--keep-last 1 keeps only the current one)",
        )
    for attempt in range(1, attempts + 1):
        table = lake.table(name)
        snapshots = table.snapshots()
        doomed = expirable(table, keep_last, older_than, now or datetime.now(UTC))
        if not doomed:
            return ExpireReport(name, len(snapshots), len(snapshots), (), 0, 0, dry_run)
        references = References(table.io)
        # what an expired snapshot deleted may be left over from one expired before
        candidates = references.of((s for s in snapshots if s.snapshot_id in doomed), deleted=True)
        expired = tuple(sorted(doomed))
        if dry_run:
            kept = references.of(s for s in snapshots if s.snapshot_id not in doomed)
            files = _unreferenced(candidates, kept)
            size = sum(_size(table.io, uri, size) for uri, size in files.items())
            kept_count = len(snapshots) - len(doomed)
            return ExpireReport(name, len(snapshots), kept_count, expired, len(files), size, True)
        current = table.current_snapshot()
        base = current.snapshot_id if current else None
        try:
            commit(lake, TableChange(table=name, expire_snapshots=expired, base=base))
        except CommitConflict as exc:
            if attempt == attempts:
                raise CommitConflict(
                    f"table `{name}` changed while its snapshots were being expired: {exc.message}",
                    table=name,
                    hint="run `headwater maintain` again when the table is not being written",
                ) from exc
            log.warning("expiring snapshots of %s: %s; planning again", name, exc)
            continue
        after = lake.table(name)
        files = _unreferenced(candidates, references.of(after.snapshots()))
        deleted, size = _delete(after.io, files)
        return ExpireReport(
            name, len(snapshots), len(after.snapshots()), expired, deleted, size, False
        )
    raise AssertionError("unreachable")


def expirable(
    table: Table, keep_last: int, older_than: timedelta | None, now: datetime
) -> set[int]:
    """Ids of the snapshots of ``table`` that expiry removes (see :func:`expire_snapshots`)."""
    current = table.current_snapshot()
    if current is None:
        return set()
    keep = {
        s.snapshot_id for s in itertools.islice(ancestors_of(current, table.metadata), keep_last)
    }
    keep.update(ref.snapshot_id for ref in table.metadata.refs.values())
    # the next load reads its cursor from the newest load's snapshot, walking back to it
    keep.update(s.snapshot_id for s in state_lineage(table))
    if older_than is not None:
        cutoff = int((now - older_than).timestamp() * 1000)
        keep.update(s.snapshot_id for s in table.snapshots() if s.timestamp_ms >= cutoff)
    return {s.snapshot_id for s in table.snapshots()} - keep


def _unreferenced(candidates: dict[str, int], kept: dict[str, int]) -> dict[str, int]:
    keep = {canonical(uri) for uri in kept}
    return {uri: size for uri, size in candidates.items() if canonical(uri) not in keep}


def _size(io: FileIO, uri: str, known: int) -> int:
    """``known``, or the file's size (a manifest list's is not recorded); 0 when it is gone."""
    if known != UNKNOWN_SIZE:
        return known
    try:
        return len(io.new_input(uri))
    except FileNotFoundError:
        return 0


def _delete(io: FileIO, files: dict[str, int]) -> tuple[int, int]:
    """Delete ``files``; returns how many were deleted and their bytes (a file already gone,
    say by an earlier run that stopped half-way, counts as neither)."""
    count = size = 0
    for uri, known in files.items():
        try:
            length = _size(io, uri, known)
            io.delete(uri)
        except FileNotFoundError:
            continue
        count += 1
        size += length
    return count, size
