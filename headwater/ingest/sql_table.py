"""Full load of one SQL source table (or query) into a lake table, in one commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from headwater.connect.sql import READERS, ReadRequest, SqlDatabase, choose_reader
from headwater.lake import Lake, WriteResult, replace_table
from headwater.project.config import Source, SourceTable


def ingest_table(
    lake: Lake,
    db: SqlDatabase,
    source: Source,
    entry: SourceTable,
    properties: Mapping[str, str] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> WriteResult:
    """Read ``entry`` from ``db`` with the best reader and replace ``namespace.name`` with it."""
    db.check()
    if not entry.query:
        db.reflect(entry.source_table, entry.schema_)  # a missing table fails here, clearly
    reader_name = choose_reader(db.dialect, source.reader)
    request = ReadRequest(
        table=None if entry.query else entry.source_table,
        query=entry.query,
        schema=entry.schema_,
        batch_rows=source.batch_rows,
    )
    stream = READERS[reader_name](db, request)
    props = {"headwater.reader": reader_name, **(properties or {})}
    return replace_table(lake, f"{source.namespace}.{entry.name}", stream, props, on_rows)
