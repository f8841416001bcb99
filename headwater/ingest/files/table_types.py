"""The types a file's columns are read with, once the table has columns of its own.

A CSV value has no type but the one it is read as. A column the table already has is read as
the table's type, so a value that does not fit is a rejected line of its file (with its line
number and raw text) rather than a whole batch for the contract to refuse. The file's own type
wins only where the table can widen to it (``widens``: int32 → int64, float32 → float64).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from headwater.lake.arrow_types import widens


def read_types(
    con: duckdb.DuckDBPyConnection, found: dict[str, str], table: pa.Schema | None
) -> dict[str, str]:
    """``found`` (column → DuckDB type of the files) with the table's type where it must win."""
    if table is None:
        return found
    shared = [f for f in table if f.name in found]
    if not shared:
        return found
    declared = _duckdb_types(con, pa.schema(shared))
    out = dict(found)
    for field in shared:
        have = _arrow_type(con, found[field.name])
        if not (have.equals(field.type) or widens(field.type, have)):
            out[field.name] = declared[field.name]
    return out


def _duckdb_types(con: duckdb.DuckDBPyConnection, schema: pa.Schema) -> dict[str, str]:
    empty = pa.Table.from_batches([], schema)
    con.register("__headwater_table_types", empty)
    try:
        rows = con.execute("DESCRIBE SELECT * FROM __headwater_table_types").fetchall()
    finally:
        con.unregister("__headwater_table_types")
    return {str(row[0]): str(row[1]) for row in rows}


def _arrow_type(con: duckdb.DuckDBPyConnection, duckdb_type: str) -> pa.DataType:
    schema = con.execute(f"SELECT NULL::{duckdb_type} AS c LIMIT 0").to_arrow_table().schema
    return schema.field(0).type
