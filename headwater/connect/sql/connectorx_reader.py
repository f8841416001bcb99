"""Read PostgreSQL and MySQL/MariaDB through ConnectorX's streaming Arrow mode.

ConnectorX widens DECIMAL to its own precision; columns are cast back to the declared exact
types from reflection, once per batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from headwater.connect.sql.database import SqlDatabase
from headwater.connect.sql.reader import ReadRequest
from headwater.connect.sql.types import arrow_type
from headwater.errors import MissingDependency, SourceError


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
    except Exception as exc:  # ConnectorX raises its own RuntimeError subclasses
        raise SourceError(
            f"connection `{db.name}`: reading {request.describe()} with ConnectorX failed: {exc}",
            hint="check the table or query, or try reader: duckdb or sqlalchemy",
        ) from exc
    schema = declared if declared is not None else reader.schema

    def batches() -> Iterator[pa.RecordBatch]:
        read = 0
        try:
            for batch in reader:
                read += batch.num_rows
                yield batch.cast(schema) if not batch.schema.equals(schema) else batch
        except Exception as exc:  # ConnectorX raises RuntimeError for everything
            raise db.read_error(request.describe(), exc, read) from exc

    return pa.RecordBatchReader.from_batches(schema, batches())
