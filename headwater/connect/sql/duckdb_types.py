"""Types in DuckDB's own terms: the widest type a set of column types converts to losslessly."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def common_type(con: duckdb.DuckDBPyConnection, types: list[str]) -> str:
    """A type every one of ``types`` widens to without loss (BIGINT and DOUBLE → DOUBLE), or
    VARCHAR when there is none: DuckDB's UNION type alone would make BIGINT and DATE a DATE."""
    distinct = list(dict.fromkeys(types))
    if len(distinct) == 1:
        return distinct[0]
    union = " UNION ALL ".join(f"SELECT NULL::{t} AS c" for t in distinct)
    row = con.execute(f"SELECT typeof(c) FROM ({union}) LIMIT 1").fetchone()
    assert row is not None
    widest = str(row[0])
    checks = ", ".join(f"can_cast_implicitly(NULL::{t}, NULL::{widest})" for t in distinct)
    lossless = con.execute(f"SELECT [{checks}]").fetchone()
    return widest if lossless is not None and all(lossless[0]) else "VARCHAR"
