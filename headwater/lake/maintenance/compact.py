"""Compaction: rewrite a table's small data files into files of the target size, in one commit.

The small files are read one at a time by pyiceberg's Arrow reader, which maps every file's
columns to the current schema however old the file, on a background thread, and written by
the lake's ``DataFileWriter``: memory holds one small file and a few batches, not the table. Rows are
moved, never changed. The snapshot says ``headwater.maintenance=compact`` and carries the load
state (see state.py). It is planned on the current snapshot and committed only on it: when
another writer commits in between, the commit fails, nothing is published, and compaction is
planned again from the new snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile, FileFormat
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.metadata import TableMetadata

from headwater.errors import CommitConflict, LakeError
from headwater.lake.arrow_types import conform
from headwater.lake.catalog import Lake
from headwater.lake.maintenance.report import CompactReport
from headwater.lake.maintenance.state import MAINTENANCE, carried_properties
from headwater.lake.prefetch import prefetch
from headwater.lake.writer import Staging

log = logging.getLogger(__name__)

SMALL_FRACTION = 0.75  # a file under 3/4 of the target size is small (as Spark's rewrite has it)
MIN_FILES = 2  # a lone small file would be rewritten into one file of the same size
ROW_GROUP_ROWS = 100_000  # small files hold small row groups; the new files get fuller ones
ROW_GROUP_BYTES = 32 << 20


class _NothingToDo(Exception):
    """The snapshot being committed on has too few small files (another writer got there)."""


def compact(
    lake: Lake,
    name: str,
    *,
    target_bytes: int | None = None,
    small_bytes: int | None = None,
    min_files: int = MIN_FILES,
    dry_run: bool = False,
    attempts: int = 3,
    on_rows: Callable[[int], None] | None = None,
) -> CompactReport:
    """Rewrite the data files of ``name`` smaller than ``small_bytes`` (default: 3/4 of
    ``target_bytes``, itself the lake's target file size) into files of ``target_bytes``.

    Nothing is committed when fewer than ``min_files`` files are small, or in a ``dry_run``
    (the report says what would be rewritten). ``on_rows`` is called with each batch's row
    count as it is read (from a reader thread). A commit that loses a race with another
    writer is planned again, ``attempts`` times in all, then raises CommitConflict.
    """
    target = target_bytes or lake.target_file_bytes
    small = small_bytes if small_bytes is not None else int(target * SMALL_FRACTION)
    for attempt in range(1, attempts + 1):
        table = lake.table(name)
        live = live_files(table, name)
        picked = _small(live, small)
        if len(picked) < min_files:
            return _uncommitted(name, live, [], attempt, dry_run)
        if dry_run:
            return _uncommitted(name, live, picked, attempt, dry_run)
        try:
            return _rewrite(lake, name, small, min_files, target, on_rows, attempt)
        except _NothingToDo:
            return _uncommitted(name, live, [], attempt, dry_run)
        except CommitConflict as exc:
            if attempt == attempts:
                exc.message = f"{exc.message} (compaction tried {attempts} times)"
                exc.hint = "run `headwater maintain` again when the table is not being written"
                exc.args = (f"{exc.message} — {exc.hint}",)
                raise
            log.warning("compacting %s: %s; planning again", name, exc.message)
    raise AssertionError("unreachable")


def live_files(table: Table, name: str) -> list[DataFile]:
    """The data files of the current snapshot; a table compaction cannot rewrite is an error."""
    tasks = table.scan().plan_files()
    if any(task.delete_files for task in tasks):
        raise LakeError(
            f"table `{name}` has delete files, which compaction does not apply",
            hint="rewrite the table with a full load, or compact it with the engine that "
            "wrote the delete files",
        )
    specs = table.specs()
    if any(not specs[task.file.spec_id].is_unpartitioned() for task in tasks):
        raise LakeError(
            f"table `{name}` is partitioned; compaction rewrites unpartitioned tables only",
            hint="compact it with the engine that partitioned it (e.g. Spark's "
            "rewrite_data_files), or skip it with --no-compact",
        )
    return [task.file for task in tasks]


def _uncommitted(
    name: str, live: list[DataFile], picked: list[DataFile], attempt: int, dry_run: bool
) -> CompactReport:
    """The report of a compaction that commits nothing (``picked``: what it would rewrite)."""
    size = sum(f.file_size_in_bytes for f in live)
    return CompactReport(
        table=name,
        files_before=len(live),
        files_after=len(live),
        bytes_before=size,
        bytes_after=size,
        rewritten=len(picked),
        rewritten_bytes=sum(f.file_size_in_bytes for f in picked),
        written=0,
        rows=0,
        snapshot_id=None,
        attempts=attempt,
        dry_run=dry_run,
    )


def _small(files: list[DataFile], small: int) -> list[DataFile]:
    return [
        f for f in files if f.file_format == FileFormat.PARQUET and f.file_size_in_bytes < small
    ]


def _rewrite(
    lake: Lake,
    name: str,
    small: int,
    min_files: int,
    target: int,
    on_rows: Callable[[int], None] | None,
    attempt: int,
) -> CompactReport:
    """One compaction commit, planned on the current snapshot and committed only on it."""
    table = lake.table(name)
    current = table.current_snapshot()
    live = live_files(table, name)
    picked = _small(live, small)
    if current is None or len(picked) < min_files:
        raise _NothingToDo
    carried = carried_properties(table)
    schema = lake.arrow_schema(name)

    def count(batch: pa.RecordBatch) -> pa.RecordBatch:
        if on_rows is not None:
            on_rows(batch.num_rows)
        return batch

    with Staging(lake, name, schema) as staging:
        limit = min(target, ROW_GROUP_BYTES)
        batches = _read(table.io, table.metadata, picked, staging.schema, limit)
        stream = prefetch(pa.RecordBatchReader.from_batches(schema, batches), count, schema)
        writer = staging.writer()
        writer.target = target
        files = writer.write_all(stream)
        result = staging.publish(
            staging.change(
                files,
                remove=[f.file_path for f in picked],
                properties={**carried, MAINTENANCE: "compact"},
                base=current.snapshot_id,
            )
        )
    snapshot = lake.table(name).snapshot_by_id(result.snapshot_id) if result.snapshot_id else None
    totals = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
    return CompactReport(
        table=name,
        files_before=len(live),
        files_after=int(totals.get("total-data-files", 0)),
        bytes_before=sum(f.file_size_in_bytes for f in live),
        bytes_after=int(totals.get("total-files-size", 0)),
        rewritten=len(picked),
        rewritten_bytes=sum(f.file_size_in_bytes for f in picked),
        written=result.files,
        rows=result.rows,
        snapshot_id=result.snapshot_id,
        attempts=attempt,
    )


def _read(
    io: FileIO, metadata: TableMetadata, files: list[DataFile], schema: pa.Schema, limit: int
) -> Iterator[pa.RecordBatch]:
    """The rows of ``files``, one file at a time, in ``schema``, in batches of ROW_GROUP_ROWS
    rows or ``limit`` bytes, whichever comes first: each batch becomes a row group, and a small
    file's row groups are small. A new file starts between batches."""
    scan = ArrowScan(metadata, io, metadata.schema(), AlwaysTrue())
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for data_file in files:
        for batch in scan.to_record_batches([FileScanTask(data_file)]):
            pending.append(conform(batch, schema))
            rows += batch.num_rows
            size += batch.nbytes
            if rows >= ROW_GROUP_ROWS or size >= limit:
                yield pa.concat_batches(pending)
                pending, rows, size = [], 0, 0
    if pending:
        yield pa.concat_batches(pending)
