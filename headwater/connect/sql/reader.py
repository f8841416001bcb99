"""Reading a table or query as a stream of Arrow record batches, by the fastest fitting reader.

Readers, chosen per dialect by measurement (docs/benchmarks.md):

- ``duckdb``: DuckDB's postgres/mysql scanner extensions (binary protocol, parallel scans
  for PostgreSQL, exact DECIMAL/DATE/TIMESTAMP types, streamed in bounded batches);
  the fastest bounded reader for PostgreSQL tables from about 10,000 rows;
- ``connectorx``: ConnectorX's streaming Arrow mode (PostgreSQL, MySQL); for MySQL/MariaDB
  about 2.4× the DuckDB scanner's throughput at the same flat memory;
- ``sqlalchemy``: any SQLAlchemy dialect, through a server-side cursor; the correct fallback,
  and on a small PostgreSQL table the fastest: DuckDB's scanner first pays a fixed cost
  (ATTACH, its catalog queries, the parallel scan's setup) that a pooled connection does not.

``auto`` on PostgreSQL therefore picks by the table's size (:func:`reader_for`): a plain
table whose estimated row count (``pg_class.reltuples``, one catalog query, no scan) is below
:data:`SMALL_TABLE_ROWS` is read by SQLAlchemy, provided each of its columns has a type both
readers map to the same Arrow type and values (:data:`SAME_TYPES`), so that a table keeps its
schema when it grows past the threshold; anything else by DuckDB's scanner.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, cast

import pyarrow as pa
import sqlalchemy as sa

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


# Below this estimated row count a PostgreSQL table is read by SQLAlchemy, not DuckDB's
# scanner. Measured (bench/small_tables.py, docs/benchmarks.md) on a 5-column table, the two
# are even at about 10,000 rows; SQLAlchemy's cost per row grows with the row's width and
# DuckDB's fixed cost does not, so the threshold sits below that.
SMALL_TABLE_ROWS = 5_000

# PostgreSQL column types (as ``format_type`` names them) that the SQLAlchemy reader and
# DuckDB's scanner read as the same Arrow type with the same values (tests/test_sql_readers.py
# reads each through both). Not here, so read by DuckDB whatever the size: smallint and real
# (DuckDB keeps int16 and float32), numeric without precision or above 38 digits, character(n)
# (DuckDB strips the padding), json and jsonb (DuckDB keeps the server's text, SQLAlchemy
# writes the parsed value again: other spacing, escapes, number forms), interval, arrays,
# enums, domains, inet, oid and the rest.
SAME_TYPES = re.compile(
    r"integer|bigint|boolean|double precision|numeric\((\d|[12]\d|3[0-8])(,\d+)?\)|date|text"
    r"|timestamp(\(\d\))? with(out)? time zone|time(\(\d\))? without time zone"
    r"|character varying(\(\d+\))?|bytea|uuid"
)

# One catalog query: the table's kind, its planner statistics, its size now, its column types.
_ESTIMATE = """
SELECT c.relkind, c.reltuples, c.relpages,
       pg_relation_size(c.oid) / current_setting('block_size')::int,
       current_setting('block_size')::int,
       array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.oid = to_regclass(%(name)s)
GROUP BY c.oid
"""


def reader_for(
    db: SqlDatabase, request: ReadRequest, wanted: str = "auto", small_rows: int | None = None
) -> ReaderName:
    """The reader for ``request`` on ``db``: :func:`choose_reader`, and for ``auto`` on a
    small PostgreSQL table the SQLAlchemy reader (see the module's docstring).

    A filtered read (an incremental load's cursor) is judged by its table's estimate, which
    is at least the rows it reads; a ``query`` keeps DuckDB's scanner: its size is unknown.
    """
    name = choose_reader(db.dialect, wanted)
    if wanted != "auto" or name != "duckdb" or db.dialect != "postgresql" or not request.table:
        return name
    rows = postgres_rows(db, request.table, request.schema)
    limit = SMALL_TABLE_ROWS if small_rows is None else small_rows
    return "sqlalchemy" if rows is not None and rows < limit else name


def postgres_rows(db: SqlDatabase, table: str, schema: str | None = None) -> int | None:
    """Rows in ``table`` as PostgreSQL's planner estimates them, from the catalog: None when
    it is not a plain table, does not exist, or has a column whose type the readers map
    differently (:data:`SAME_TYPES`).

    ``reltuples`` is scaled to the table's size now, as the planner does; a table never
    analyzed (``reltuples`` -1) counts as full pages of the smallest possible rows (an upper
    bound), so that a table is never taken for smaller than it is.
    """
    try:
        with db.engine.connect() as conn:
            row = conn.exec_driver_sql(_ESTIMATE, {"name": db.qualified(table, schema)}).first()
    except sa.exc.DBAPIError as exc:
        raise db.connect_error(exc) from exc
    if row is None:
        return None
    kind, tuples, analyzed_pages, pages, block, types = row
    if kind != "r" or not all(SAME_TYPES.fullmatch(t) for t in types):
        return None
    if pages == 0:
        return 0
    if tuples >= 0 and analyzed_pages > 0:
        return round(tuples / analyzed_pages * pages)
    return pages * ((block - 24) // 28)  # PostgreSQL's most heap tuples per page
