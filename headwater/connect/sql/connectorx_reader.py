"""Read PostgreSQL and MySQL/MariaDB through ConnectorX's streaming Arrow mode.

ConnectorX widens DECIMAL to its own precision; columns are cast back to the declared exact
types from reflection, once per batch. It reports a connection lost mid-read as a Rust panic
(``pyo3_runtime.PanicException``, a BaseException), which is caught here and converted like
any other driver error (:meth:`SqlDatabase.read_error`): a panic's text is never the message.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from headwater.connect.sql.database import SqlDatabase
from headwater.connect.sql.reader import ReadRequest
from headwater.connect.sql.types import arrow_type
from headwater.errors import MissingDependency


def read(db: SqlDatabase, request: ReadRequest) -> pa.RecordBatchReader:
    try:
        import connectorx as cx
    except ImportError as exc:
        raise MissingDependency(
            "reader `connectorx` needs the connectorx package", hint="pip install connectorx"
        ) from exc
    scheme = "postgresql" if db.dialect == "postgresql" else "mysql"
    url = db.url.set(drivername=scheme).render_as_string(hide_password=False)
    declared: pa.Schema | None = None
    if request.query:
        query = request.filtered(request.query)
    else:
        assert request.table is not None
        table = db.reflect(request.table, request.schema)
        declared = pa.schema(
            [pa.field(c.name, arrow_type(c.type, db.dialect)[0]) for c in table.columns]
        )
        quote = '"' if scheme == "postgresql" else "`"
        qualified = f"{quote}{request.table}{quote}"
        if request.schema:
            qualified = f"{quote}{request.schema}{quote}.{qualified}"
        query = f"SELECT * FROM {qualified}"
        if request.where:
            query += f" WHERE {request.where}"
    try:
        reader = cx.read_sql(url, query, return_type="arrow_stream", batch_size=request.batch_rows)
    except BaseException as exc:  # RuntimeError for everything, or a Rust panic
        if not _driver_error(exc):
            raise
        raise db.read_error(
            f"{request.describe()} with ConnectorX",
            exc,
            None,
            hint="check the table or query, or try reader: duckdb or sqlalchemy",
        ) from exc
    schema = declared if declared is not None else reader.schema

    def batches() -> Iterator[pa.RecordBatch]:
        read = 0
        try:
            for batch in reader:
                read += batch.num_rows
                yield batch.cast(schema) if not batch.schema.equals(schema) else batch
        except BaseException as exc:
            if not _driver_error(exc):
                raise
            raise db.read_error(request.describe(), exc, read) from exc

    return pa.RecordBatchReader.from_batches(schema, batches())


def _driver_error(exc: BaseException) -> bool:
    """An error of ConnectorX: any Exception, or a Rust panic (not a KeyboardInterrupt or a
    task being stopped, which are BaseExceptions too)."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"
