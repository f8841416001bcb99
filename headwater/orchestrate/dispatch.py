"""Run one task of a pipeline, whatever its kind, with the run's scope (never the Workspace)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.errors import QualityFailed
from headwater.lake.properties import RUN_ID, TASK
from headwater.orchestrate import handlers, sensors, stream_tasks, table_tasks
from headwater.orchestrate.context import TaskContext
from headwater.orchestrate.task import (
    CheckSpec,
    CrawlSpec,
    IngestSpec,
    MaintainSpec,
    ModelSpec,
    PipelineSpec,
    PythonSpec,
    SensorSpec,
    ShellSpec,
    StreamSpec,
    Task,
    TaskOutcome,
)

if TYPE_CHECKING:
    from headwater.orchestrate.scope import Scope


def execute_task(
    scope: Scope, task: Task, ctx: TaskContext, full_refresh: bool = False
) -> TaskOutcome:
    spec = task.spec
    root = scope.root
    if isinstance(spec, PythonSpec):
        return handlers.run_python(spec, ctx, root)
    if isinstance(spec, ShellSpec):
        return handlers.run_shell(spec, ctx, root)
    if isinstance(spec, SensorSpec):
        since = ctx.run.interval_start
        return handlers.wait_for(
            spec, ctx, lambda condition: sensors.holds(scope, condition, since)
        )
    if isinstance(spec, CheckSpec):
        return _check(scope, spec, ctx)
    if isinstance(spec, MaintainSpec):
        return _maintain(scope, spec, ctx)
    if isinstance(spec, CrawlSpec):
        return _crawl(scope, spec, ctx)
    if isinstance(spec, StreamSpec):
        return stream_tasks.run_stream(scope, spec, ctx)
    if isinstance(spec, PipelineSpec):
        from headwater.orchestrate.runs import execute_run

        record = execute_run(
            scope,
            spec.pipeline,
            conf={**ctx.run.params, **spec.conf},
            logical_date=ctx.run.logical_date,
            trigger="pipeline",
        )
        return TaskOutcome(rows=record.rows, value=record.run_id)
    props = {RUN_ID: ctx.run_id, TASK: task.id}
    if isinstance(spec, IngestSpec):
        return table_tasks.run_ingest(
            scope, task, spec, ctx.run_id, props, ctx.on_rows, full_refresh
        )
    assert isinstance(spec, ModelSpec)
    return table_tasks.run_model(scope, task, spec, ctx.run_id, props, ctx.on_rows)


def _check(scope: Scope, spec: CheckSpec, ctx: TaskContext) -> TaskOutcome:
    from headwater.quality.project_checks import run_checks

    result = run_checks(scope.project, scope.lake, scope.store, spec.target, run_id=ctx.run_id)
    for r in result.results:
        mark = "PASS" if r.passed else ("FAIL" if r.blocking else "WARN")
        ctx.log.info(f"{mark} {r.table} {r.check} failing={r.failing} observed={r.observed}")
    failed = [r for r in result.results if r.blocking]
    if failed:
        first = failed[0]
        raise QualityFailed(
            f"{len(failed)} check(s) of severity error failed — {first.table}: {first.check}"
            + (f" ({first.failing} failing rows)" if first.failing else ""),
            table=first.table,
            failed=[r.check for r in failed],
            hint="see them with `headwater check` or in the task's log",
        )
    return TaskOutcome(
        value={"passed": len(result.results) - len(result.failed), "warned": len(result.failed)}
    )


def _maintain(scope: Scope, spec: MaintainSpec, ctx: TaskContext) -> TaskOutcome:
    from datetime import timedelta

    from headwater.lake.maintenance import Maintenance, maintain_tables

    o = spec.options
    options = Maintenance(
        compact=o.get("compact", True),
        expire=o.get("expire", True),
        orphans=o.get("orphans", True),
        keep_last=o.get("keep_last", 5),
        older_than=timedelta(seconds=o["older_than"]) if o.get("older_than") is not None else None,
        orphan_age=timedelta(seconds=o.get("orphan_age", 86400)),
    )
    summary: dict[str, Any] = {}
    for report in maintain_tables(scope.lake, spec.target, options):
        done: dict[str, Any] = {}
        if report.compact is not None:
            done["files"] = [report.compact.files_before, report.compact.files_after]
        if report.expire is not None:
            done["snapshots_expired"] = len(report.expire.expired)
        if report.orphans is not None:
            done["orphans_removed"] = len(report.orphans.orphans)
            if report.orphans.shared is not None:
                done["orphans_kept"] = report.orphans.kept
                ctx.log.warning(f"{report.table}: {report.orphans.shared}")
        ctx.log.info(f"{report.table}: {done}")
        summary[report.table] = done
    return TaskOutcome(value=summary)


def _crawl(scope: Scope, spec: CrawlSpec, ctx: TaskContext) -> TaskOutcome:
    from headwater.lake.crawl import CrawlOptions, crawl_url

    options = CrawlOptions(
        policy=spec.policy,  # type: ignore[arg-type]
        recrawl=spec.recrawl,  # type: ignore[arg-type]
        import_files=spec.import_files,
    )
    report = crawl_url(scope.project, scope.lake, ctx.render(spec.url), spec.namespace, options)
    for table in report.tables:
        ctx.log.info(f"{table.name}: {table.action}, {table.files} files, {table.format}")
    for skipped in report.skipped:
        ctx.log.warning(f"skipped {skipped}")
    return TaskOutcome(
        rows=sum(t.rows or 0 for t in report.tables),
        value={t.name: t.action for t in report.tables},
    )
