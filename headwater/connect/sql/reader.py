"""Reading a table or query as a stream of Arrow record batches, by the fastest fitting reader.

Readers, chosen per dialect by measurement (docs/benchmarks.md):

- ``duckdb``: DuckDB's postgres/mysql scanner extensions (binary protocol, parallel scans
  for PostgreSQL, exact DECIMAL/DATE/TIMESTAMP types, streamed in bounded batches);
  the fastest bounded reader for PostgreSQL;
- ``connectorx``: ConnectorX's streaming Arrow mode (PostgreSQL, MySQL); for MySQL/MariaDB
  about 2.4× the DuckDB scanner's throughput at the same flat memory;
- ``sqlalchemy``: any SQLAlchemy dialect, through a server-side cursor; the correct fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import pyarrow as pa

from headwater.connect.sql.database import SqlDatabase
from headwater.errors import SourceError

ReaderName = Literal["duckdb", "connectorx", "sqlalchemy"]


@dataclass(frozen=True)
class ReadRequest:
    """A table (optionally in a schema) or a query, read in batches of ``batch_rows``."""

    table: str | None = None
    query: str | None = None
    schema: str | None = None
    batch_rows: int = 100_000
    where: str | None = None  # a condition in the source's SQL dialect

    def filtered(self, sql: str) -> str:
        """``sql`` (a SELECT) restricted by ``where``."""
        return sql if not self.where else f"SELECT * FROM ({sql}) AS q WHERE {self.where}"

    def describe(self) -> str:
        what = f"query `{self.query[:60]}`" if self.query else f"table `{self.table}`"
        return what + (f" where {self.where}" if self.where else "")


SqlReader = Callable[[SqlDatabase, ReadRequest], pa.RecordBatchReader]


def _duckdb(db: SqlDatabase, request: ReadRequest) -> pa.RecordBatchReader:
    from headwater.connect.sql.duckdb_reader import read

    return read(db, request)


def _connectorx(db: SqlDatabase, request: ReadRequest) -> pa.RecordBatchReader:
    from headwater.connect.sql.connectorx_reader import read

    return read(db, request)


def _sqlalchemy(db: SqlDatabase, request: ReadRequest) -> pa.RecordBatchReader:
    from headwater.connect.sql.sqlalchemy_reader import read

    return read(db, request)


READERS: dict[ReaderName, SqlReader] = {
    "duckdb": _duckdb,
    "connectorx": _connectorx,
    "sqlalchemy": _sqlalchemy,
}

SUPPORTED: dict[ReaderName, frozenset[str]] = {
    "duckdb": frozenset({"postgresql", "mysql", "mariadb"}),
    "connectorx": frozenset({"postgresql", "mysql", "mariadb"}),
    "sqlalchemy": frozenset(),  # every dialect
}

# The measured winner per dialect; everything else takes the SQLAlchemy fallback.
AUTO: dict[str, ReaderName] = {
    "postgresql": "duckdb",
    "mysql": "connectorx",
    "mariadb": "connectorx",
}


def choose_reader(dialect: str, wanted: str = "auto") -> ReaderName:
    """The reader for ``dialect``: the measured best for ``auto``, else the one asked for."""
    if wanted == "auto":
        return AUTO.get(dialect, "sqlalchemy")
    if wanted not in READERS:
        raise SourceError(
            f"unknown reader `{wanted}`", hint=f"use one of: auto, {', '.join(READERS)}"
        )
    name = cast(ReaderName, wanted)
    if SUPPORTED[name] and dialect not in SUPPORTED[name]:
        raise SourceError(
            f"reader `{wanted}` does not support {dialect}",
            hint=f"use `auto` or `sqlalchemy`; `{wanted}` reads {', '.join(sorted(SUPPORTED[name]))}",
        )
    return name
