"""Change data capture end to end, on a private PostgreSQL with ``wal_level = logical`` and a
private MariaDB with the row-based binary log: a project's source under ``load: cdc``
mirrored into Iceberg by `headwater cdc run` and by a pipeline's ingest step, compared with
the source row for row; then thousands of random inserts, updates and deletes with the
capture killed with SIGKILL at random moments and the server restarted under it, and the
mirror still equal to the source with no duplicate key."""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest
import yaml

from headwater.errors import CdcSetupError, ProjectFileError
from headwater.workspace import Workspace
from tests import private_mariadb, private_postgres
from tests.fault_support import CLI, cli
from tests.private_mariadb import PrivateMariaDB
from tests.private_postgres import PrivatePostgres

SCHEMA = [
    "CREATE TABLE customers (id int PRIMARY KEY, name varchar(200) NOT NULL, credit numeric(10,2))",
    "CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, qty int NOT NULL, "
    "status varchar(20))",
]


class Server:
    """A private PostgreSQL or MariaDB server set up for capture, and its databases."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.instance: PrivatePostgres | PrivateMariaDB
        if kind == "postgres":
            private_postgres.require_binaries()
            self.instance = PrivatePostgres()
        else:
            private_mariadb.require_binaries()
            self.instance = PrivateMariaDB(folder, binlog=True)
        self.instance.start()

    def url(self, database: str) -> str:
        if isinstance(self.instance, PrivatePostgres):
            return self.instance.url(database)
        return f"mysql+pymysql://root@127.0.0.1:{self.instance.port}/{database}"

    def connect(self, database: str | None = None) -> Any:
        """A DB-API connection (not in autocommit)."""
        if isinstance(self.instance, PrivatePostgres):
            conn = psycopg.connect(self.instance.conninfo(database or "postgres"))
            conn.execute("SET TimeZone = 'UTC'")
            conn.commit()
            return conn
        return pymysql.connect(
            host="127.0.0.1", port=self.instance.port, user="root", database=database
        )

    def admin(self, sql: str, database: str | None = None) -> list[tuple[Any, ...]]:
        conn = self.connect(database)
        try:
            if self.kind == "postgres":
                conn.autocommit = True
            cursor = conn.cursor()
            cursor.execute(sql)
            found = list(cursor.fetchall()) if cursor.description else []
            conn.commit()
            return found
        finally:
            conn.close()

    def stop(self) -> None:
        self.instance.stop()

    def start(self) -> None:
        self.instance.start()

    def remove(self) -> None:
        if isinstance(self.instance, PrivatePostgres):
            self.instance.remove()
        else:
            self.instance.stop()


@pytest.fixture(scope="module", params=["postgres", "mariadb"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    made = Server(request.param, tmp_path_factory.mktemp(request.param))
    try:
        yield made
    finally:
        made.remove()


class Source:
    """A fresh database on the private server, and a project whose source `shop` mirrors
    its two tables under `load: cdc`."""

    def __init__(self, server: Server, root: Path) -> None:
        self.server = server
        self.name = f"hw_cdc_{uuid.uuid4().hex[:8]}"
        server.admin(f"CREATE DATABASE {self.name}")
        for statement in SCHEMA:
            self.run(statement)
        self.root = root
        root.mkdir(parents=True)
        config = {
            "name": f"p{uuid.uuid4().hex[:6]}",
            "connections": {"db": {"url": server.url(self.name)}},
            "sources": {
                "shop": {
                    "connection": "db",
                    "load": "cdc",
                    "cdc": {"interval": "0.2s"},
                    "tables": ["customers", "orders"],
                }
            },
            "pipelines": {"p": {"tasks": [{"ingest": "shop"}]}},
        }
        (root / "headwater.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def run(self, sql: str) -> None:
        self.server.admin(sql, self.name)

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        return self.server.admin(f"SELECT * FROM {table} ORDER BY id", self.name)

    def mirror(self, table: str) -> list[tuple[Any, ...]]:
        with Workspace.open(self.root) as ws:
            result = ws.query(f"SELECT * FROM raw.{table} ORDER BY id")
        return [tuple(r.values()) for r in result.to_pylist()]

    def assert_mirrored(self) -> None:
        for table in ("customers", "orders"):
            mirror = self.mirror(table)
            assert len({row[0] for row in mirror}) == len(mirror)  # no duplicate key
            assert mirror == self.rows(table)

    def drop(self) -> None:
        if self.server.kind == "postgres":
            self.server.admin(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                f"WHERE database = '{self.name}' AND NOT active"
            )
            self.server.admin(f'DROP DATABASE "{self.name}" WITH (FORCE)')
        else:
            self.server.admin(f"DROP DATABASE {self.name}")


@pytest.fixture
def source(server: Server, tmp_path: Path) -> Iterator[Source]:
    made = Source(server, tmp_path / "project")
    try:
        yield made
    finally:
        made.drop()


class Changes:
    """Random inserts, updates and deletes of customers and orders, a few per transaction."""

    def __init__(self, source: Source, seed: int) -> None:
        self.source = source
        self.random = random.Random(seed)
        self.next_id = 1
        self.live: list[int] = []
        self.count = 0  # rows changed

    def one(self, cursor: Any) -> None:
        r = self.random
        kind = r.random()
        if kind < 0.5 or len(self.live) < 10:
            i = self.next_id
            self.next_id += 1
            cursor.execute(
                "INSERT INTO customers (id, name, credit) VALUES (%s, %s, %s)",
                (i, f"customer {i}", Decimal(r.randint(0, 99999)) / 100),
            )
            cursor.execute("INSERT INTO orders VALUES (%s, %s, %s, 'new')", (i, i, r.randint(1, 9)))
            self.live.append(i)
        elif kind < 0.8:
            i = r.choice(self.live)
            cursor.execute("UPDATE customers SET credit = credit + 1 WHERE id = %s", (i,))
            cursor.execute(
                "UPDATE orders SET qty = qty + 1, status = 'shipped' WHERE id = %s", (i,)
            )
        else:
            i = self.live.pop(r.randrange(len(self.live)))
            cursor.execute("DELETE FROM orders WHERE id = %s", (i,))
            cursor.execute("DELETE FROM customers WHERE id = %s", (i,))

    def apply(self, count: int) -> None:
        conn = self.source.server.connect(self.source.name)
        try:
            done = 0
            while done < count:
                cursor = conn.cursor()
                for _ in range(self.random.randint(1, 4)):  # one transaction
                    self.one(cursor)
                    done += 1
                conn.commit()
            self.count += 2 * done  # a row of each table per step
        finally:
            conn.close()


def test_a_capture_mirrors_the_source_through_snapshot_changes_and_schema_change(
    source: Source,
) -> None:
    changes = Changes(source, seed=1)
    changes.apply(300)  # before the first run: the snapshot carries them
    with Workspace.open(source.root) as ws:
        first = ws.run_capture("shop")
    assert first.snapshot_rows > 0 and first.changes == 0
    source.assert_mirrored()

    changes.apply(1500)
    source.run("ALTER TABLE customers ADD COLUMN tier varchar(10)")
    source.run("UPDATE customers SET tier = 'gold' WHERE id % 7 = 0")
    changes.apply(200)
    with Workspace.open(source.root) as ws:
        second = ws.run_capture("shop")
        assert ws.lake.arrow_schema("raw.customers").names[-1] == "tier"
    assert second.snapshot_rows == 0 and second.changes >= 1700
    source.assert_mirrored()

    with Workspace.open(source.root) as ws:  # nothing pending: nothing committed
        before = len(ws.lake.snapshots("raw.orders"))
        assert ws.run_capture("shop").changes == 0
        assert len(ws.lake.snapshots("raw.orders")) == before


def test_a_pipeline_ingest_step_drains_the_capture(source: Source) -> None:
    changes = Changes(source, seed=2)
    changes.apply(200)
    with Workspace.open(source.root) as ws:
        ws.run("p")
    source.assert_mirrored()
    changes.apply(500)
    with Workspace.open(source.root) as ws:
        record = ws.run("p")
    source.assert_mirrored()
    details = [t.details or {} for t in record.tasks]
    assert {d["strategy"] for d in details} == {"cdc"}
    # the first table's step applied the changes of both; the second found none left
    assert sum(int(d["changes"]) for d in details) >= 500


def test_status_and_drop_from_the_command_line(source: Source) -> None:
    with Workspace.open(source.root) as ws:
        ws.run_capture("shop")
    status = subprocess.run(
        [*CLI, "cdc", "status", "-p", str(source.root)], capture_output=True, text=True
    )
    assert status.returncode == 0, status.stderr
    assert "shop" in status.stdout and "yes" in status.stdout  # the slot / binlog is there
    dropped = subprocess.run(
        [*CLI, "cdc", "drop", "shop", "-p", str(source.root)], capture_output=True, text=True
    )
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped the capture of shop" in dropped.stdout
    if source.server.kind == "postgres":  # MySQL keeps nothing on the server for a reader
        slots = source.server.admin(
            f"SELECT count(*) FROM pg_replication_slots WHERE database = '{source.name}'"
        )
        assert slots == [(0,)]
    source.run("INSERT INTO customers (id, name, credit) VALUES (900001, 'after the drop', 1)")
    with Workspace.open(source.root) as ws:
        again = ws.run_capture("shop")
    if source.server.kind == "postgres":  # a new slot, and so a new snapshot
        assert again.snapshot_rows >= 1
    source.assert_mirrored()


def test_a_table_without_a_primary_key_is_refused_with_the_fix(source: Source) -> None:
    source.run("CREATE TABLE notes (body varchar(100))")
    config = yaml.safe_load((source.root / "headwater.yaml").read_text())
    config["sources"]["shop"]["tables"] = ["notes"]
    (source.root / "headwater.yaml").write_text(yaml.safe_dump(config))
    with (
        Workspace.open(source.root) as ws,
        pytest.raises(CdcSetupError, match="REPLICA IDENTITY FULL|has no primary key"),
    ):
        ws.run_capture("shop")


def test_cdc_on_a_query_is_refused_where_it_is_written(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        "name: q\nconnections:\n  pg: {url: 'postgresql://x@127.0.0.1/db'}\n"
        "sources:\n  s:\n    connection: pg\n    load: cdc\n"
        "    tables: [{name: big, query: SELECT 1 AS id}]\n"
    )
    with pytest.raises(ProjectFileError, match="follows a table's changes, not a query's"):
        Workspace.open(tmp_path)


def test_kill_9_at_random_moments_and_a_server_restart_lose_and_double_nothing(
    source: Source, server: Server
) -> None:
    changes = Changes(source, seed=3)
    changes.apply(500)
    rng = random.Random(4)
    failure: list[BaseException] = []

    def writer() -> threading.Thread:
        def write() -> None:
            try:
                for _ in range(12):
                    changes.apply(150)
                    time.sleep(0.05)
            except BaseException as exc:  # reported by the test
                failure.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        return thread

    def kill_and_restart(capture: subprocess.Popen[str]) -> subprocess.Popen[str]:
        time.sleep(rng.uniform(0.3, 1.5))
        capture.send_signal(signal.SIGKILL)
        capture.communicate(timeout=30)
        return cli(source.root, "cdc", "run", "shop")

    capture = cli(source.root, "cdc", "run", "shop")
    try:
        first = writer()
        capture = kill_and_restart(capture)
        capture = kill_and_restart(capture)
        first.join()
        time.sleep(rng.uniform(0.2, 1.0))
        server.stop()  # the server goes away under the running capture, and comes back
        time.sleep(1.0)
        server.start()
        second = writer()
        capture = kill_and_restart(capture)
        second.join()
        assert not failure, failure
        time.sleep(2.0)
        assert capture.poll() is None, capture.communicate()  # it outlived the server restart
        capture.send_signal(signal.SIGTERM)
        out, err = capture.communicate(timeout=60)
        assert capture.returncode == 0, out + err
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.communicate(timeout=30)
    with Workspace.open(source.root) as ws:
        ws.run_capture("shop")  # what the last run left pending
    assert changes.count >= 4000  # thousands of changes went through the kills
    source.assert_mirrored()
