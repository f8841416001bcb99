"""The initial snapshot of a PostgreSQL capture: the tables as of the moment the replication
slot started, read in one ``REPEATABLE READ`` transaction that imports the snapshot the slot
exported (``SET TRANSACTION SNAPSHOT``).

Rows come through ``COPY (SELECT …) TO STDOUT (FORMAT csv)``: the same text output pgoutput
sends, so one conversion (:func:`headwater.cdc.postgres_types.to_arrow`) types snapshot rows
and changes alike; Arrow's CSV reader splits it into columns in C, in blocks of a bounded
number of bytes. The project's table readers (headwater/connect/sql) cannot be used here:
DuckDB's scanner and SQLAlchemy open connections of their own, outside the imported snapshot.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from headwater.cdc.capture import SnapshotTable
from headwater.cdc.postgres_setup import key_columns, regclass_text, table_sql
from headwater.cdc.postgres_types import arrow_type, to_arrow, type_name

_COLUMNS = """
SELECT a.attname, a.atttypid::int, a.atttypmod, t.typname
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


class _CopyStream(io.RawIOBase):
    """The bytes of a ``COPY … TO STDOUT`` as a file Arrow's CSV reader reads."""

    def __init__(self, copy: psycopg.Copy) -> None:
        self._chunks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if not self._pending:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._pending = memoryview(chunk)
            size = min(len(view) - filled, len(self._pending))
            view[filled : filled + size] = self._pending[:size]
            self._pending = self._pending[size:]
            filled += size
        return filled


@dataclass
class PostgresSnapshot:
    """A :class:`~headwater.cdc.capture.SnapshotRead` over a connection whose transaction
    holds the slot's exported snapshot. Read the tables one after another: each table's
    batches come from one COPY on that connection."""

    position: str
    connection: psycopg.Connection[Any]
    table_names: list[str]
    batch_bytes: int = 16 << 20

    def tables(self) -> Iterator[SnapshotTable]:
        for table in self.table_names:
            yield self.table(table)

    def table(self, table: str) -> SnapshotTable:
        columns = self.connection.execute(_COLUMNS, (regclass_text(table),)).fetchall()
        names = [name for name, *_ in columns]
        types = [
            arrow_type(type_name(oid, {oid: typname}), typmod)
            for _, oid, typmod, typname in columns
        ]
        schema = pa.schema([pa.field(n, t) for n, t in zip(names, types, strict=True)])
        key = key_columns(self.connection, table) or tuple(names)
        return SnapshotTable(table, key, schema, self._batches(table, schema))

    def _batches(self, table: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        select = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT csv)").format(
            sql.SQL(", ").join(sql.Identifier(name) for name in schema.names), table_sql(table)
        )
        with self.connection.cursor().copy(select) as copy:
            stream = io.BufferedReader(_CopyStream(copy), buffer_size=1 << 20)
            # sniff one byte: Arrow refuses an empty input, which is an empty table here
            if not stream.peek(1):
                return
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    column_names=schema.names, block_size=self.batch_bytes, use_threads=False
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in schema.names},
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            for batch in reader:
                arrays = [
                    to_arrow(batch.column(i), field.type, f"column `{field.name}` of `{table}`")
                    for i, field in enumerate(schema)
                ]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
