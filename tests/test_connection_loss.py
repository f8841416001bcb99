"""A source connection killed from the server side in the middle of a read, through a real
`headwater run`: the task's next attempt starts from the last committed state, and the table
ends with exactly the source's rows. Default readers: ConnectorX for MariaDB (a lost
connection is a Rust panic there), DuckDB's scanner for PostgreSQL (an Arrow OSError)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import Workspace

pytestmark = pytest.mark.slow

FIRST = 1_000  # loaded and committed before the killed run
ROWS = 300_000  # enough that the read is in progress when the killer finds it


def make_project(root: Path, url: str, load: str) -> Path:
    root.mkdir(parents=True)
    (root / "headwater.yaml").write_text(
        f"""name: lost
connections:
  src: {{url: "{url}"}}
sources:
  s:
    connection: src
    batch_rows: 2000
    retry_delay: 0.05
    tables:
      - name: ev
        load: {load}
pipelines:
  p:
    tasks:
      - ingest: s
""",
        encoding="utf-8",
    )
    return root


def fill(engine: sa.Engine, first: int, last: int) -> None:
    """Rows ``first``..``last`` made by the server (MariaDB's sequence engine, PostgreSQL's
    generate_series): a few hundred thousand rows in a second."""
    mysql = engine.dialect.name in ("mysql", "mariadb")
    series = (
        f"SELECT seq AS i FROM seq_{first}_to_{last}"
        if mysql
        else f"SELECT i FROM generate_series({first}, {last}) AS g(i)"
    )
    repeat = "REPEAT('x', 100 + MOD(i, 50))" if mysql else "repeat('x', 100 + mod(i, 50))"
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS ev (id INTEGER PRIMARY KEY, name VARCHAR(20), "
            "pad VARCHAR(200))"
        )
        conn.exec_driver_sql(
            f"INSERT INTO ev (id, name, pad) SELECT i, CONCAT('n', i), {repeat} FROM ({series}) AS s"
        )


class Killer:
    """Waits for the reader's query to show in the server's session list, then kills that
    session from a second connection, once."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.killed: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.admin.dispose()

    def _reader(self, conn: sa.Connection) -> Any:
        """The session reading the table, once it has been sending rows for a moment."""
        if self.url.get_backend_name() == "mysql":
            # ConnectorX's read (not its `LIMIT 0` schema probe, not the loader's max())
            return conn.exec_driver_sql(
                "SELECT id FROM information_schema.PROCESSLIST WHERE db = %s "
                "AND id <> CONNECTION_ID() AND command IN ('Query', 'Execute') "
                "AND info LIKE 'SELECT %%ev%%' AND info NOT LIKE '%%LIMIT 0%%' "
                "AND info NOT LIKE '%%max(%%' AND time_ms > 50",
                (self.url.database,),
            ).scalar()
        # DuckDB's scanner streams the rows with COPY … TO STDOUT
        return conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND state = 'active' AND query LIKE 'COPY %%ev%%' "
            "AND now() - query_start > interval '50 milliseconds'",
            (self.url.database,),
        ).scalar()

    def _watch(self) -> None:
        with self.admin.connect() as conn:
            while not self._stop.is_set():
                session = self._reader(conn)
                if session is not None:
                    if self.url.get_backend_name() == "mysql":
                        conn.exec_driver_sql(f"KILL {int(session)}")
                    else:
                        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(session)})")
                    self.killed = session
                    return
                time.sleep(0.005)


def source_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, name, pad FROM ev ORDER BY id")]


def lake_rows(ws: Workspace) -> list[tuple[Any, ...]]:
    table = ws.query("SELECT id, name, pad FROM raw.ev ORDER BY id")
    return list(zip(*(table.column(c).to_pylist() for c in ("id", "name", "pad")), strict=True))


def check_killed_read_retries(tmp_path: Path, url: str, load: str, dialect: str) -> None:
    engine = sa.create_engine(url)
    fill(engine, 1, FIRST)
    ws = Workspace.open(make_project(tmp_path / "p", url, load))
    try:
        ws.run("p")
        assert ws.table("raw.ev").info.snapshot_id is not None
        fill(engine, FIRST + 1, ROWS)

        with Killer(url) as killer:
            record = ws.run("p")

        assert killer.killed is not None, "the reader's session was never seen"
        (task,) = record.tasks
        assert task.status == "success" and task.attempts == 2
        (retry,) = [e.message for e in ws.store.events("task_retry") if e.run_id == record.run_id]
        assert f"lost the connection to {dialect} at 127.0.0.1:" in retry
        assert "while reading table `ev`" in retry
        assert "cx writer failed" not in retry and "panicked" not in retry  # no Rust panic text
        # no row lost, none twice: the same rows as the source (and as an undisturbed load)
        assert lake_rows(ws) == source_rows(engine)
    finally:
        ws.close()
        engine.dispose()


@pytest.mark.mysql
def test_mariadb_connection_killed_mid_read_is_retried(tmp_path: Path, mysql_url: str) -> None:
    check_killed_read_retries(tmp_path, mysql_url, "{strategy: incremental, cursor: id}", "mysql")


@pytest.mark.postgres
@pytest.mark.parametrize("load", ["{strategy: incremental, cursor: id}", "{strategy: full}"])
def test_postgres_connection_killed_mid_read_is_retried(
    tmp_path: Path, postgres_url: str, load: str
) -> None:
    check_killed_read_retries(tmp_path, postgres_url, load, "postgresql")
