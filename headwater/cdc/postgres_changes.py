"""Gathering decoded pgoutput messages into columnar :class:`TableChanges`.

Values are kept per column as the bytes the server sent until the block is done, then each
column becomes an Arrow array in one cast (:func:`headwater.cdc.postgres_types.to_arrow`).
A table whose Relation message changes (a column added, dropped or retyped) starts a new
segment with the new columns, so a block may hold a table more than once.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from headwater.cdc.capture import CHANGE_FIELDS, TableChanges
from headwater.cdc.pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    Decoded,
    Delete,
    Insert,
    Relation,
    Truncate,
    TypeInfo,
    Update,
    Values,
    decode,
    lsn_text,
)
from headwater.cdc.postgres_types import arrow_type, to_arrow, type_name
from headwater.errors import CdcError

_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_UINT32 = struct.Struct("!I")


def signature(relation: Relation) -> tuple[tuple[str, int, int], ...]:
    return tuple((c.name, c.type_oid, c.typmod) for c in relation.columns)


@dataclass
class _Segment:
    """The changes of one table under one Relation (one set of columns)."""

    relation: Relation
    types: tuple[pa.DataType, ...]
    first_seq: int
    #: every row's values one after another (row-major: column i is values[i::width])
    values: list[bytes | None] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    transactions: list[int] = field(default_factory=list)
    # _unchanged as a list array: its flat values and where each row's list ends
    unchanged_values: list[str] = field(default_factory=list)
    unchanged_ends: list[int] = field(default_factory=lambda: [0])

    @property
    def width(self) -> int:
        return len(self.relation.columns)

    def add(self, op: str, values: Values | None, seq: int, transaction: int) -> None:
        self.ops.append(op)
        self.seqs.append(seq)
        self.transactions.append(transaction)
        if values is None:  # a truncate: no values
            self.values.extend([None] * self.width)
        else:
            for index, value in enumerate(values):
                if value is UNCHANGED:
                    self.values.append(None)
                    self.unchanged_values.append(self.relation.columns[index].name)
                else:
                    self.values.append(value)
        self.unchanged_ends.append(len(self.unchanged_values))

    def add_tuple(self, op: str, data: bytes, pos: int, seq: int, transaction: int) -> None:
        """Add the TupleData at ``pos`` of a message: :meth:`add` without building the list
        of values first (the hot path: most changes go through here)."""
        self.ops.append(op)
        self.seqs.append(seq)
        self.transactions.append(transaction)
        (count,) = _INT16.unpack_from(data, pos)
        if count != self.width:
            raise CdcError(
                f"pgoutput sent {count} values for the {self.width} columns of "
                f"`{self.relation.table}`"
            )
        pos += 2
        unpack = _INT32.unpack_from
        append = self.values.append
        for _ in range(count):
            kind = data[pos]
            if kind == 116:  # 't' text, by far the most common
                (length,) = unpack(data, pos + 1)
                pos += 5
                end = pos + length
                append(data[pos:end])
                pos = end
            else:
                pos = self._other_value(kind, data, pos)
        self.unchanged_ends.append(len(self.unchanged_values))

    def _other_value(self, kind: int, data: bytes, pos: int) -> int:
        if kind == 110:  # 'n' null
            self.values.append(None)
            return pos + 1
        if kind == 117:  # 'u' unchanged TOASTed value, not sent
            index = len(self.values) % self.width
            self.values.append(None)
            self.unchanged_values.append(self.relation.columns[index].name)
            return pos + 1
        if kind == 98:  # 'b' binary
            (length,) = _INT32.unpack_from(data, pos + 1)
            self.values.append(data[pos + 5 : pos + 5 + length])
            return pos + 5 + length
        raise CdcError(f"pgoutput sent a tuple value of unknown kind {chr(kind)!r}")

    def __len__(self) -> int:
        return len(self.ops)

    def truncate_to(self, rows: int) -> None:
        """Forget the rows after the first ``rows`` (an unfinished transaction's)."""
        del self.values[rows * self.width :]
        del self.ops[rows:], self.seqs[rows:], self.transactions[rows:]
        del self.unchanged_ends[rows + 1 :]
        del self.unchanged_values[self.unchanged_ends[-1] :]

    def table(
        self, key: tuple[str, ...], positions: pa.Array, commit_times: pa.Array
    ) -> TableChanges:
        relation = self.relation
        arrays: list[pa.Array] = []
        fields: list[pa.Field] = []
        width = self.width
        for index, (column, target) in enumerate(zip(relation.columns, self.types, strict=True)):
            text = pa.array(self.values[index::width], pa.binary()).cast(pa.string())
            where = f"column `{column.name}` of `{relation.table}`"
            arrays.append(to_arrow(text, target, where))
            fields.append(pa.field(column.name, target))
        index = pa.array(self.transactions, pa.int32())
        arrays += [
            pa.array(self.ops, pa.string()),
            pa.array(self.seqs, pa.int64()),
            positions.take(index),
            commit_times.take(index),
            pa.ListArray.from_arrays(
                pa.array(self.unchanged_ends, pa.int32()),
                pa.array(self.unchanged_values, pa.string()),
            ),
        ]
        schema = pa.schema([*fields, *CHANGE_FIELDS])
        return TableChanges(relation.table, key, pa.Table.from_arrays(arrays, schema=schema))


@dataclass
class Collector:
    """Whole transactions committed after ``after`` (an LSN), in commit order.

    ``feed`` takes the messages of one slot read in order; :attr:`count` and :attr:`end`
    say how much is complete. Changes of tables outside ``tables`` are left out (a
    publication for all tables sends them).
    """

    tables: frozenset[str]
    after: int
    end: int = 0
    end_commit_us: int | None = None
    count: int = 0
    #: whole transactions gathered (those with no change of ours too)
    transactions: int = 0
    relations: dict[int, Relation] = field(default_factory=dict)
    type_names: dict[int, str] = field(default_factory=dict)
    _segments: list[_Segment] = field(default_factory=list)
    _current: dict[int, _Segment] = field(default_factory=dict)
    _positions: list[str] = field(default_factory=list)
    _commit_us: list[int] = field(default_factory=list)
    _open: Begin | None = None
    _skipping: bool = False
    _marks: list[tuple[_Segment, int]] = field(default_factory=list)
    _seq_mark: int = 0

    def __post_init__(self) -> None:
        self.end = self.after

    @property
    def in_transaction(self) -> bool:
        return self._open is not None

    def feed_bytes(self, data: bytes) -> None:
        """Take one message as the server sent it. Inserts, deletes and updates that carry
        no old row go straight into their segment's columns; the rest through
        :func:`~headwater.cdc.pgoutput.decode`."""
        kind = data[0]
        # 'I' insert, 'D' delete: relid, a tuple marker, the tuple; 'U' update with 'N' only
        if kind == 73 or kind == 68 or (kind == 85 and data[5] == 78):
            if self._skipping:
                return
            (relid,) = _UINT32.unpack_from(data, 1)
            segment = self._current.get(relid)
            if segment is None:
                segment = self._segment(relid)
            if segment is not None:
                op = "c" if kind == 73 else "d" if kind == 68 else "u"
                segment.add_tuple(op, data, 6, self.count, len(self._positions))
                self.count += 1
            return
        self.feed(decode(data))

    def feed(self, message: Decoded) -> None:
        if isinstance(message, Insert):
            self._change("c", message.relid, message.new)
        elif isinstance(message, Update):
            self._update(message)
        elif isinstance(message, Delete):
            self._change("d", message.relid, message.old)
        elif isinstance(message, Begin):
            self._begin(message)
        elif isinstance(message, Commit):
            self._commit(message)
        elif isinstance(message, Relation):
            self._relation(message)
        elif isinstance(message, Truncate):
            for relid in message.relids:
                self._change("t", relid, None)
        elif isinstance(message, TypeInfo):
            self.type_names[message.oid] = f"{message.namespace}.{message.name}"
        # Origin and Message carry nothing to apply

    def _begin(self, begin: Begin) -> None:
        if self._open is not None:
            raise CdcError("pgoutput sent a transaction's start inside another transaction")
        self._open = begin
        # a commit record that starts before `after` ends at or before it: applied already
        self._skipping = begin.final_lsn < self.after
        self._marks = [(segment, len(segment)) for segment in self._segments]
        self._seq_mark = self.count

    def _commit(self, commit: Commit) -> None:
        if self._open is None:
            raise CdcError("pgoutput sent a transaction's commit outside a transaction")
        self._open = None
        if self._skipping:
            return
        self.transactions += 1
        self.end = commit.end_lsn
        self.end_commit_us = commit.commit_time_us
        self._positions.append(lsn_text(commit.end_lsn))
        self._commit_us.append(commit.commit_time_us)

    def rollback_open(self) -> None:
        """Forget the changes of a transaction whose commit was not read."""
        if self._open is None:
            return
        known = {id(segment): rows for segment, rows in self._marks}
        kept = []
        for segment in self._segments:
            if id(segment) in known:
                segment.truncate_to(known[id(segment)])
                kept.append(segment)
        self._segments = kept
        self._current = {
            relid: segment for relid, segment in self._current.items() if id(segment) in known
        }
        self.count = self._seq_mark
        self._open = None

    def _relation(self, relation: Relation) -> None:
        known = self.relations.get(relation.relid)
        self.relations[relation.relid] = relation
        current = self._current.get(relation.relid)
        if current is not None and known is not None and signature(known) != signature(relation):
            del self._current[relation.relid]  # the next change starts a segment

    def _segment(self, relid: int) -> _Segment | None:
        segment = self._current.get(relid)
        if segment is not None:
            return segment
        relation = self.relations.get(relid)
        if relation is None:
            raise CdcError(f"pgoutput sent a change of relation {relid} before describing it")
        if relation.table not in self.tables:
            return None
        types = tuple(
            arrow_type(type_name(c.type_oid, self.type_names), c.typmod) for c in relation.columns
        )
        segment = _Segment(relation, types, self.count)
        self._segments.append(segment)
        self._current[relid] = segment
        return segment

    def _change(self, op: str, relid: int, values: Values | None) -> None:
        if self._skipping:
            return
        segment = self._segment(relid)
        if segment is None:
            return
        segment.add(op, values, self.count, len(self._positions))
        self.count += 1

    def _update(self, update: Update) -> None:
        if self._skipping:
            return
        segment = self._segment(update.relid)
        if segment is None:
            return
        if update.old is not None:
            keys = [i for i, c in enumerate(segment.relation.columns) if c.key]
            # an unchanged TOASTed value is no change of the key
            new = update.new
            if any(new[i] is not UNCHANGED and update.old[i] != new[i] for i in keys):
                segment.add("d", update.old, self.count, len(self._positions))
                self.count += 1
        segment.add("u", update.new, self.count, len(self._positions))
        self.count += 1

    def changes(self, keys: Callable[[Relation], tuple[str, ...]]) -> list[TableChanges]:
        """The gathered changes, one :class:`TableChanges` per segment, in the order each
        segment's first change was made; ``keys`` names a table's key columns."""
        if self._open is not None:
            self.rollback_open()
        positions = pa.array(self._positions, pa.string())
        commit_times = pa.array(self._commit_us, pa.timestamp("us", tz="UTC"))
        return [
            segment.table(keys(segment.relation), positions, commit_times)
            for segment in sorted(self._segments, key=lambda s: s.first_seq)
            if len(segment)
        ]

    @property
    def end_commit_time(self) -> datetime | None:
        if self.end_commit_us is None:
            return None
        return datetime.fromtimestamp(self.end_commit_us / 1_000_000, UTC)
