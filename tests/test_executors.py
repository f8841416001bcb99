"""Executors: tasks in worker processes (killed on timeout, retried when the worker dies) and
on a Dask cluster of separate worker processes; a task's error comes back as itself."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from headwater import Workspace
from headwater.errors import RunFailed
from headwater.state import TaskRunRecord
from tests.orchestration_support import make_project

WORKER = """
import os, signal, time
from pathlib import Path

def whoami():
    return os.getpid()

def die_once(ctx):
    marker = Path(ctx.run.root) / "died"
    if not marker.exists():
        marker.write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies without a word
    return os.getpid()

def hang():
    time.sleep(60)  # a blocking call: only killing the process stops it
"""


def project(root: Path, executor: str) -> tuple[Path, str]:
    mod = f"worker_{uuid.uuid4().hex[:8]}"
    yaml = f"""
    pipelines:
      work:
        executor: {executor}
        tasks:
          - {{name: who, python: "{mod}:whoami", map: [1, 2, 3]}}
      crash:
        executor: {executor}
        tasks:
          - {{name: crash, python: "{mod}:die_once", retries: {{retries: 1, delay: 0.1}}}}
      stuck:
        executor: {executor}
        tasks:
          - {{name: stuck, python: "{mod}:hang", timeout: 1}}
    """
    return make_project(root, yaml, {mod: WORKER}), mod


def test_process_executor_isolates_kills_and_retries(tmp_path: Path) -> None:
    root, _ = project(tmp_path / "p", "{type: processes}")
    ws = Workspace.open(root)
    record = ws.run("work")
    pids = {t.value for t in record.tasks}
    assert os.getpid() not in pids and len(pids) == 3  # one process per task
    crashed = ws.run("crash")
    task = crashed.tasks[0]
    assert task.status == "success" and task.attempts == 2  # the dead worker's task was retried
    retry = [e for e in ws.store.events("task_retry") if e.run_id == crashed.run_id]
    assert "worker process" in retry[0].message and "died (signal 9)" in retry[0].message
    with pytest.raises(RunFailed, match="timed out after 1s"):
        ws.run("stuck")


@pytest.mark.slow
def test_dask_executor_runs_tasks_on_cluster_workers(tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        root, mod = project(tmp_path / "p", f"{{type: dask, address: {cluster.scheduler_address}}}")
        ws = Workspace.open(root)
        record = ws.run("work")
        assert all(t.status == "success" for t in record.tasks)
        from distributed import Client

        with Client(cluster) as client:
            workers = set(client.run(os.getpid).values())
        assert {t.value for t in record.tasks} <= workers and os.getpid() not in workers

        # the workers outlive an edit of the pipeline's code: the next run uses the new code
        code = root / "pipelines" / f"{mod}.py"
        code.write_text(code.read_text().replace("return os.getpid()", "return -os.getpid()", 1))
        again = ws.run("work")
        assert {-t.value for t in again.tasks} <= workers
        with pytest.raises(RunFailed, match="timed out after 1s"):
            ws.run("stuck")
        ws.close()


FAILING = """
from pathlib import Path
from headwater.errors import ContractViolation, SourceUnreachable

def contract(ctx):
    raise ContractViolation(
        "table `raw.orders`: column `amount` changed from decimal(10,2) to string",
        table="raw.orders",
        diff=["~ amount: decimal(10,2) -> string"],
        hint="allow it with `contract: evolve` on the table's load",
    )

def lost_once(ctx):
    marker = Path(ctx.run.root) / f"lost-{ctx.run.run_id}"
    if not marker.exists():
        marker.write_text("x")
        raise SourceUnreachable(
            "cannot connect to mysql at db:3306/shop (connection refused)",
            dialect="mysql",
            address="db:3306/shop",
            hint="is the server running?",
        )
    return ctx.attempt
"""


def failures(root: Path, executor: str) -> tuple[TaskRunRecord, TaskRunRecord, list[str]]:
    """Run a terminal and a transient failure (both with retries) on ``executor``: the
    terminal task's record, the transient one's, and the transient one's retry events."""
    mod = f"failing_{uuid.uuid4().hex[:8]}"
    retries = "{retries: 2, delay: 0.01}"
    yaml = f"""
    pipelines:
      terminal:
        executor: {executor}
        tasks: [{{name: contract, python: "{mod}:contract", retries: {retries}}}]
      transient:
        executor: {executor}
        tasks: [{{name: lost, python: "{mod}:lost_once", retries: {retries}}}]
    """
    ws = Workspace.open(make_project(root, yaml, {mod: FAILING}))
    with pytest.raises(RunFailed, match="column `amount` changed"):
        ws.run("terminal")
    (terminal,) = ws.runs("terminal")[0].tasks
    (transient,) = ws.run("transient").tasks
    events = [e.message for e in ws.store.events("task_retry") if e.run_id == transient.run_id]
    ws.close()
    return terminal, transient, events


def check_as_in_process(tmp_path: Path, executor: str) -> None:
    here = failures(tmp_path / "here", "{type: threads}")
    there = failures(tmp_path / "there", executor)
    for terminal, transient, events in (here, there):
        # the terminal error keeps its type and hint, and is not retried
        assert terminal.status == "failed" and terminal.attempts == 1
        assert terminal.error_type == "headwater.errors.ContractViolation"
        assert terminal.error_hint == "allow it with `contract: evolve` on the table's load"
        # the transient one is retried
        assert transient.status == "success" and transient.attempts == 2
        assert transient.value == 2
        assert len(events) == 1 and "attempt 1 of 3" in events[0]
        assert "cannot connect to mysql at db:3306/shop" in events[0]
    assert there[0].error == here[0].error  # the same words, wherever the task ran
    assert there[2][0].split(": ", 1)[1] == here[2][0].split(": ", 1)[1]


def test_process_executor_reports_errors_as_in_process(tmp_path: Path) -> None:
    check_as_in_process(tmp_path, "{type: processes}")


@pytest.mark.slow
def test_dask_executor_reports_errors_as_in_process(tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        check_as_in_process(tmp_path, f"{{type: dask, address: {cluster.scheduler_address}}}")


@pytest.mark.postgres
def test_forked_tasks_use_their_own_database_connections(tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa

    source = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{source}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL)")
        conn.exec_driver_sql("INSERT INTO orders VALUES (1, 5.0), (2, 7.5)")
    engine.dispose()
    root = make_project(
        tmp_path / "p",
        f"""
        state: {{url: "{postgres_url}"}}
        connections:
          shop: {{type: sql, url: "sqlite:///{source}"}}
        sources:
          shop: {{connection: shop, namespace: raw, tables: [orders]}}
        pipelines:
          load:
            executor: {{type: processes}}
            tasks:
              - ingest: shop
        """,
    )
    ws = Workspace.open(root)
    ws.store.runs()  # the parent's pool holds a connection when the children fork
    for _ in range(2):
        record = ws.run("load")
        assert [t.status for t in record.tasks] == ["success"]
    # the children recorded what they did through connections of their own
    assert [c.kind for c in ws.store.schema_changes("raw.orders")] == ["created"]
    assert ws.query("SELECT count(*) AS n FROM raw.orders").to_pylist() == [{"n": 2}]
    ws.close()
