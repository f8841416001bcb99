"""Full load of one SQL source table (or query) into a lake table, in one commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa

from headwater.connect.sql import READERS, ReaderName, ReadRequest, SqlDatabase, reader_for
from headwater.lake import Lake, WriteResult, replace_table
from headwater.lake.writer import Audit, replace_table_by_copy
from headwater.project.config import SourceTable, SqlSource

# Compressed size of the files DuckDB writes; its memory use does not depend on it.
PARQUET_FILE_BYTES = 128 << 20


def ingest_table(
    lake: Lake,
    db: SqlDatabase,
    source: SqlSource,
    entry: SourceTable,
    properties: Mapping[str, str] | None = None,
    on_rows: Callable[[int], None] | None = None,
    audit: Audit | None = None,
    schema: pa.Schema | None = None,
) -> WriteResult:
    """Read ``entry`` from ``db`` with the best reader and replace ``namespace.name`` with it.

    Through DuckDB, rows go straight from the source to Parquet files written on all cores;
    through the other readers they stream as Arrow batches into files written here.
    ``schema`` is DuckDB's schema of the rows when the caller already probed the source
    (see :func:`probe`) and so chose DuckDB's scanner, which then is not checked again.
    """
    request = ReadRequest(
        table=None if entry.query else entry.source_table,
        query=entry.query,
        schema=entry.schema_,
        batch_rows=source.batch_rows,
    )
    if schema is not None:
        reader_name: ReaderName = "duckdb"
    else:
        db.check()
        reader_name = reader_for(db, request, source.reader)
        if reader_name == "duckdb":
            schema = probe(db, entry, source.batch_rows)
    props = {"headwater.reader": reader_name, **(properties or {})}
    target = f"{source.namespace}.{entry.name}"
    if reader_name == "duckdb" and schema is not None:
        from headwater.connect.sql import duckdb_reader

        return replace_table_by_copy(
            lake,
            target,
            schema,
            lambda folder, prefix: duckdb_reader.copy(
                db, request, folder, prefix, PARQUET_FILE_BYTES
            ),
            lambda: READERS["duckdb"](db, request),
            props,
            on_rows,
            audit,
        )
    return replace_table(lake, target, READERS[reader_name](db, request), props, on_rows, audit)


def probe(db: SqlDatabase, entry: SourceTable, batch_rows: int = 100_000) -> pa.Schema:
    """The schema DuckDB's scanner reads ``entry`` with, no rows read (the server is checked
    first, and a table by reflection: DuckDB's own errors are less clear)."""
    from headwater.connect.sql import duckdb_reader

    if not entry.query:
        db.reflect(entry.source_table, entry.schema_)
    request = ReadRequest(
        table=None if entry.query else entry.source_table,
        query=entry.query,
        schema=entry.schema_,
        batch_rows=batch_rows,
    )
    return duckdb_reader.schema(db, request)
