"""A source server restarted in the middle of a read (a private MariaDB, stopped and started on
the same port and data): the load's next attempts wait for it, and the table ends with exactly
the source's rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater import Workspace
from tests.private_mariadb import PrivateMariaDB, require_binaries
from tests.test_connection_loss import fill, lake_rows, make_project, source_rows

pytestmark = pytest.mark.faults

ROWS = 300_000


@pytest.fixture
def private_mariadb(tmp_path: Path) -> Iterator[PrivateMariaDB]:
    require_binaries()
    server = PrivateMariaDB(tmp_path / "mariadb")
    try:
        server.start()
        admin = sa.create_engine(server.url.replace("/shop", "/"))
        with admin.begin() as conn:
            conn.exec_driver_sql("CREATE DATABASE shop")
        admin.dispose()
        yield server
    finally:
        server.stop()


class Restarter:
    """Once the reader's query runs, stops the server and starts it again."""

    def __init__(self, server: PrivateMariaDB) -> None:
        self.server = server
        self.restarted = False
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Restarter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _watch(self) -> None:
        admin = sa.create_engine(self.server.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                while not self._stop.is_set():
                    reading = conn.exec_driver_sql(
                        "SELECT id FROM information_schema.PROCESSLIST WHERE db = 'shop' "
                        "AND id <> CONNECTION_ID() AND command IN ('Query', 'Execute') "
                        "AND info LIKE 'SELECT %%ev%%' AND info NOT LIKE '%%LIMIT 0%%' "
                        "AND info NOT LIKE '%%max(%%' AND time_ms > 50"
                    ).scalar()
                    if reading is not None:
                        break
                    time.sleep(0.005)
                else:
                    return
            admin.dispose()
            self.server.stop()
            self.server.start()
            self.restarted = True
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            admin.dispose()


@pytest.mark.parametrize("load", ["{strategy: full}", "{strategy: incremental, cursor: id}"])
def test_a_source_restarted_mid_read_is_retried_and_the_table_equals_the_source(
    tmp_path: Path, private_mariadb: PrivateMariaDB, load: str
) -> None:
    engine = sa.create_engine(private_mariadb.url, pool_pre_ping=True)  # lives through the restart
    fill(engine, 1, ROWS)
    root = make_project(tmp_path / "p", private_mariadb.url, load)
    text = (root / "headwater.yaml").read_text()
    # attempts spaced so that the last ones come after a restart of a few seconds
    (root / "headwater.yaml").write_text(
        text.replace("retry_delay: 0.05", "retry_delay: 0.5\n    attempts: 6")
    )
    try:
        with Workspace.open(root) as ws:
            with Restarter(private_mariadb) as restarter:
                record = ws.run("p")
            assert restarter.error is None, restarter.error
            assert restarter.restarted, "the reader's query was never seen"
            (task,) = record.tasks
            assert task.status == "success" and task.attempts >= 2
            retries = [
                e.message for e in ws.store.events("task_retry") if e.run_id == record.run_id
            ]
            assert f"127.0.0.1:{private_mariadb.port}" in retries[0]
            assert lake_rows(ws) == source_rows(engine)
    finally:
        engine.dispose()
