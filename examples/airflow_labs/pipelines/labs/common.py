"""What the labs' tasks share: the data folder, the run's day, the source database, file moves."""

from __future__ import annotations

import csv
import os
import threading
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import sqlalchemy as sa

from headwater import TaskContext
from headwater.connect.sql.database import resolve_url
from headwater.samples import build_classicmodels

_building = threading.Lock()  # the grouped lab's extracts start together


def root(ctx: TaskContext) -> Path:
    return ctx.run.root or Path.cwd()


def data_dir(ctx: TaskContext) -> Path:
    """The ``data_dir`` variable (default ``data``), relative to the project folder."""
    folder = Path(str(ctx.run.variables.get("data_dir") or "data")).expanduser()
    return folder if folder.is_absolute() else root(ctx) / folder


def shown(ctx: TaskContext, path: Path) -> str:
    """``path`` relative to the project folder when it is inside it: a small, portable value."""
    try:
        return str(path.relative_to(root(ctx)))
    except ValueError:
        return str(path)


def located(ctx: TaskContext, value: str) -> Path:
    """The file a task's value names (relative to the project folder, or absolute)."""
    return root(ctx) / value


def day(ds: str | None) -> date:
    """The run's logical day; today (UTC) for a run started without ``--date``."""
    return date.fromisoformat(ds) if ds else datetime.now(UTC).date()


def dated(ctx: TaskContext, layer: str, ds: str | None, table: str) -> Path:
    """``<data_dir>/<layer>/YYYY/MM/DD/<table>.csv``: one folder per logical day, as the lab."""
    d = day(ds)
    return data_dir(ctx) / layer / f"{d:%Y}" / f"{d:%m}" / f"{d:%d}" / f"{table}.csv"


def source(ctx: TaskContext) -> sa.Engine:
    """The classicmodels database of the ``source_url`` variable; a missing SQLite file is
    built first (the generated sample), so the lab runs on a fresh machine."""
    url = resolve_url(str(ctx.run.variables["source_url"]), root(ctx))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        _build_sample(ctx, Path(url.database))
    return sa.create_engine(url)


def _build_sample(ctx: TaskContext, path: Path) -> None:
    with _building:
        if path.exists():  # another task built it while this one waited
            return
        ctx.log.info(f"no source database at {path}: building the generated classicmodels sample")
        path.parent.mkdir(parents=True, exist_ok=True)
        # built aside and renamed, so no reader ever opens a half-built database
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.unlink(missing_ok=True)
        build_classicmodels(f"sqlite:///{partial}")
        partial.replace(path)


def export_table(engine: sa.Engine, table: str, target: Path) -> int:
    """Write every row of ``table`` to ``target`` as CSV with a header (NULL as an empty
    field, as pandas writes it); returns the number of rows."""
    quoted = engine.dialect.identifier_preparer.quote(table)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with engine.connect() as conn, target.open("w", newline="", encoding="utf-8") as out:
        result = conn.execute(sa.text(f"SELECT * FROM {quoted}"))
        writer = csv.writer(out)
        writer.writerow(result.keys())
        for row in result:
            writer.writerow(row)
            rows += 1
    return rows


def clean_csv(bronze: Path, silver: Path) -> int:
    """Copy ``bronze`` to ``silver`` without rows that have an empty field or repeat another
    (the lab's ``dropna().drop_duplicates()``); returns the rows kept."""
    silver.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        # all_varchar: the values are kept as written, whatever types a sniffer would guess
        con.execute(
            "CREATE TABLE valid AS SELECT DISTINCT * "
            "FROM read_csv(?, header = true, all_varchar = true) "
            "WHERE COLUMNS(*) IS NOT NULL ORDER BY ALL",
            [str(bronze)],
        )
        con.execute(f"COPY valid TO {_literal(silver)} (HEADER)")
        kept = con.execute("SELECT count(*) FROM valid").fetchone()
    assert kept is not None
    return int(kept[0])


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
