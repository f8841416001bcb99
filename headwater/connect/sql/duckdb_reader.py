"""Read PostgreSQL and MySQL/MariaDB tables through DuckDB's scanner extensions.

Measured fastest for PostgreSQL (binary COPY, parallel ctid ranges) and exact on types:
DECIMAL(p,s), DATE, TIMESTAMP[TZ] come out as the same Arrow types. Rows can be streamed as
Arrow batches (``read``) or written by DuckDB straight to Parquet files (``copy``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import pyarrow as pa

from headwater.connect.sql.database import SqlDatabase
from headwater.connect.sql.duckdb_extensions import connect
from headwater.connect.sql.quoting import ident, literal
from headwater.connect.sql.reader import ReadRequest
from headwater.errors import SourceError, SourceUnreachable

_KIND = {"postgresql": ("postgres_scanner", "postgres"), "mysql": ("mysql_scanner", "mysql")}


def dsn(db: SqlDatabase) -> str:
    """The libpq-style key=value string both scanners accept."""
    url = db.url
    parts = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        ("dbname" if db.dialect == "postgresql" else "database"): url.database,
    }
    return " ".join(f"{k}={_quote(str(v))}" for k, v in parts.items() if v not in (None, ""))


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "._-/:@" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _attached(db: SqlDatabase, request: ReadRequest) -> tuple[duckdb.DuckDBPyConnection, str]:
    """A connection with the source attached as ``src``, and the SELECT that reads ``request``."""
    dialect = "mysql" if db.dialect == "mariadb" else db.dialect
    extension, kind = _KIND[dialect]
    con = connect(extension)
    con.execute("SET TimeZone = 'UTC'")
    try:
        con.execute(f"ATTACH {literal(dsn(db))} AS src (TYPE {kind}, READ_ONLY)")
    except duckdb.Error as exc:
        con.close()
        raise _read_error(db, request, exc, None) from exc
    function = "postgres_query" if kind == "postgres" else "mysql_query"
    if request.query:
        return con, f"SELECT * FROM {function}('src', {literal(request.filtered(request.query))})"
    assert request.table is not None
    schema = request.schema or ("public" if kind == "postgres" else db.url.database)
    if request.where:
        # the condition runs in the source (the scanners do not push filters down by default)
        remote = (
            f"SELECT * FROM {db.qualified(request.table, request.schema)} WHERE {request.where}"
        )
        return con, f"SELECT * FROM {function}('src', {literal(remote)})"
    return con, f"SELECT * FROM src.{ident(schema or '')}.{ident(request.table)}"


def _read_error(
    db: SqlDatabase, request: ReadRequest, exc: BaseException, rows: int | None
) -> SourceError | SourceUnreachable:
    return db.read_error(
        request.describe(),
        _interrupted(exc),
        rows,
        hint="check the table or query in the source database, or try reader: sqlalchemy",
    )


# DuckDB's own errors, and its scanners' errors as Arrow's reader re-raises them (OSError)
_ERRORS = (duckdb.Error, OSError)


def _interrupted(exc: BaseException) -> BaseException:
    """``exc``, or for DuckDB's "Interrupted!" what it stands for. Nothing here interrupts a
    read; when one of the scanner's parallel connections is lost, DuckDB stops the other
    threads, and at times the interrupt reaches us instead of the connection's error."""
    if "INTERRUPT Error" not in str(exc):
        return exc
    lost = ConnectionAbortedError(
        "one of the scanner's connections to the server was lost (DuckDB: Interrupted!)"
    )
    lost.__cause__ = exc
    return lost


def read(db: SqlDatabase, request: ReadRequest) -> pa.RecordBatchReader:
    con, sql = _attached(db, request)
    try:
        result = con.execute(sql).to_arrow_reader(request.batch_rows)
    except _ERRORS as exc:
        con.close()
        # attached, so connected: a lost connection now is one in the middle of the read
        raise _read_error(db, request, exc, 0) from exc

    def batches() -> Iterator[pa.RecordBatch]:
        read = 0
        try:
            for batch in result:
                read += batch.num_rows
                yield batch
        except _ERRORS as exc:
            raise _read_error(db, request, exc, read) from exc
        finally:
            con.close()

    return pa.RecordBatchReader.from_batches(result.schema, batches())


def schema(db: SqlDatabase, request: ReadRequest) -> pa.Schema:
    """The Arrow schema ``read`` would produce, without reading any rows."""
    con, sql = _attached(db, request)
    try:
        return con.execute(f"SELECT * FROM ({sql}) LIMIT 0").to_arrow_reader().schema
    except _ERRORS as exc:
        raise _read_error(db, request, exc, 0) from exc
    finally:
        con.close()


def copy(
    db: SqlDatabase,
    request: ReadRequest,
    folder: str,
    prefix: str,
    file_bytes: int,
    attach: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> list[str]:
    """Write ``request``'s rows as Parquet files named ``prefix-*`` into ``folder``.

    DuckDB reads (in parallel for PostgreSQL) and writes on all cores with no Python in the
    loop: measured about twice as fast as streaming the same rows through Arrow batches.
    """
    con, sql = _attached(db, request)
    try:
        if attach is not None:  # the lake's storage, for a folder on S3
            attach(con)
        return copy_to_parquet(con, sql, folder, prefix, file_bytes)
    except _ERRORS as exc:
        # a failure inside COPY is one in the middle of the read (the rows read are unknown)
        raise _read_error(db, request, exc, 0) from exc
    finally:
        con.close()


def copy_to_parquet(
    con: duckdb.DuckDBPyConnection, sql: str, folder: str, prefix: str, file_bytes: int
) -> list[str]:
    """Run ``COPY (sql) TO folder`` as Parquet files named ``prefix-<uuid>.parquet``."""
    options = (
        f"FORMAT parquet, COMPRESSION zstd, PER_THREAD_OUTPUT true, APPEND true, RETURN_FILES true, "
        f"FILENAME_PATTERN {literal(prefix + '-{uuid}')}, FILE_SIZE_BYTES {int(file_bytes)}"
    )
    row = con.execute(f"COPY ({sql}) TO {literal(folder)} ({options})").fetchone()
    return list(row[1]) if row else []
