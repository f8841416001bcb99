"""Apply captured changes to a lake table, exactly once, through the load strategies.

A block's changes of one table are collapsed to the last change of each key (in source-commit
order) and merged by key: a key whose last change is a delete leaves the table, any other
takes its new row. The position after the changes is the load's source state, so it is
committed in the same Iceberg snapshot as the rows (:mod:`headwater.ingest.state`). Changes
at or before the table's committed position are dropped first: a block read again after a
crash changes nothing that was already applied, while the other tables of the capture, which
may be behind, still get theirs.

The initial snapshot is a ``full`` load of each table with the snapshot's position as state.
Schema changes follow the table's contract like any load's: a new column is added under
``evolve``, a column the source no longer sends stays in the table and is NULL in new rows,
and a change the contract refuses fails the apply before anything is published, so the
position stays where it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from headwater.cdc.capture import (
    CHANGE_COLUMNS,
    OP,
    POSITION,
    SEQ,
    UNCHANGED,
    SnapshotTable,
    TableChanges,
)
from headwater.cdc.positions import sort_key
from headwater.errors import CdcSetupError
from headwater.ingest.extraction import Extraction, ReadContext
from headwater.ingest.load import LoadResult, load
from headwater.ingest.state import committed_state
from headwater.lake import Lake
from headwater.project.base import Contract, Load

#: the source state key under which a table's committed position is kept
STATE_KEY = "cdc_position"
#: the column that marks a key deleted, for the merge (never written to the table)
DELETED = "__hw_deleted"


def committed_position(lake: Lake, target: str) -> str | None:
    """The source position the table holds every change up to (None: never captured)."""
    if not lake.exists(target):
        return None
    value = committed_state(lake, target).source.get(STATE_KEY)
    return str(value) if value is not None else None


@dataclass(frozen=True)
class _Rows:
    """A resource over rows already read: what the load strategies take."""

    name: str
    readers: tuple[pa.RecordBatchReader, ...]
    state: Mapping[str, Any]
    complete: bool

    def read(self, context: ReadContext) -> Extraction:
        return Extraction(self.readers, state=lambda: dict(self.state), complete=self.complete)


def apply_snapshot(
    lake: Lake,
    target: str,
    table: SnapshotTable,
    position: str,
    *,
    contract: Contract = "evolve",
    properties: Mapping[str, str] | None = None,
) -> LoadResult:
    """The table as the snapshot read it, with ``position`` committed beside the rows."""
    reader = pa.RecordBatchReader.from_batches(table.schema, table.batches)
    rows = _Rows(table.table, (reader,), {STATE_KEY: position}, complete=True)
    settings = Load(strategy="full", primary_key=table.key, contract=contract)
    return load(lake, target, rows, settings, properties=properties)


def apply_changes(
    lake: Lake,
    target: str,
    changes: TableChanges,
    end: str,
    *,
    contract: Contract = "evolve",
    properties: Mapping[str, str] | None = None,
) -> LoadResult | None:
    """Merge ``changes`` into ``target`` and commit ``end`` as its position; None when every
    change was applied before (nothing to commit)."""
    after = committed_position(lake, target)
    rows = _newer(changes.rows, after)
    if rows.num_rows == 0:
        return None
    _require_sent(changes.table, rows)
    collapsed = _last_per_key(rows, changes.key)
    reader = pa.RecordBatchReader.from_batches(collapsed.schema, collapsed.to_batches())
    resource = _Rows(changes.table, (reader,), {STATE_KEY: end}, complete=False)
    settings = Load(
        strategy="merge", primary_key=changes.key, delete_column=DELETED, contract=contract
    )
    return load(lake, target, resource, settings, properties=properties)


def _newer(rows: pa.Table, after: str | None) -> pa.Table:
    """The changes of transactions after ``after``."""
    if after is None or rows.num_rows == 0:
        return rows
    bound = sort_key(after)
    positions = rows.column(POSITION)
    distinct = pc.unique(positions).to_pylist()
    later = [p for p in distinct if sort_key(p) > bound]
    if len(later) == len(distinct):
        return rows
    return rows.filter(pc.is_in(positions, value_set=pa.array(later, pa.string())))


def _require_sent(table: str, rows: pa.Table) -> None:
    """Every value of every row is there (PostgreSQL leaves out unchanged TOASTed values)."""
    lengths = pc.list_value_length(rows.column(UNCHANGED))
    if not pc.any(pc.greater(pc.fill_null(lengths, 0), 0)).as_py():
        return
    first = pc.index(pc.greater(pc.fill_null(lengths, 0), 0), True).as_py()
    columns = rows.column(UNCHANGED)[first].as_py()
    raise CdcSetupError(
        f"table `{table}`: an update did not send the unchanged value of "
        f"{', '.join(f'`{c}`' for c in columns)} (a large, TOASTed value), so the mirror "
        "cannot be updated from the change alone",
        hint=f"run `ALTER TABLE {table} REPLICA IDENTITY FULL` on the source so that "
        "updates carry the whole old row, then run the capture again (its position was kept)",
    )


def _last_per_key(rows: pa.Table, key: Iterable[str]) -> pa.Table:
    """One row per key: its last change, with :data:`DELETED` true for a delete."""
    import duckdb

    from headwater.connect.sql.quoting import ident

    keys = ", ".join(ident(k) for k in key)
    drop = ", ".join(ident(c) for c in CHANGE_COLUMNS)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("changes", rows)
        return con.execute(
            f"SELECT * EXCLUDE ({drop}), {ident(OP)} = 'd' AS {ident(DELETED)} FROM changes "
            f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {ident(SEQ)} DESC) = 1"
        ).to_arrow_table()
    finally:
        con.close()
