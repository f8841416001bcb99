"""Insert a stream of rows into one table in bounded chunks, reporting progress per chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import Any

import sqlalchemy as sa

Row = Mapping[str, Any]
Progress = Callable[[str, int], None]

#: rows per executemany: large enough to amortise round trips, small enough to bound memory
CHUNK_ROWS = 10_000


def write_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Iterable[Row],
    *,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
) -> int:
    """Insert ``rows`` into ``table`` with one executemany per chunk; return how many."""
    statement = table.insert()
    iterator = iter(rows)
    size = chunk_rows or CHUNK_ROWS
    written = 0
    while chunk := list(islice(iterator, size)):
        conn.execute(statement, chunk)
        written += len(chunk)
        if progress is not None:
            progress(table.name, written)
    return written
