"""Start, resume and queue runs of a project's pipelines, in a :class:`Scope`."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater.errors import RunFailed
from headwater.orchestrate.catalog import Definition
from headwater.orchestrate.context import RunContext
from headwater.orchestrate.dag import Dag
from headwater.orchestrate.executor import Executor, LocalExecutor
from headwater.orchestrate.failures import describe_error
from headwater.orchestrate.hooks import Hooks, emit
from headwater.orchestrate.runner import RunListener, run_dag
from headwater.orchestrate.schedule import Schedule
from headwater.project.pipelines import PipelineSettings
from headwater.state.records import RunRecord, RunStatus
from headwater.stopping import Terminated
from headwater.tempdirs import sweep as sweep_tempdirs

if TYPE_CHECKING:
    from headwater.orchestrate.scope import Scope

__all__ = ["Definition", "execute_run", "executor_for", "queue_run", "this_process"]


def this_process() -> str:
    return f"process:{socket.gethostname()}:{os.getpid()}"


def executor_for(
    scope: Scope, name: str, settings: PipelineSettings, full_refresh: bool
) -> Executor:
    config = settings.executor
    if config.type == "processes":
        from headwater.orchestrate.processes import ProcessExecutor

        return ProcessExecutor(settings.parallelism)
    if config.type == "dask":
        from headwater.orchestrate.dask_executor import DaskExecutor
        from headwater.orchestrate.remote import RemoteProject

        assert config.address is not None
        from headwater.project.fingerprint import fingerprint

        version = fingerprint(scope.project.root, scope.project.file)
        project = RemoteProject(
            str(scope.project.root), dict(scope.project.variables), name, full_refresh, version
        )
        return DaskExecutor(config.address, project, settings.parallelism)
    return LocalExecutor(settings.parallelism)


def execute_run(
    scope: Scope,
    pipeline: str,
    *,
    listener: RunListener | None = None,
    dag: Dag | None = None,
    full_refresh: bool = False,
    logical_date: datetime | None = None,
    conf: Mapping[str, Any] | None = None,
    trigger: str = "manual",
    run_id: str | None = None,
    owner: str | None = None,
    echo: bool = False,
) -> RunRecord:
    """Run ``pipeline`` to the end in this process, or continue ``run_id`` (claimed or resumed)."""
    settings = scope.catalog.definition(pipeline).settings
    store = scope.store
    try:
        dag = dag or scope.catalog.plan(pipeline)
        # a lake whose tables live in another project's folder (a copy) stops the run here,
        # before it is recorded, rather than in each task (lake.home)
        scope.lake.tables()
        scope.lake.refuse_a_copy()  # nor one copied with its tables left in shared storage
        scope = scope.for_run()
        executor = executor_for(scope, pipeline, settings, full_refresh)
    except BaseException as exc:
        if run_id is not None:  # a claimed or resumed run must not stay `running`
            store.finish_run(run_id, RunStatus.FAILED, f"not started: {describe_error(exc)}")
        raise
    if run_id is None:
        interval = _interval(pipeline, settings, logical_date)
        started = store.start_run(
            pipeline,
            scope.public_variables(),
            trigger=trigger,
            logical_date=interval[0],
            interval=interval,
            conf=conf,
            owner=owner or this_process(),
            deadline=_deadline(settings, interval),
        )
        assert started is not None
        run_id = started
    record = store.run(run_id)
    params = {**settings.params, **(record.conf or {})}
    context = RunContext(
        run_id=run_id,
        pipeline=pipeline,
        logical_date=record.logical_date,
        interval_start=record.interval_start,
        interval_end=record.interval_end,
        params=params,
        variables=dict(scope.project.variables),
        root=scope.root,
        log_dir=scope.log_dir,
        echo=echo,
    )
    hooks = Hooks.of(settings.hooks)

    # imported here, before any task starts: a first import on several task threads at once
    # made Ctrl-C wait for ever on the import lock
    from headwater.orchestrate.dispatch import execute_task

    def handler(task: Any, ctx: Any) -> Any:
        return execute_task(scope, task, ctx, full_refresh)

    sweep_tempdirs()
    try:
        status = run_dag(dag, handler, executor, store, context, listener, scope.pools, hooks)
    except BaseException as exc:
        executor.shutdown(cancel=True)
        if isinstance(exc, KeyboardInterrupt):
            how = "stopped by SIGTERM" if isinstance(exc, Terminated) else "interrupted (Ctrl-C)"
            store.finish_run(run_id, RunStatus.CANCELLED, how)
        else:
            store.finish_run(run_id, RunStatus.FAILED, f"run interrupted: {exc!r}")
        raise
    executor.shutdown()
    record = store.run(run_id)
    failed = [t for t in record.tasks if t.status in ("failed", "upstream_failed")]
    first = next((t for t in failed if t.status == "failed"), failed[0] if failed else None)
    error = _summary([t for t in failed if t.status == "failed"]) or None
    if status is RunStatus.CANCELLED:
        error = "cancelled on request"
    store.finish_run(run_id, status, error)
    record = store.run(run_id)
    if status is RunStatus.SUCCESS:
        if hooks.on_success:
            emit(
                store, hooks, "run_succeeded", f"pipeline `{pipeline}` succeeded", pipeline, run_id
            )
        return record
    if status is RunStatus.CANCELLED:
        raise RunFailed(f"run {run_id} of pipeline `{pipeline}` was cancelled", run=record)
    emit(store, hooks, "run_failed", f"pipeline `{pipeline}` failed: {error}", pipeline, run_id)
    assert first is not None
    raise RunFailed(
        f"pipeline `{pipeline}` failed: {sum(t.status == 'failed' for t in failed)} task(s) "
        f"failed — {first.task_id}: {first.error}",
        run=record,
        hint="tables published by earlier runs are unchanged; fix the cause and run again "
        f"(`headwater run {pipeline} --resume {run_id[:8]}` re-runs only what did not succeed)",
    )


def _interval(
    pipeline: str, settings: PipelineSettings, logical_date: datetime | None
) -> tuple[datetime, datetime]:
    """The run's data interval: the schedule's interval starting at ``logical_date``; a run
    without a date (started by hand) is dated now, with an empty interval."""
    if logical_date is None:
        moment = datetime.now(UTC)
        return moment, moment
    when = logical_date if logical_date.tzinfo else logical_date.replace(tzinfo=UTC)
    schedule = Schedule.of(pipeline, settings)
    if schedule is None:
        return when, when
    return schedule.interval_at(when)


def _deadline(
    settings: PipelineSettings, interval: tuple[datetime, datetime] | None
) -> datetime | None:
    if settings.sla is None:
        return None
    from datetime import timedelta

    due = interval[1] if interval else datetime.now(UTC)
    return max(due, datetime.now(UTC)) + timedelta(seconds=settings.sla)


def queue_run(
    scope: Scope,
    pipeline: str,
    conf: Mapping[str, Any] | None = None,
    logical_date: datetime | None = None,
    trigger: str = "manual",
    schedule_key: str | None = None,
    interval: tuple[datetime, datetime] | None = None,
) -> str | None:
    """Queue a run for a scheduler to pick up; its id (None: that logical date has one)."""
    definition = scope.catalog.definition(pipeline)
    if interval is None:
        interval = _interval(pipeline, definition.settings, logical_date)
    return scope.store.start_run(
        pipeline,
        scope.public_variables(),
        status=RunStatus.QUEUED,
        trigger=trigger,
        logical_date=interval[0] if interval else None,
        interval=interval,
        conf=conf,
        schedule_key=schedule_key,
        deadline=_deadline(definition.settings, interval),
    )


def _summary(failed: list[Any]) -> str:
    """The failed tasks' errors, each distinct error once with the tasks that hit it (eight
    tables of one source with a wrong password: one line, not eight copies)."""
    by_error: dict[str, list[str]] = {}
    for task in failed:
        by_error.setdefault(str(task.error), []).append(task.task_id)
    parts = []
    for error, tasks in by_error.items():
        names = ", ".join(tasks[:3]) + (f" and {len(tasks) - 3} more" if len(tasks) > 3 else "")
        parts.append(f"{names}: {error}")
    return "; ".join(parts)
