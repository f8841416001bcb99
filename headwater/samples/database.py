"""Open the target database of a sample build, creating the database itself when it is missing.

MariaDB/MySQL databases are created through a server-level connection, PostgreSQL databases
through the ``postgres`` maintenance database in AUTOCOMMIT (``CREATE DATABASE`` cannot run
in a transaction), and SQLite files get their parent folders.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from headwater.connect.sql.database import SqlDatabase, resolve_url
from headwater.errors import HeadwaterError, MissingDependency
from headwater.samples.schema import METADATA, TABLES


def parse_url(url: str) -> sa.URL:
    """The SQLAlchemy URL of ``url``, or a clear error naming the expected form."""
    return resolve_url(url, None)


def open_database(url: sa.URL) -> sa.Engine:
    """An engine on ``url`` after making sure its database exists."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        _create_sqlite_folder(url)
    elif backend in ("mysql", "mariadb"):
        _create_mysql_database(url)
    elif backend == "postgresql":
        _create_postgres_database(url)
    return _engine(url)


def recreate_tables(conn: sa.Connection) -> None:
    """Drop the eight tables if present, even with foreign keys among them, and create them.

    A classicmodels loaded from the real dump has foreign keys between its tables, which make
    a table-by-table drop fail: MySQL drops with ``FOREIGN_KEY_CHECKS`` off, as the dump itself
    does, and PostgreSQL drops all eight in one statement (no ``CASCADE``: constraints of other
    tables on these are not ours to remove silently).
    """
    backend = conn.dialect.name
    if backend == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in TABLES)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {names}")
    elif backend in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        try:
            METADATA.drop_all(conn, checkfirst=True)
        finally:
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    else:
        METADATA.drop_all(conn, checkfirst=True)
    METADATA.create_all(conn)


def unreachable(url: sa.URL, exc: sa.exc.DBAPIError) -> HeadwaterError:
    """The error for a server that refused or failed a connection (as for any SQL source)."""
    return SqlDatabase(url, name="sample target").connect_error(exc)


def _engine(url: sa.URL, **kwargs: object) -> sa.Engine:
    try:
        return sa.create_engine(url, **kwargs)
    except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
        raise MissingDependency(
            f"no database driver for {url.drivername!r}: {exc}",
            hint="use mysql+pymysql://, postgresql+psycopg:// or sqlite:/// "
            "(their drivers ship with headwater), or install the driver the URL names",
        ) from exc


def _create_sqlite_folder(url: sa.URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _create_mysql_database(url: sa.URL) -> None:
    name = url.database
    if not name:
        raise HeadwaterError(
            f"the URL {url.render_as_string()} names no database",
            hint="append the database name, e.g. mysql+pymysql://root@127.0.0.1:3306/classicmodels",
        )
    server = sa.URL.create(
        url.drivername,
        username=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        query=url.query,
    )
    engine = _engine(server)
    quoted = engine.dialect.identifier_preparer.quote_identifier(name)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4")
    except sa.exc.OperationalError as exc:
        raise unreachable(url, exc) from exc
    finally:
        engine.dispose()


def _create_postgres_database(url: sa.URL) -> None:
    name = url.database
    if not name or name == "postgres":
        return
    engine = _engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = engine.dialect.identifier_preparer.quote_identifier(name)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
    except sa.exc.OperationalError as exc:
        raise unreachable(url, exc) from exc
    finally:
        engine.dispose()
