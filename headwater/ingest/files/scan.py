"""What a format's reader hands the file resource: SELECTs of one schema, and their rejects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.ingest.extraction import Reject

if TYPE_CHECKING:
    import duckdb

# The column every scan adds with the file each row came from (what DuckDB was given).
FILE = "__headwater_file"


@dataclass
class Scan:
    """SELECTs run one after another on one connection, each with the same columns + ``FILE``.

    ``locations`` maps what ``FILE`` holds back to the file's path under the storage root;
    ``rejects`` is asked once every SELECT is drained, on the same connection.
    """

    queries: list[str]
    locations: dict[str, str]
    rejects: Callable[[duckdb.DuckDBPyConnection], list[Reject]] = lambda con: []
    found: list[Reject] = field(default_factory=list)  # rejects known before reading


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
