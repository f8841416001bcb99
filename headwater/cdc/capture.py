"""What a change-data-capture source hands to the step that applies it: an initial snapshot
at a known position, then blocks of row changes in source-commit order, each ending at a
position the source can resume after.

A capture never decides what is durable: the apply step commits a block's rows and its
``end`` position in one Iceberg snapshot, then calls :meth:`Capture.acknowledge` so the source
may free its log up to there. A restart reads from the committed position again, so a block
seen before a crash is read (and applied) once more, and the apply step skips what its table
already holds.

Changes are columnar: a :class:`TableChanges` is an Arrow table of the source table's
columns (typed from the source's column types) plus the :data:`CHANGE_COLUMNS`, one row per
change, so applying them is vectorised work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import pyarrow as pa

#: Debezium's letters: ``r`` a row of the initial snapshot, ``c`` insert, ``u`` update,
#: ``d`` delete, ``t`` the table was emptied (PostgreSQL's TRUNCATE: one row, every column
#: null; the rows before it in the block apply first, then the table is emptied)
Op = Literal["r", "c", "u", "d", "t"]

#: the change's kind (:data:`Op`), as ``string``
OP = "_op"
#: the change's place in source-commit order within its block, from 0, as ``int64``
SEQ = "_seq"
#: the source position of the transaction the change belongs to (a capture's own text:
#: an LSN, ``file:position`` or a GTID set), as ``string``
POSITION = "_position"
#: when the source committed the change's transaction, as ``timestamp[us, UTC]``
COMMIT_TIME = "_commit_time"
#: the columns whose values the source did not send (PostgreSQL's unchanged TOASTed values),
#: as ``list<string>``, empty for most rows; their cells are null and mean "unchanged"
UNCHANGED = "_unchanged"

CHANGE_COLUMNS = (OP, SEQ, POSITION, COMMIT_TIME, UNCHANGED)

CHANGE_FIELDS = pa.schema(
    [
        pa.field(OP, pa.string(), nullable=False),
        pa.field(SEQ, pa.int64(), nullable=False),
        pa.field(POSITION, pa.string(), nullable=False),
        pa.field(COMMIT_TIME, pa.timestamp("us", tz="UTC")),
        pa.field(UNCHANGED, pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True)
class TableChanges:
    """Changes of one source table under one schema, in source-commit order.

    ``rows`` holds the table's columns as of these changes, then :data:`CHANGE_COLUMNS`. A
    delete carries the key columns (and the rest when the source sends the old row). An update
    that changes the key is a ``d`` of the old key followed by a ``u`` of the new row.
    """

    #: the source table, ``schema.name`` (PostgreSQL) or ``database.name`` (MySQL)
    table: str
    #: the primary-key columns (or the replica identity's)
    key: tuple[str, ...]
    rows: pa.Table


@dataclass(frozen=True)
class ChangeBlock:
    """Whole transactions read after a position. ``changes`` are in source-commit order; a
    table appears again when its schema changed within the block."""

    changes: Sequence[TableChanges]
    #: where the next read starts (after the block's last transaction); the position committed
    #: with the block's rows
    end: str
    #: commit time of the block's last transaction (None when the block is empty)
    end_commit_time: datetime | None = None

    @property
    def count(self) -> int:
        return sum(change.rows.num_rows for change in self.changes)


@dataclass(frozen=True)
class SnapshotTable:
    """One source table of an initial snapshot: its key and its rows in bounded batches."""

    table: str
    key: tuple[str, ...]
    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]


class SnapshotRead(Protocol):
    """A consistent read of the captured tables at :attr:`position`: every change after it
    arrives from :meth:`Capture.read`, none before it."""

    position: str

    def tables(self) -> Iterator[SnapshotTable]: ...


@dataclass(frozen=True)
class CaptureStatus:
    """What a DBA asks of a capture."""

    #: the slot (PostgreSQL) or the server id and binlog (MySQL) the capture reads from
    name: str
    exists: bool
    #: the position the source has been told it may free up to
    acknowledged: str | None
    #: the source's newest position
    current: str | None
    #: how far behind the source the acknowledged position is, in bytes of log (None: unknown)
    lag_bytes: int | None
    #: commit time of the newest change not yet acknowledged (seconds behind; None: none)
    lag_seconds: float | None
    active: bool = False
    details: dict[str, str] = field(default_factory=dict)


class Capture(Protocol):
    """One source database's change log, for a set of its tables."""

    def check(self) -> None:
        """Raise :class:`~headwater.errors.CdcSetupError` naming what the server lacks
        (``wal_level``, replication privilege, ``binlog_format``, a table without a key…)
        and how to fix it."""

    def ensure(self) -> bool:
        """Create what the capture reads from (publication and slot) when missing; True if it
        was created, so nothing before now can be read and a snapshot is needed."""

    def snapshot(self) -> AbstractContextManager[SnapshotRead]:
        """A consistent snapshot of the captured tables at the position changes start from."""

    def read(self, after: str | None, *, max_changes: int, wait: float) -> ChangeBlock:
        """Whole transactions committed after ``after`` (None: after the last acknowledged
        position), stopping at the first transaction end past ``max_changes`` changes, or when
        nothing more arrives within ``wait`` seconds. Does not acknowledge anything."""

    def acknowledge(self, position: str) -> None:
        """Tell the source that everything up to ``position`` is committed to the lake."""

    def heartbeat(self) -> None:
        """Keep an idle capture's position moving so the source does not hold its log."""

    def status(self) -> CaptureStatus: ...

    def drop(self) -> None:
        """Remove what :meth:`ensure` created (slot, publication); nothing else."""

    def close(self) -> None: ...
