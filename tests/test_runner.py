"""The DAG runner: dependency order, bounded parallelism, failure isolation, recorded state."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from headwater.errors import DagError, SourceError
from headwater.orchestrate import Dag, LocalExecutor, Task, TaskOutcome, run_dag
from headwater.orchestrate.context import TaskContext
from headwater.orchestrate.task import IngestSpec
from headwater.state import RunStatus, Store, TaskStatus


def task(tid: str, *deps: str) -> Task:
    return Task(
        id=tid, kind="ingest", target=tid, spec=IngestSpec("src", tid), depends_on=frozenset(deps)
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'state.db'}")


def test_order_parallelism_and_recorded_outcomes(store: Store) -> None:
    dag = Dag.of("p", [task("a"), task("b"), task("c", "a", "b"), task("d", "c")])
    started: list[str] = []
    running = 0
    peak = 0
    lock = threading.Lock()

    def handler(t: Task, ctx: TaskContext) -> TaskOutcome:
        nonlocal running, peak
        with lock:
            started.append(t.id)
            running += 1
            peak = max(peak, running)
        time.sleep(0.3)  # long enough that both roots overlap even on a busy machine
        with lock:
            running -= 1
        return TaskOutcome(rows=len(t.id) * 10, bytes=1)

    run_id = store.start_run("p")
    status = run_dag(dag, handler, LocalExecutor(2), store, run_id)
    assert status is RunStatus.SUCCESS
    assert set(started[:2]) == {"a", "b"} and started[2:] == ["c", "d"]
    assert peak == 2
    record = store.run(run_id)
    assert {t.task_id: (t.status, t.rows) for t in record.tasks} == {
        tid: (TaskStatus.SUCCESS, 10) for tid in "abcd"
    }


def test_failure_blocks_downstream_only_and_runs_once(store: Store) -> None:
    dag = Dag.of(
        "p", [task("bad"), task("good"), task("after_bad", "bad"), task("after_good", "good")]
    )
    calls: list[str] = []

    def handler(t: Task, ctx: TaskContext) -> TaskOutcome:
        calls.append(t.id)
        if t.id == "bad":
            raise SourceError("table `x` does not exist")
        return TaskOutcome(rows=1)

    run_id = store.start_run("p")
    assert run_dag(dag, handler, LocalExecutor(4), store, run_id) is RunStatus.FAILED
    assert sorted(calls) == ["after_good", "bad", "good"]  # the failed task is not retried
    tasks = {t.task_id: t for t in store.run(run_id).tasks}
    assert tasks["bad"].status is TaskStatus.FAILED
    assert tasks["bad"].error == "table `x` does not exist"
    assert tasks["after_bad"].status is TaskStatus.UPSTREAM_FAILED
    assert tasks["after_good"].status is TaskStatus.SUCCESS


def test_invalid_dags() -> None:
    with pytest.raises(DagError, match="unknown task `nope`"):
        Dag.of("p", [task("a", "nope")])
    with pytest.raises(DagError, match="cycle"):
        Dag.of("p", [task("a", "b"), task("b", "a")])
    with pytest.raises(DagError, match="two tasks named `a`"):
        Dag.of("p", [task("a"), task("a")])


def test_interrupt_records_running_tasks_and_starts_nothing_more(store: Store) -> None:
    dag = Dag.of("p", [task("a"), task("b"), task("c", "a"), task("d", "b")])
    ran: list[str] = []

    class InterruptOnSecondStart:
        starts = 0

        def task_started(self, t: Task) -> None:
            self.starts += 1
            if self.starts == 2:
                raise KeyboardInterrupt

        def task_progress(self, t: Task, rows: int) -> None:
            pass

        def task_finished(
            self, t: Task, status: TaskStatus, outcome: object, error: object
        ) -> None:
            pass

    def handler(t: Task, ctx: TaskContext) -> TaskOutcome:
        time.sleep(0.2)
        ran.append(t.id)
        return TaskOutcome()

    executor = LocalExecutor(2)
    run_id = store.start_run("p")
    with pytest.raises(KeyboardInterrupt):
        run_dag(dag, handler, executor, store, run_id, InterruptOnSecondStart())  # type: ignore[arg-type]
    executor.shutdown(cancel=True)
    statuses = {t.task_id: (t.status, t.error) for t in store.run(run_id).tasks}
    assert statuses["a"] == (TaskStatus.CANCELLED, "interrupted")
    assert statuses["b"] == (TaskStatus.CANCELLED, "interrupted")
    assert statuses["c"] == (TaskStatus.CANCELLED, "not run: interrupted")
    assert statuses["d"] == (TaskStatus.CANCELLED, "not run: interrupted")
    assert "c" not in ran and "d" not in ran
