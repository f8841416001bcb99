"""Load a resource into its table with the configured strategy, in one Iceberg commit.

Strategies (``load.strategy``):

- ``full``: the table holds exactly the rows read;
- ``append``: rows whose cursor is above the stored one (or, for sources that remember what
  they read, every row they return) are added;
- ``incremental``: rows from the stored cursor minus ``lag`` are read; those the table already
  holds are dropped (by key with ``primary_key``, which also updates changed rows; else as
  identical rows), the rest added;
- ``merge``: upsert by ``primary_key``; optionally delete keys gone from a full read or marked
  by ``delete_column``;
- ``scd2``: a history row per version of each key with ``valid_from``/``valid_to``/``is_current``.

The cursor and the source's own state are stored in the snapshot summary of the same commit as
the rows, and a load (other than `full`) that changes nothing commits nothing. Rejected input goes to
``<table>__quarantine`` first; then the table's commit publishes everything else, or nothing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from headwater.errors import BadRows, SourceError, did_you_mean
from headwater.ingest import cursor as cursors
from headwater.ingest import origin
from headwater.ingest.changes import HISTORY_COLUMNS, HISTORY_SCHEMA, ChangeSet
from headwater.ingest.contract import ContractPlan, SchemaChange, plan
from headwater.ingest.extraction import Extraction, ReadContext, Reject, Resource
from headwater.ingest.state import LoadState, committed_state, state_properties
from headwater.lake import Lake
from headwater.lake.arrow_types import fit
from headwater.lake.change import Keep, WrittenFile
from headwater.lake.quarantine import quarantine, quarantine_name
from headwater.lake.writer import Audit, Staging, publish
from headwater.project.base import Load
from headwater.tempdirs import make as make_tempdir


@dataclass(frozen=True)
class LoadResult:
    """What one load did to its table."""

    table: str
    strategy: str
    snapshot_id: int | None
    rows: int  # rows read from the source
    written: int  # rows in the files this load wrote (rewritten rows included)
    bytes: int
    files: int
    changed: bool  # False when the load committed nothing
    rejected: int = 0
    inserted: int = 0
    deleted: int = 0
    cursor: Any = None
    schema_changes: tuple[SchemaChange, ...] = ()
    # columns of the table the rows read lack (kept, NULL in the rows written); None when
    # nothing was read
    unsent: tuple[str, ...] | None = None


@dataclass
class _Tally:
    """Counters shared by the threads that read a load's streams."""

    rows: int = 0
    cursor: Any = None
    rejects: list[Reject] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rows: int, top: Any, rejects: list[Reject]) -> None:
        with self.lock:
            self.rows += rows
            self.cursor = cursors.later(self.cursor, top)
            self.rejects.extend(rejects)


def load(
    lake: Lake,
    target: str,
    resource: Resource,
    settings: Load,
    *,
    run_id: str = "",
    properties: Mapping[str, str] | None = None,
    on_rows: Callable[[int], None] | None = None,
    full_refresh: bool = False,
    landing: Path | None = None,
    now: datetime | None = None,
    batch_rows: int = 100_000,
    audit: Audit | None = None,
) -> LoadResult:
    """Read ``resource`` and write it to ``target`` by ``settings.strategy`` (module docstring).

    ``audit`` sees the data before it is published (write–audit–publish)."""
    exists = lake.exists(target)
    prior = LoadState() if full_refresh or not exists else committed_state(lake, target)
    start = _start(prior, settings)
    current = lake.arrow_schema(target) if exists else None
    if settings.strategy == "scd2" and current is not None:
        current = pa.schema([f for f in current if f.name not in HISTORY_COLUMNS])
    extraction = resource.read(
        ReadContext(
            run_id,
            settings.cursor,
            start,
            prior.source,
            landing,
            progress=on_rows,
            table_schema=current,
        )
    )
    if not extraction.schema.names:  # nothing matched (an empty glob): nothing to load
        return LoadResult(target, settings.strategy, None, 0, 0, 0, 0, changed=False)
    _require_columns(target, extraction.schema, settings)
    job = _Job(
        lake=lake,
        target=target,
        settings=settings,
        extraction=extraction,
        contract=plan(target, current, extraction.schema, settings.contract),
        prior=prior,
        start=start,
        replace=not exists or full_refresh,
        now=now or datetime.now(UTC),
        batch_rows=batch_rows,
        properties={**(properties or {}), "headwater.run-id": run_id}
        if run_id
        else {**(properties or {})},
        on_rows=on_rows,
        audit=audit,
    )
    try:
        outcome = job.run()
    finally:
        job.cleanup()
    if settings.cursor and job.tally.rows == 0 and prior.cursor is not None:
        _check_not_backwards(target, resource, settings.cursor, prior.cursor)
    return LoadResult(
        table=target,
        strategy=settings.strategy,
        snapshot_id=outcome.snapshot_id,
        rows=job.tally.rows,
        written=outcome.written,
        bytes=outcome.bytes,
        files=outcome.files,
        changed=outcome.changed,
        rejected=job.rejected,
        inserted=outcome.inserted,
        deleted=outcome.deleted,
        cursor=job.cursor(),
        schema_changes=tuple(job.contract.changes) if outcome.changed else (),
        unsent=job.contract.missing,
    )


