"""Build the classicmodels sample database in SQLite, MariaDB/MySQL or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import sqlalchemy as sa

from headwater.errors import SourceError
from headwater.samples.database import open_database, parse_url, recreate_tables, unreachable
from headwater.samples.dump import dump_rows
from headwater.samples.generate import Plan, generated_rows
from headwater.samples.schema import TABLES
from headwater.samples.writer import Progress, Row, write_rows


def build_classicmodels(
    url: str,
    *,
    scale: float = 1.0,
    seed: int = 42,
    dump: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """(Re)create the eight classicmodels tables at ``url`` and fill them; return rows per table.

    Without ``dump`` the rows are generated: deterministic for a ``seed`` and ``scale``
    (1 ≈ the original's 122 customers, 326 orders, 2,996 order lines), streamed in chunks so
    memory does not grow with the scale. With ``dump`` every row of the MySQL sample
    database's ``mysqlsampledatabase.sql`` is loaded exactly. The database is created when it
    does not exist; existing classicmodels tables are dropped first, so a build is re-runnable.
    ``progress(table, rows_written_so_far)`` is called after every chunk.

    >>> build_classicmodels("sqlite:///demo/classicmodels.db", scale=10)  # doctest: +SKIP
    {'offices': 7, 'productlines': 7, 'employees': 60, 'customers': 1220, ...}
    """
    target = parse_url(url)
    # read the source before touching the database: a bad dump or scale changes nothing
    streams: Mapping[str, Iterable[Row]] = (
        generated_rows(Plan.of(scale, seed)) if dump is None else dump_rows(Path(dump))
    )
    engine = open_database(target)
    try:
        return _write(engine, streams, progress)
    except sa.exc.OperationalError as exc:
        if _server_gone(target, exc):
            raise unreachable(target, exc) from exc
        raise _write_error(target, exc) from exc
    except sa.exc.DBAPIError as exc:
        raise _write_error(target, exc) from exc
    finally:
        engine.dispose()


def _write(
    engine: sa.Engine, streams: Mapping[str, Iterable[Row]], progress: Progress | None
) -> dict[str, int]:
    # one transaction: on SQLite and PostgreSQL (transactional DDL) a failed build leaves the
    # previous tables untouched; MySQL commits the DDL implicitly
    with engine.begin() as conn:
        recreate_tables(conn)
        return {
            table.name: write_rows(conn, table, streams[table.name], progress=progress)
            for table in TABLES
        }


def _server_gone(target: sa.URL, exc: sa.exc.OperationalError) -> bool:
    """The connection failed or dropped (not a statement the server refused)."""
    if target.get_backend_name() == "sqlite":
        return False
    return exc.connection_invalidated or exc.statement is None


def _write_error(target: sa.URL, exc: sa.exc.DBAPIError) -> SourceError:
    detail = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc).__name__
    if target.get_backend_name() == "sqlite":
        hint = f"check that {target.database} is a SQLite file in a folder you may write to"
    else:
        hint = "check that the user may create and drop tables in this database"
    return SourceError(
        f"building classicmodels in {target.render_as_string(hide_password=True)} failed: {detail}",
        hint=hint,
    )
