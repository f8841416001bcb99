"""Run a DAG: start each task when its dependencies succeeded, record every state change.

A failed task marks everything downstream ``upstream_failed``; independent branches go on.
The run's state lives in the metadata store, never in the task definitions.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Protocol

from headwater.errors import HeadwaterError
from headwater.orchestrate.dag import Dag
from headwater.orchestrate.executor import Executor
from headwater.orchestrate.task import Task, TaskOutcome
from headwater.state.records import RunStatus, TaskStatus
from headwater.state.store import Store, now

TaskHandler = Callable[[Task, str], TaskOutcome]


class RunListener(Protocol):
    """Progress callbacks (the CLI's display, tests); called from the runner's thread."""

    def task_started(self, task: Task) -> None: ...

    def task_progress(self, task: Task, rows: int) -> None:
        """``rows`` more rows were read by a running task (called from worker threads)."""

    def task_finished(
        self, task: Task, status: TaskStatus, outcome: TaskOutcome | None, error: str | None
    ) -> None: ...


class _Silent:
    def task_started(self, task: Task) -> None:
        pass

    def task_progress(self, task: Task, rows: int) -> None:
        pass

    def task_finished(
        self, task: Task, status: TaskStatus, outcome: TaskOutcome | None, error: str | None
    ) -> None:
        pass


def describe_error(exc: BaseException) -> str:
    """The user-facing text of a task's failure: our message, or type and message otherwise."""
    if isinstance(exc, HeadwaterError):
        return str(exc)
    return "".join(traceback.format_exception_only(exc)).strip()


def run_dag(
    dag: Dag,
    handler: TaskHandler,
    executor: Executor,
    store: Store,
    run_id: str,
    listener: RunListener | None = None,
) -> RunStatus:
    """Execute every task of ``dag`` with ``handler``; returns the run's final status."""
    listen = listener or _Silent()
    store.add_tasks(run_id, {t.id: (t.kind, t.target) for t in dag.tasks.values()})
    done: set[str] = set()
    failed_ids: set[str] = set()
    blocked: set[str] = set()
    running: dict[Future[TaskOutcome], Task] = {}
    failed = False

    def ready() -> list[Task]:
        busy = {t.id for t in running.values()}
        return [
            t
            for tid, t in dag.tasks.items()
            if tid not in done | failed_ids | blocked | busy and t.depends_on <= done
        ]

    try:
        while True:
            for task in ready():
                if len(running) >= executor.max_workers:
                    break
                store.update_task(run_id, task.id, status=TaskStatus.RUNNING, started_at=now())
                running[executor.submit(handler, task, run_id)] = task
                listen.task_started(task)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                task = running.pop(future)
                exc = future.exception()
                if exc is None:
                    outcome = future.result()
                    store.update_task(
                        run_id,
                        task.id,
                        status=TaskStatus.SUCCESS,
                        ended_at=now(),
                        rows=outcome.rows,
                        bytes=outcome.bytes,
                        snapshot_id=outcome.snapshot_id,
                        details=dict(outcome.details) if outcome.details else None,
                    )
                    done.add(task.id)
                    listen.task_finished(task, TaskStatus.SUCCESS, outcome, None)
                    continue
                failed = True
                failed_ids.add(task.id)
                message = describe_error(exc)
                store.update_task(
                    run_id, task.id, status=TaskStatus.FAILED, ended_at=now(), error=message
                )
                listen.task_finished(task, TaskStatus.FAILED, None, message)
                for tid in sorted(dag.downstream(task.id) - blocked):
                    blocked.add(tid)
                    store.update_task(
                        run_id,
                        tid,
                        status=TaskStatus.UPSTREAM_FAILED,
                        error=f"not run: upstream task `{task.id}` failed",
                    )
                    listen.task_finished(dag.tasks[tid], TaskStatus.UPSTREAM_FAILED, None, None)
    except BaseException:
        # interrupted (Ctrl-C): what was queued never starts; what runs is recorded as cut off
        for future, task in running.items():
            future.cancel()
            store.update_task(
                run_id, task.id, status=TaskStatus.FAILED, ended_at=now(), error="interrupted"
            )
        raise
    return RunStatus.FAILED if failed else RunStatus.SUCCESS