@dataclass
class _Outcome:
    snapshot_id: int | None = None
    written: int = 0
    bytes: int = 0
    files: int = 0
    changed: bool = False
    inserted: int = 0
    deleted: int = 0


@dataclass
class _Job:
    """One load in progress: its inputs, counters and staging folder."""

    lake: Lake
    target: str
    settings: Load
    extraction: Extraction
    contract: ContractPlan
    prior: LoadState
    start: Any
    replace: bool  # the table is new or refreshed: every current file goes
    now: datetime
    batch_rows: int
    properties: dict[str, str]
    on_rows: Callable[[int], None] | None
    audit: Audit | None = None
    tally: _Tally = field(default_factory=_Tally)
    rejected: int = 0
    staging: Path = field(default_factory=lambda: make_tempdir("stage"))

    @property
    def keyed_changes(self) -> bool:
        s = self.settings
        return s.strategy in ("merge", "scd2") or (
            s.strategy == "incremental" and bool(s.primary_key)
        )

    def run(self) -> _Outcome:
        if self.keyed_changes:
            return self._changes()
        return self._stream(replace=self.settings.strategy == "full" or self.replace)

    def cleanup(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def cursor(self) -> Any:
        return cursors.later(self.prior.cursor, self.tally.cursor)

    # -- per batch -------------------------------------------------------------------------

    def prepare(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """A batch made to fit the table, with rejects and the cursor's maximum tallied."""
        batch, origins = origin.split(batch)
        batch, rejects, origins = self.contract.apply(batch, origins, self.extraction.locate)
        top = None
        column = self.settings.cursor
        if column:
            batch, rejects = self._cursor_rows(batch, rejects, origins)
            top = cursors.batch_max(batch.column(column))
        self.tally.add(batch.num_rows, top, rejects)
        if self.on_rows is not None and not self.extraction.counted:
            self.on_rows(batch.num_rows)
        return batch

    def _cursor_rows(
        self, batch: pa.RecordBatch, rejects: list[Reject], origins: origin.Origins | None
    ) -> tuple[pa.RecordBatch, list[Reject]]:
        """Rows with a NULL cursor (per ``on_null_cursor``) and rows below the start out."""
        column = batch.column(self.settings.cursor or "")
        if column.null_count:
            if self.settings.on_null_cursor == "fail":
                raise SourceError(
                    f"table `{self.target}`: {column.null_count} row(s) have NULL in the cursor "
                    f"column `{self.settings.cursor}`; an incremental load cannot place them",
                    hint="set `on_null_cursor: exclude` to quarantine them, or fill the column",
                )
            nulls = pc.is_null(column)
            excluded: list[Reject] = [
                Reject(
                    reason=f"cursor `{self.settings.cursor}` is NULL (on_null_cursor: exclude)",
                    record=json.dumps(row, default=str),
                    column=self.settings.cursor,
                )
                for row in pc.filter(batch, nulls).to_pylist()
            ]
            if origins is not None:
                excluded = origins.mark(excluded, nulls)
            rejects = rejects + excluded
            batch = pc.filter(batch, pc.invert(nulls))
            column = batch.column(self.settings.cursor or "")
        low = self._low(column.type)
        if low is not None and len(column):
            # append takes rows above the stored cursor; every read takes rows from `initial` on
            strict = self.settings.strategy == "append" and self.prior.cursor is not None
            op = pc.greater if strict else pc.greater_equal
            keep = op(column, pa.scalar(low, column.type))
            if not pc.all(keep).as_py():
                batch = pc.filter(batch, keep)
        return batch, rejects

    def _low(self, cursor_type: pa.DataType) -> Any:
        """Rows below this cursor value are not wanted (the source may not filter itself)."""
        if self.settings.strategy == "append":
            return (
                self.prior.cursor
                if self.prior.cursor is not None
                else cursors.typed(self.settings.initial, cursor_type)
            )
        return cursors.typed(self.start, cursor_type)

    # -- publishing ------------------------------------------------------------------------

    @functools.cached_property
    def source_state(self) -> dict[str, Any]:
        """The source's state after the read (asked once: a file list may be large)."""
        return self.extraction.state()

    def _state(self) -> dict[str, str]:
        return {**self.properties, **state_properties(self.cursor(), self.source_state)}

    def _state_moved(self) -> bool:
        return self.cursor() != self.prior.cursor or self.source_state != dict(self.prior.source)

    def _quarantine(self) -> None:
        """Keep the rejects in the quarantine table, or fail the load (``on_bad_rows``)."""
        rejects = origin.resolve(
            list(self.tally.rejects) + list(self.extraction.rejects()), self.extraction.locate
        )
        if rejects and self.settings.on_bad_rows == "fail":
            raise _bad_rows(self.target, rejects)
        self.rejected = len(rejects)
        quarantine(
            self.lake, self.target, rejects, self.properties.get("headwater.run-id", ""), self.now
        )

    def _publish(
        self,
        staging: Staging,
        files: list[WrittenFile],
        outcome: _Outcome,
        *,
        replace: bool,
        remove: set[str] | None = None,
        on_base: bool = False,
    ) -> _Outcome:
        """Commit ``files`` with the load state: replacing every file, the files in
        ``remove``, or none."""
        result = publish(
            staging,
            files,
            keep=Keep.NONE if replace else Keep.ALL,
            remove=() if replace else (remove or ()),
            properties=self._state,
            audit=self.audit,
            on_base=on_base,
        )
        outcome.snapshot_id = result.snapshot_id
        outcome.written, outcome.bytes, outcome.files = result.rows, result.bytes, result.files
        outcome.changed = True
        return outcome

    # -- full, append and keyless incremental: stream straight into data files -------------

    def _stream(self, replace: bool) -> _Outcome:
        # rows at or below the stored cursor may already be in the table (the lag window)
        boundary = (
            self.prior.cursor if self.settings.strategy == "incremental" and not replace else None
        )
        outcome = _Outcome()
        with Staging(self.lake, self.target, self.contract.write_schema) as staging:
            files = self._write_new(staging, boundary)
            if not files and not replace and not self._state_moved():
                return outcome
            outcome.inserted = sum(f.record_count for f in files)
            return self._publish(staging, files, outcome, replace=replace)

    def _write_new(self, staging: Staging, boundary: Any) -> list[WrittenFile]:
        """The extracted rows as data files of the table: rows at or below ``boundary`` only
        where the table does not hold them; rejects quarantined."""
        files, staged = _parallel_write(
            staging,
            self.extraction,
            self.prepare,
            self.contract.write_schema,
            boundary,
            self.settings.cursor,
            self.staging,
        )
        if staged:
            files += self._unseen(staging, staged, boundary)
        self._quarantine()
        return files

    def _unseen(self, staging: Staging, staged: list[str], boundary: Any) -> list[WrittenFile]:
        """Write the lag-window rows the table does not hold yet."""
        schema = self.contract.write_schema
        with contextlib.closing(
            ChangeSet(staged, staging.base_files, schema, schema, self.lake.attach)
        ) as changes:
            assert self.settings.cursor is not None
            low = cursors.behind(boundary, self.settings.lag)
            rows = changes.reader(
                changes.new_rows(self.settings.cursor, low, self._compared()), self.batch_rows
            )
            return staging.writer().write_all(fit(batch, schema) for batch in rows)

    def _compared(self) -> list[str]:
        """Columns that say two rows are the same: those both the table and the source hold
        (a column just added is NULL in the table's rows, whatever the source holds; a column
        the source no longer sends is NULL in the rows read, whatever the table holds)."""
        added = {c.column for c in self.contract.changes if c.kind == "added"}
        unsent = set(self.contract.missing)
        return [n for n in self.contract.write_schema.names if n not in added | unsent]

    # -- merge, scd2 and keyed incremental: stage, then compute the change -----------------

    def _changes(self) -> _Outcome:
        settings = self.settings
        incoming = self.contract.write_schema
        table_schema = (
            pa.schema([*incoming, *HISTORY_SCHEMA]) if settings.strategy == "scd2" else incoming
        )
        if settings.delete_column:
            table_schema = pa.schema([f for f in table_schema if f.name != settings.delete_column])
        _, staged = _parallel_write(
            None, self.extraction, self.prepare, incoming, None, None, self.staging
        )
        self._quarantine()
        outcome = _Outcome()
        with Staging(self.lake, self.target, table_schema) as staging:
            existing = [] if self.replace else staging.base_files
            with contextlib.closing(
                ChangeSet(
                    staged,
                    existing,
                    table_schema,
                    incoming,
                    self.lake.attach,
                    unsent=self.contract.missing,
                )
            ) as changes:
                keys = settings.primary_key
                nulls = changes.null_keys(keys)
                if nulls:
                    raise SourceError(
                        f"table `{self.target}`: {nulls} row(s) have NULL in the primary key "
                        f"({', '.join(keys)})",
                        hint="fix the source rows, or choose a key that is never NULL",
                    )
                changes.latest_per_key(keys, settings.cursor)
                if settings.strategy == "scd2":
                    change, sql = changes.scd2(
                        keys, self.now, close_missing=self.extraction.complete
                    )
                else:
                    delete_missing = settings.delete_missing and self.extraction.complete
                    change, sql = changes.merge(keys, settings.delete_column, delete_missing)
                outcome.inserted, outcome.deleted = change.inserted, change.deleted
                if (
                    not self.replace
                    and not change.remove
                    and not change.inserted
                    and not self._state_moved()
                ):
                    return outcome
                files: list[WrittenFile] = []
                if change.rows:
                    rows = changes.reader(sql, self.batch_rows)
                    files = staging.writer().write_all(fit(b, table_schema) for b in rows)
                # computed from the files the staging saw: committed on that snapshot only
                return self._publish(
                    staging,
                    files,
                    outcome,
                    replace=self.replace,
                    remove=set(change.remove),
                    on_base=not self.replace,
                )


def _bad_rows(target: str, rejects: list[Reject]) -> BadRows:
    """The error of a load that refuses its bad input (``on_bad_rows: fail``)."""
    first = min(rejects, key=_where)
    where = f" at {first.location}" if first.location else ""
    record = first.record if len(first.record) <= 200 else first.record[:200] + "…"
    others = len(rejects) - 1
    more = f" (and {others} more bad row{'s' if others > 1 else ''})" if others else ""
    return BadRows(
        f"table `{target}`: bad input{where}: {first.reason}; the input: {record}{more}",
        table=target,
        location=first.location,
        reason=first.reason,
        count=len(rejects),
        hint="nothing was loaded: fix or remove the bad input and run again, or set "
        "`on_bad_rows: quarantine` to load the rest and keep it in the table "
        f"`{quarantine_name(target)}`",
    )


def _where(reject: Reject) -> tuple[str, int]:
    """A reject's location in file order: ``a.csv:9`` before ``a.csv:10``."""
    path, _, line = reject.location.rpartition(":")
    return (path, int(line)) if line.isdigit() else (reject.location, 0)


def _check_not_backwards(target: str, resource: Resource, column: str, stored: Any) -> None:
    """A source whose maximum fell below the stored cursor was restored or rewritten."""
    probe = getattr(resource, "max_cursor", None)
    if probe is None:
        return
    top = cursors.like(probe(column), stored)
    if top is not None and cursors.later(top, stored) == stored and top != stored:
        raise SourceError(
            f"table `{target}`: the source's largest `{column}` is {top}, below the stored "
            f"cursor {stored}: the cursor went backwards (was the source restored or rewritten?)",
            hint="rows below the cursor are not read again; run with --full-refresh to reload "
            "the table from scratch",
        )


def _start(prior: LoadState, settings: Load) -> Any:
    """Where this load reads from: the stored cursor minus the lag, else ``initial``."""
    if not settings.cursor:
        return None
    if prior.cursor is None:
        return settings.initial
    if settings.strategy == "append":
        return prior.cursor
    return cursors.behind(prior.cursor, settings.lag)


def _require_columns(target: str, schema: pa.Schema, settings: Load) -> None:
    wanted = [("cursor", settings.cursor)] if settings.cursor else []
    wanted += [("primary key", k) for k in settings.primary_key]
    if settings.delete_column:
        wanted.append(("delete column", settings.delete_column))
    for what, column in wanted:
        if column not in schema.names:
            raise SourceError(
                f"table `{target}`: {what} column `{column}` is not in the rows read"
                f"{did_you_mean(column, schema.names)}",
                hint=f"columns read: {', '.join(schema.names)}",
            )
    if settings.strategy == "scd2":
        clash = [c for c in HISTORY_COLUMNS if c in schema.names]
        if clash:
            raise SourceError(
                f"table `{target}`: scd2 adds the columns {', '.join(HISTORY_COLUMNS)}, and the "
                f"source has {', '.join(clash)}",
                hint="rename the source columns in a query",
            )


def _parallel_write(
    table: Staging | None,
    extraction: Extraction,
    prepare: Callable[[pa.RecordBatch], pa.RecordBatch],
    schema: pa.Schema,
    boundary: Any,
    cursor: str | None,
    staging: Path,
) -> tuple[list[WrittenFile], list[str]]:
    """Drain every stream of ``extraction`` at once, one thread each.

    With the table's staging, rows go to its data files (rows at or below ``boundary`` to the
    ``staging`` folder instead); without one, every row is staged there. Returns (data files,
    staged paths).
    """
    readers = list(extraction.readers)

    def drain(index: int) -> tuple[list[WrittenFile], list[str]]:
        writer = table.writer() if table is not None else None
        stage: pq.ParquetWriter | None = None
        stage_path = str(staging / f"stage-{index:03d}.parquet")
        try:
            for raw in readers[index]:
                batch = prepare(raw)
                if batch.num_rows == 0:
                    continue
                if writer is not None and boundary is not None and cursor:
                    old = pc.less_equal(
                        batch.column(cursor), pa.scalar(boundary, batch.schema.field(cursor).type)
                    )
                    if pc.any(old).as_py():
                        if stage is None:
                            staging.mkdir(parents=True, exist_ok=True)
                            stage = pq.ParquetWriter(stage_path, schema)
                        stage.write_batch(pc.filter(batch, old))
                        batch = pc.filter(batch, pc.invert(old))
                if writer is not None:
                    writer.write(batch)
                else:
                    if stage is None:
                        staging.mkdir(parents=True, exist_ok=True)
                        stage = pq.ParquetWriter(stage_path, schema)
                    stage.write_batch(batch)
            if writer is not None:
                writer.close()
            if stage is not None:
                stage.close()
                stage = None
                return (writer.files if writer else []), [stage_path]
            return (writer.files if writer else []), []
        finally:
            if writer is not None:
                writer.abort()
            if stage is not None:
                stage.close()

    if len(readers) == 1:
        results = [drain(0)]
    else:
        with ThreadPoolExecutor(len(readers), thread_name_prefix="headwater-read") as pool:
            results = list(pool.map(drain, range(len(readers))))
    files = [f for r in results for f in r[0]]
    staged = [p for r in results for p in r[1]]
    return files, staged
