"""What every source hands to a load: Arrow batches, the state to commit with them, rejects.

A *resource* is one table's worth of a source (a SQL table, an API endpoint, a file glob, a
Redis key pattern). Reading it yields an :class:`Extraction`; the load strategy
(:mod:`headwater.ingest.load`) writes it to the lake and commits, in the same Iceberg snapshot,
the cursor and the resource's own state, so a crash between the two cannot happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from headwater.ingest.origin import Locate, visible
from headwater.lake.quarantine import Reject

__all__ = ["Extraction", "ReadContext", "Reject", "Resource"]


@dataclass(frozen=True)
class ReadContext:
    """What a resource needs to read only what is new since the last committed load.

    ``cursor_start`` is already lag-adjusted: read rows whose ``cursor_column`` is ``>=`` it
    (None: from the beginning). ``state`` is the resource's own state as it returned it with
    the last committed load (``{}`` on the first run or a full refresh).
    """

    run_id: str = ""
    cursor_column: str | None = None
    cursor_start: Any = None
    state: Mapping[str, Any] = field(default_factory=dict)
    landing: Path | None = None  # where raw input may be kept, when the source asks for it
    # records fetched so far, for a source that reads everything before it returns (an API)
    progress: Callable[[int], None] | None = None
    # the table's columns (None: a new table); a source whose input has no types of its own
    # (CSV) reads its columns as these, so a value that does not fit is a reject of the source
    table_schema: pa.Schema | None = None


@dataclass
class Extraction:
    """The rows of one read, as one or more streams of the same schema read concurrently.

    ``state`` and ``rejects`` are called once every stream is drained. ``complete`` is True
    when the rows are the whole source (no cursor or new-only filter), which lets ``merge``
    delete the keys that are gone and ``scd2`` close their history. ``locate`` names the
    ``path:line`` of rows the load refuses, from the hidden columns of
    :mod:`headwater.ingest.origin`.
    """

    readers: Sequence[pa.RecordBatchReader]
    state: Callable[[], dict[str, Any]] = dict
    rejects: Callable[[], Sequence[Reject]] = tuple
    complete: bool = True
    counted: bool = False  # the rows were already reported through ReadContext.progress
    # where a row is, for a source whose rows carry the hidden ``origin`` columns
    locate: Locate | None = None

    @property
    def schema(self) -> pa.Schema:
        """The columns of the rows read (without the hidden ones that say where each is)."""
        return visible(self.readers[0].schema)


class Resource(Protocol):
    """One table's worth of a source."""

    @property
    def name(self) -> str:
        """The table name in the source's namespace."""
        ...

    def read(self, context: ReadContext) -> Extraction:
        """Start reading; the streams may be lazy, errors may surface while they are read."""
        ...
