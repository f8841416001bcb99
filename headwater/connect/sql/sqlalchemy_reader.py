"""The fallback reader: any SQLAlchemy dialect, through a server-side cursor.

Rows arrive as Python tuples (the DB-API gives nothing else), so this is the one place with
per-row work; it is transposed to columns once per batch and converted to Arrow per column.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from headwater.connect.sql.database import SqlDatabase
from headwater.connect.sql.reader import ReadRequest
from headwater.connect.sql.types import Convert, arrow_type


def read(db: SqlDatabase, request: ReadRequest) -> pa.RecordBatchReader:
    if request.query:
        statement: Any = sa.text(request.filtered(request.query))
        columns: list[tuple[pa.Field, Convert]] | None = None
    else:
        assert request.table is not None
        table = db.reflect(request.table, request.schema)
        statement = sa.select(*(_exact(c) for c in table.columns))
        if request.where:
            statement = statement.where(sa.text(request.where))
        columns = [
            (pa.field(c.name, arrow_type(c.type, db.dialect)[0]), arrow_type(c.type, db.dialect)[1])
            for c in table.columns
        ]
    try:
        conn = db.engine.connect()
    except sa.exc.DBAPIError as exc:
        raise db.connect_error(exc) from exc
    conn = conn.execution_options(stream_results=True, yield_per=request.batch_rows)
    try:
        result = conn.execute(statement)
        partitions = result.partitions(request.batch_rows)
        first = next(partitions, [])
        if columns is None:
            columns = _infer(list(result.keys()), first)
    except sa.exc.DBAPIError as exc:
        with contextlib.suppress(sa.exc.DBAPIError):
            conn.close()
        # connected: a lost connection now is one in the middle of the read
        raise db.read_error(
            request.describe(), exc, 0, hint="check the query runs in the source database"
        ) from exc
    except BaseException:
        conn.close()
        raise
    schema = pa.schema([field for field, _ in columns])
    if len(first) < request.batch_rows:
        # the whole result came with the first fetch (a small table): give the connection
        # back now, not when the batches are consumed, or never if the load stops first
        result.close()
        conn.close()
        first_batch = _to_batch(first, columns, schema) if first else None
        return pa.RecordBatchReader.from_batches(schema, [first_batch] if first_batch else [])

    def batches() -> Iterator[pa.RecordBatch]:
        read = 0
        try:
            if first:
                read += len(first)
                yield _to_batch(first, columns, schema)
            for rows in partitions:
                read += len(rows)
                yield _to_batch(rows, columns, schema)
        except sa.exc.DBAPIError as exc:
            _drop(result)
            conn.invalidate()  # the server dropped it: do not hand it back to the pool
            raise db.read_error(request.describe(), exc, read) from exc
        finally:
            # a server-side cursor left open (a read stopped half-way) warns when it is
            # collected; SQLAlchemy logs, not raises, a failure to close it
            result.close()
            # closing a connection the server dropped fails too; the read's error is the news
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.close()

    return pa.RecordBatchReader.from_batches(schema, batches())


def _drop(result: Any) -> None:
    """Forget an unbuffered result whose connection died, so that its clean-up (when it is
    garbage-collected) does not try to read the rest of it from a closed socket."""
    cursor = getattr(result, "cursor", None)
    raw = getattr(cursor, "_result", None)
    if raw is not None and hasattr(raw, "unbuffered_active"):  # PyMySQL's SSCursor
        raw.unbuffered_active = False
    if cursor is not None and hasattr(cursor, "_result"):
        cursor._result = None


def _exact(column: sa.Column[Any]) -> Any:
    """Floats as floats: MySQL's DOUBLE reflects as a Decimal type rounded to 10 places."""
    if isinstance(column.type, sa.Float) and column.type.asdecimal:
        return sa.type_coerce(column, sa.Double(asdecimal=False)).label(column.name)
    return column


def _to_batch(
    rows: Sequence[Sequence[Any]], columns: list[tuple[pa.Field, Convert]], schema: pa.Schema
) -> pa.RecordBatch:
    arrays = []
    for values, (field, convert) in zip(zip(*rows, strict=True), columns, strict=True):
        data = list(values) if convert is None else [convert(v) for v in values]
        arrays.append(pa.array(data, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _infer(names: list[str], rows: Sequence[Sequence[Any]]) -> list[tuple[pa.Field, Convert]]:
    """Types of a query's columns, from the first batch's values (a query has no declared types)."""
    out: list[tuple[pa.Field, Convert]] = []
    for i, name in enumerate(names):
        sample = pa.array([row[i] for row in rows]) if rows else pa.array([], pa.null())
        t = sample.type if not pa.types.is_null(sample.type) else pa.string()
        out.append((pa.field(name, t), None))
    return out
