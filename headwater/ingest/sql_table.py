"""Full load of one SQL source table (or query) into a lake table, in one commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from headwater.connect.sql import READERS, ReadRequest, SqlDatabase, choose_reader
from headwater.lake import Lake, WriteResult, is_storable, replace_table, replace_table_with_files
from headwater.lake.writer import Audit
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
) -> WriteResult:
    """Read ``entry`` from ``db`` with the best reader and replace ``namespace.name`` with it.

    Through DuckDB, rows go straight from the source to Parquet files written on all cores;
    through the other readers they stream as Arrow batches into files written here.
    """
    db.check()
    reader_name = choose_reader(db.dialect, source.reader)
    if reader_name == "duckdb" and not entry.query:
        # the other readers reflect the table themselves; DuckDB's errors are less clear
        db.reflect(entry.source_table, entry.schema_)
    request = ReadRequest(
        table=None if entry.query else entry.source_table,
        query=entry.query,
        schema=entry.schema_,
        batch_rows=source.batch_rows,
    )
    props = {"headwater.reader": reader_name, **(properties or {})}
    target = f"{source.namespace}.{entry.name}"
    if reader_name == "duckdb":
        from headwater.connect.sql import duckdb_reader

        schema = duckdb_reader.schema(db, request)
        if is_storable(schema):
            result = replace_table_with_files(
                lake,
                target,
                schema,
                lambda folder, prefix: duckdb_reader.copy(
                    db, request, folder, prefix, PARQUET_FILE_BYTES
                ),
                props,
                audit,
            )
            if result is not None:
                if on_rows is not None:
                    on_rows(result.rows)
                return result
    stream = READERS[reader_name](db, request)
    return replace_table(lake, target, stream, props, on_rows, audit)
