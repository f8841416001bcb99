"""The benchmark's source table: ``hw_bench.events`` in MariaDB and in PostgreSQL.

Rows are generated on the server (MariaDB's SEQUENCE engine, PostgreSQL's
``generate_series``) from one formula of ``id``, so both dialects hold the same values and
growing the table from 2M to 5M rows only inserts the missing ids.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

DATABASE = "hw_bench"
TABLE = "events"
CHUNK_ROWS = 1_000_000

MYSQL_HOST = "127.0.0.1:3306"
POSTGRES_HOST = "127.0.0.1:5432"

_MYSQL_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGINT PRIMARY KEY,
    customer_id INT NOT NULL,
    amount DECIMAL(12,2) NOT NULL,
    label VARCHAR(40) NULL,
    created_at DATETIME NOT NULL,
    score DOUBLE NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

_POSTGRES_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGINT PRIMARY KEY,
    customer_id INT NOT NULL,
    amount NUMERIC(12,2) NOT NULL,
    label VARCHAR(40) NULL,
    created_at TIMESTAMP NOT NULL,
    score DOUBLE PRECISION NOT NULL
)
"""

# Same values in both dialects: MD5 of the decimal text of id is identical in both.
_MYSQL_INSERT = f"""
INSERT INTO {TABLE}
SELECT seq,
       1 + MOD(seq * 31337, 100000),
       CAST(MOD(seq * 104729, 10000000) / 100 AS DECIMAL(12,2)),
       CASE WHEN MOD(seq, 20) = 0 THEN NULL
            ELSE CONCAT(ELT(1 + MOD(seq, 8), 'alpha', 'bravo', 'charlie', 'delta', 'echo',
                            'foxtrot', 'golf', 'hotel'),
                        ':', LEFT(MD5(seq), 1 + MOD(seq, 32))) END,
       TIMESTAMP'2020-01-01 00:00:00' + INTERVAL MOD(seq * 7919, 126230400) SECOND,
       CAST(MOD(seq * 2654435761, 1000003) AS DOUBLE) / 1000.003
FROM seq_{{first}}_to_{{last}}
"""

_POSTGRES_INSERT = f"""
INSERT INTO {TABLE}
SELECT id,
       1 + MOD(id * 31337, 100000),
       (MOD(id * 104729, 10000000)::numeric / 100)::numeric(12,2),
       CASE WHEN MOD(id, 20) = 0 THEN NULL
            ELSE (ARRAY['alpha', 'bravo', 'charlie', 'delta', 'echo',
                        'foxtrot', 'golf', 'hotel'])[1 + MOD(id, 8)]
                 || ':' || LEFT(MD5(id::text), (1 + MOD(id, 32))::int) END,
       TIMESTAMP '2020-01-01 00:00:00' + MOD(id * 7919, 126230400) * INTERVAL '1 second',
       MOD(id * 2654435761, 1000003) / 1000.003::double precision
FROM generate_series({{first}}::bigint, {{last}}::bigint) AS g(id)
"""


@dataclass(frozen=True)
class Urls:
    """How each reader reaches one dialect's ``hw_bench`` database."""

    dialect: str
    sqlalchemy: str
    connectorx: str
    duckdb_attach: str
    adbc: str | None


def urls(dialect: str) -> Urls:
    """Connection strings for ``dialect`` (``mysql`` or ``postgres``)."""
    if dialect == "mysql":
        return Urls(
            dialect="mysql",
            sqlalchemy=f"mysql+pymysql://root@{MYSQL_HOST}/{DATABASE}",
            connectorx=f"mysql://root@{MYSQL_HOST}/{DATABASE}",
            duckdb_attach=f"host=127.0.0.1 port=3306 user=root database={DATABASE}",
            adbc=None,
        )
    if dialect == "postgres":
        return Urls(
            dialect="postgres",
            sqlalchemy=f"postgresql+psycopg://postgres@{POSTGRES_HOST}/{DATABASE}",
            connectorx=f"postgresql://postgres@{POSTGRES_HOST}/{DATABASE}",
            duckdb_attach=f"host=127.0.0.1 port=5432 user=postgres dbname={DATABASE}",
            adbc=f"postgresql://postgres@{POSTGRES_HOST}/{DATABASE}",
        )
    raise ValueError(f"unknown dialect {dialect!r}: use mysql or postgres")


def _admin_engine(dialect: str) -> sa.Engine:
    if dialect == "mysql":
        return sa.create_engine(f"mysql+pymysql://root@{MYSQL_HOST}")
    return sa.create_engine(
        f"postgresql+psycopg://postgres@{POSTGRES_HOST}/postgres", isolation_level="AUTOCOMMIT"
    )


def _create_database(dialect: str) -> None:
    engine = _admin_engine(dialect)
    try:
        with engine.begin() as conn:
            if dialect == "mysql":
                conn.exec_driver_sql(
                    f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` CHARACTER SET utf8mb4"
                )
                return
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": DATABASE}
            ).first()
            if exists is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    finally:
        engine.dispose()


def _count_and_max(conn: sa.Connection) -> tuple[int, int]:
    row = conn.exec_driver_sql(f"SELECT COUNT(*), COALESCE(MAX(id), 0) FROM {TABLE}").one()
    return int(row[0]), int(row[1])


def _insert_range(conn: sa.Connection, dialect: str, first: int, last: int) -> None:
    """Insert ids first..last in chunks, so no single statement holds millions of undo rows."""
    template = _MYSQL_INSERT if dialect == "mysql" else _POSTGRES_INSERT
    for start in range(first, last + 1, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS - 1, last)
        conn.exec_driver_sql(template.format(first=start, last=stop))
        conn.commit()


def _finish(conn: sa.Connection, dialect: str) -> None:
    """Settle the table so the first contender does not pay for hint bits or statistics."""
    if dialect == "postgres":
        conn.exec_driver_sql(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
    else:
        conn.exec_driver_sql(f"ANALYZE TABLE {TABLE}").all()


def ensure_events(dialect: str, rows: int) -> str:
    """Make ``hw_bench.events`` hold exactly ids 1..rows; return what was done."""
    _create_database(dialect)
    isolation = "AUTOCOMMIT" if dialect == "postgres" else None
    engine = sa.create_engine(urls(dialect).sqlalchemy, isolation_level=isolation)
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(_MYSQL_DDL if dialect == "mysql" else _POSTGRES_DDL)
            conn.commit()
            count, max_id = _count_and_max(conn)
            if count == rows and max_id == rows:
                return f"reused {rows:,} rows"
            if count != max_id or count > rows:
                conn.exec_driver_sql(f"TRUNCATE TABLE {TABLE}")
                conn.commit()
                count = 0
            inserted = rows - count
            _insert_range(conn, dialect, count + 1, rows)
            _finish(conn, dialect)
            conn.commit()
            count, max_id = _count_and_max(conn)
            if (count, max_id) != (rows, rows):
                raise RuntimeError(f"{dialect}: expected {rows} rows, found {count}")
    finally:
        engine.dispose()
    return f"inserted {inserted:,} rows in {time.perf_counter() - started:.0f} s"


def server_version(dialect: str) -> str:
    """The server's own version string, for the report."""
    engine = _admin_engine(dialect)
    try:
        with engine.connect() as conn:
            if dialect == "mysql":
                return str(conn.exec_driver_sql("SELECT VERSION()").scalar_one())
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
            return f"PostgreSQL {version}"
    finally:
        engine.dispose()
