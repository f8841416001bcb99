"""Row events of the binary log collected into columnar :class:`TableChanges`.

A table's columns are those of the table map event before its rows (with
``binlog_row_metadata=FULL`` it carries the names, key, unsigned flags and enum and set
members as they were when the rows were written), so a table changed by ``ALTER TABLE``
mid-stream starts a new :class:`TableChanges` with its new schema exactly where its rows
change shape. Values are gathered in per-column lists and turned into Arrow arrays once per
block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from headwater.cdc.capture import CHANGE_FIELDS, TableChanges
from headwater.cdc.mysql.server import TableColumns
from headwater.cdc.mysql.types import ColumnType, Convert, binlog_column_type, binlog_converter
from headwater.errors import CdcError, CdcSetupError

_EMPTY_SET = "empty set"  # pymysqlreplication's none source of a SET without members


@dataclass(frozen=True)
class TablePlan:
    """How the rows of one table map event become Arrow columns."""

    table: str
    names: tuple[str, ...]
    key: tuple[str, ...]
    schema: pa.Schema
    converters: tuple[Convert, ...]
    #: positions of SET columns: an empty SET arrives as None and means ''
    sets: tuple[int, ...]

    @classmethod
    def from_table_map(cls, event: Any, position: str) -> TablePlan:
        table = f"{event.schema}.{event.table}"
        columns = event.columns
        names = tuple(c.name for c in columns)
        if any(name is None for name in names):
            raise CdcError(
                f"the binary log at {position} has no column names for `{table}`: it was "
                "written while binlog_row_metadata was not FULL",
                hint="SET GLOBAL binlog_row_metadata = FULL (and in the server's option "
                "file), then take a new snapshot: changes before it cannot be named",
            )
        metadata = event.optional_metadata
        indexes = list(metadata.simple_primary_key_list) or list(metadata.primary_keys_with_prefix)
        if not indexes:
            raise CdcSetupError(
                f"table `{table}` has no primary key in the binary log at {position}",
                hint=f"ALTER TABLE {table} ADD PRIMARY KEY (…): the capture merges changes "
                "by the primary key",
            )
        types: list[ColumnType] = [binlog_column_type(c) for c in columns]
        fields = [pa.field(c.name, t.arrow()) for c, t in zip(columns, types, strict=True)]
        return cls(
            table=table,
            names=names,
            key=tuple(names[i] for i in indexes),
            schema=pa.schema(fields),
            converters=tuple(
                binlog_converter(c, t, f"{table}.{c.name}")
                for c, t in zip(columns, types, strict=True)
            ),
            sets=tuple(i for i, t in enumerate(types) if t.name == "set"),
        )

    @classmethod
    def from_catalog(cls, columns: TableColumns) -> TablePlan:
        """The table as the catalog has it now: for a ``t`` change of a table whose rows the
        stream has not met (its values are all null, so only the schema matters)."""
        return cls(
            table=columns.table,
            names=columns.names,
            key=columns.key,
            schema=pa.schema(
                [pa.field(n, t.arrow()) for n, t in zip(columns.names, columns.types, strict=True)]
            ),
            converters=tuple(None for _ in columns.names),
            sets=(),
        )

    def same_shape(self, other: TablePlan) -> bool:
        return self.names == other.names and self.key == other.key and self.schema == other.schema


@dataclass
class _Segment:
    """One table's changes under one schema, as lists until the block is built."""

    plan: TablePlan
    columns: list[list[Any]]
    ops: list[str] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    positions: list[str] = field(default_factory=list)
    times: list[int] = field(default_factory=list)

    def build(self) -> TableChanges:
        plan = self.plan
        arrays = []
        for values, convert, target in zip(
            self.columns, plan.converters, plan.schema.types, strict=True
        ):
            data = values if convert is None else [convert(v) for v in values]
            arrays.append(pa.array(data, type=target))
        count = len(self.ops)
        arrays += [
            pa.array(self.ops, pa.string()),
            pa.array(self.seqs, pa.int64()),
            pa.array(self.positions, pa.string()),
            pa.array(self.times, pa.timestamp("us", tz="UTC")),
            pa.ListArray.from_arrays(
                pa.array([0] * (count + 1), pa.int32()), pa.array([], pa.string())
            ),
        ]
        schema = pa.schema([*plan.schema, *CHANGE_FIELDS])
        return TableChanges(table=plan.table, key=plan.key, rows=pa.table(arrays, schema=schema))


