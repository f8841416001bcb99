"""Server-side cursors of the query service: pages, and idle queries closed."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from headwater.errors import QueryError
from headwater.sql.cursors import Cursors


def test_an_idle_query_is_closed_when_its_next_page_is_asked_late() -> None:
    closed: list[str] = []

    @contextlib.contextmanager
    def opener(sql: str) -> Iterator[pa.RecordBatchReader]:
        table = pa.table({"x": list(range(10))})
        try:
            yield pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))
        finally:
            closed.append(sql)

    cursors = Cursors(opener, idle_seconds=0.1)
    first = cursors.first("q", 4)
    assert first.rows.num_rows == 4 and first.token is not None
    time.sleep(0.3)
    with pytest.raises(QueryError, match="idle queries close after"):
        cursors.next(first.token, 4)
    assert closed == ["q"] and len(cursors) == 0
