"""Incremental, partitioned and interrupted loads against the real MariaDB and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import Workspace
from headwater.errors import RunFailed
from headwater.orchestrate import RunListener, Task

ROWS = 60_000


def make_project(root: Path, url: str, load: str, reader: str, extra: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "headwater.yaml").write_text(
        f"""name: db
connections:
  src: {{url: "{url}"}}
sources:
  s:
    connection: src
    reader: {reader}
    batch_rows: 5000
    tables:
      - name: ev
        load: {load}
{extra}pipelines:
  p:
    tasks:
      - ingest: s
""",
        encoding="utf-8",
    )
    return root


def fill(url: str, first: int, last: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS ev (id INTEGER PRIMARY KEY, name VARCHAR(20), "
            "amount DECIMAL(10,2), ts TIMESTAMP NULL)"
        )
        conn.execute(
            sa.text("INSERT INTO ev VALUES (:id, :name, :amount, :ts)"),
            [
                {
                    "id": i,
                    "name": f"n{i}",
                    "amount": i / 100,
                    "ts": f"2024-01-{1 + i % 28:02d} {i % 24:02d}:00:00",
                }
                for i in range(first, last + 1)
            ],
        )
    engine.dispose()


def ids(ws: Workspace) -> tuple[int, int, int]:
    row = ws.query("SELECT count(*), count(DISTINCT id), sum(id) FROM raw.ev").to_pylist()[0]
    return tuple(row.values())  # type: ignore[return-value]


def expected(last: int) -> tuple[int, int, int]:
    return last, last, last * (last + 1) // 2


READERS = ["connectorx", "duckdb", "sqlalchemy"]


@pytest.mark.mysql
@pytest.mark.parametrize("reader", READERS)
def test_incremental_on_mariadb(tmp_path: Path, mysql_url: str, reader: str) -> None:
    check_incremental(tmp_path, mysql_url, reader)


@pytest.mark.postgres
@pytest.mark.parametrize("reader", READERS)
def test_incremental_on_postgres(tmp_path: Path, postgres_url: str, reader: str) -> None:
    check_incremental(tmp_path, postgres_url, reader)


def check_incremental(tmp_path: Path, url: str, reader: str) -> None:
    fill(url, 1, 1000)
    root = make_project(tmp_path / "p", url, "{strategy: incremental, cursor: id}", reader)
    ws = Workspace.open(root)
    ws.run("p")
    fill(url, 1001, 1500)
    record = ws.run("p")
    assert record.tasks[0].rows == 501  # the boundary row is read again, and dropped
    assert ids(ws) == expected(1500)
    assert ws.table("raw.ev").cursor == 1500
    ws.close()


@pytest.mark.mysql
@pytest.mark.parametrize("reader", ["connectorx", "sqlalchemy"])
def test_partitioned_full_load_on_mariadb(tmp_path: Path, mysql_url: str, reader: str) -> None:
    check_partitioned(tmp_path, mysql_url, reader)


@pytest.mark.postgres
@pytest.mark.parametrize("reader", ["duckdb", "connectorx"])
def test_partitioned_full_load_on_postgres(tmp_path: Path, postgres_url: str, reader: str) -> None:
    check_partitioned(tmp_path, postgres_url, reader)


def check_partitioned(tmp_path: Path, url: str, reader: str) -> None:
    fill(url, 1, 3000)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a NULL in the partition column lands in the first range
        conn.exec_driver_sql("INSERT INTO ev VALUES (3001, 'x', NULL, NULL)")
    engine.dispose()
    root = make_project(
        tmp_path / "p",
        url,
        "{strategy: full, contract: freeze}",
        reader,
        extra="        partition: {column: ts, count: 3}\n",
    )
    ws = Workspace.open(root)
    ws.run("p")
    assert ids(ws) == expected(3001)
    files = ws.table("raw.ev").info.files
    assert files >= 3  # one writer per range
    ws.close()


class KillMidRead(RunListener):
    """Kills the source sessions reading the table when rows arrive, ``times`` times."""

    def __init__(self, kill: Any, times: int) -> None:
        self.kill = kill
        self.left = times
        self.lock = threading.Lock()

    def task_progress(self, task: Task, rows: int) -> None:
        with self.lock:
            # batches already buffered keep arriving after a kill: count only real kills
            if self.left and self.kill():
                self.left -= 1


@pytest.mark.mysql
@pytest.mark.slow
def test_a_connection_killed_mid_read_loses_and_duplicates_nothing(
    tmp_path: Path, mysql_url: str
) -> None:
    fill(mysql_url, 1, 1000)
    root = make_project(
        tmp_path / "p",
        mysql_url,
        "{strategy: incremental, cursor: id}",
        "sqlalchemy",
        extra="    attempts: 2\n    retry_delay: 0\n",
    )
    ws = Workspace.open(root)
    ws.run("p")
    before = ws.table("raw.ev").info.snapshot_id
    fill(mysql_url, 1001, ROWS)
    database = sa.make_url(mysql_url).database
    admin = sa.create_engine(sa.make_url(mysql_url).set(database=""))
    with admin.begin() as conn:  # wide rows: far more than the socket buffers hold
        conn.exec_driver_sql(f"ALTER TABLE `{database}`.ev ADD COLUMN pad VARCHAR(500)")
        conn.exec_driver_sql(f"UPDATE `{database}`.ev SET pad = REPEAT('x', 400)")

    def kill() -> bool:
        with admin.begin() as conn:
            sessions = conn.exec_driver_sql(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND command = 'Query'",
                (database,),
            ).scalars()
            found = list(sessions)
            for session in found:
                conn.exec_driver_sql(f"KILL {int(session)}")
            return bool(found)

    # killed in both attempts: a clear failure, nothing half-published, the cursor unmoved
    with pytest.raises(RunFailed) as failed:
        ws.run("p", listener=KillMidRead(kill, times=2))
    error = failed.value.run.tasks[0].error
    assert "lost the connection to mysql at 127.0.0.1:3306/" in error
    assert "while reading table `ev`" in error
    assert "gave up after 2 attempts" in error
    assert ws.table("raw.ev").info.snapshot_id == before
    assert ws.table("raw.ev").cursor == 1000
    # killed once: the retry reads everything again; every row lands exactly once
    ws.run("p", listener=KillMidRead(kill, times=1))
    assert ids(ws) == expected(ROWS)
    admin.dispose()
    ws.close()