class BlockBuilder:
    """Whole transactions' row changes, in commit order, for the captured tables."""

    def __init__(self) -> None:
        self.segments: list[_Segment] = []
        self._current: dict[str, _Segment] = {}
        self.count = 0  # committed changes
        #: commit time of the last transaction committed, captured rows or not
        self.last_time: datetime | None = None
        self._seq = 0
        self._seq_at_begin = 0
        # (segment, its length when the transaction began) for segments the open transaction
        # wrote to, so that its rows get their position at commit or go at a rollback
        self._open: dict[int, tuple[_Segment, int]] = {}

    def add(self, plan: TablePlan, event: Any, kind: str) -> None:
        """The rows of one write, update or delete rows event of a captured table."""
        segment = self._opened(plan)
        if kind == "update":
            self._updates(segment, event.rows)
        else:
            op = "c" if kind == "write" else "d"
            for row in event.rows:
                self._append(segment, op, row["values"], row["none_sources"])

    def truncate(self, plan: TablePlan) -> None:
        """The table was emptied: one ``t`` change, every column null, in its place."""
        segment = self._opened(plan)
        for column in segment.columns:
            column.append(None)
        segment.ops.append("t")
        segment.seqs.append(self._seq)
        self._seq += 1

    def commit(self, position: str, timestamp: int) -> None:
        """The open transaction committed at ``position`` (where the next one starts)."""
        micros = timestamp * 1_000_000
        self.last_time = datetime.fromtimestamp(timestamp, UTC)
        for segment, _ in self._open.values():
            added = len(segment.ops) - len(segment.positions)
            segment.positions.extend([position] * added)
            segment.times.extend([micros] * added)
            self.count += added
        self._open.clear()

    def rollback(self) -> None:
        """Forget the open transaction's rows (a ROLLBACK in the log)."""
        for segment, length in self._open.values():
            for values in segment.columns:
                del values[length:]
            del segment.ops[length:]
            del segment.seqs[length:]
        if self._open:
            self._seq = self._seq_at_begin
        self._open.clear()
        self.segments = [s for s in self.segments if s.ops]
        self._current = {t: s for t, s in self._current.items() if s.ops}

    def changes(self) -> list[TableChanges]:
        return [segment.build() for segment in self.segments if segment.ops]

    def _opened(self, plan: TablePlan) -> _Segment:
        """``plan``'s segment, noted as written by the open transaction."""
        if not self._open:
            self._seq_at_begin = self._seq
        segment = self._segment(plan)
        if id(segment) not in self._open:
            self._open[id(segment)] = (segment, len(segment.ops))
        return segment

    def _segment(self, plan: TablePlan) -> _Segment:
        segment = self._current.get(plan.table)
        if segment is not None and (segment.plan is plan or segment.plan.same_shape(plan)):
            return segment
        segment = _Segment(plan, [[] for _ in plan.names])
        self.segments.append(segment)
        self._current[plan.table] = segment
        return segment

    def _updates(self, segment: _Segment, rows: list[dict[str, Any]]) -> None:
        key = segment.plan.key
        for row in rows:
            before, after = row["before_values"], row["after_values"]
            if any(before[k] != after[k] for k in key):
                # the apply step merges by key: the old key goes, the new one arrives
                self._append(segment, "d", before, row["before_none_sources"])
            self._append(segment, "u", after, row["after_none_sources"])

    def _append(
        self, segment: _Segment, op: str, values: dict[str, Any], nones: dict[str, str]
    ) -> None:
        plan = segment.plan
        columns = segment.columns
        for column, name in zip(columns, plan.names, strict=True):
            column.append(values[name])
        for i in plan.sets:
            if columns[i][-1] is None and nones.get(plan.names[i]) == _EMPTY_SET:
                columns[i][-1] = ""
        segment.ops.append(op)
        segment.seqs.append(self._seq)
        self._seq += 1
