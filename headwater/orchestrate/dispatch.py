"""Run one task of a pipeline against a workspace, whatever its kind."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.errors import QualityFailed
from headwater.orchestrate import handlers, sensors
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
    Task,
    TaskOutcome,
)

if TYPE_CHECKING:
    from headwater.workspace import Workspace


def execute_task(
    ws: Workspace, task: Task, ctx: TaskContext, full_refresh: bool = False
) -> TaskOutcome:
    spec = task.spec
    root = ws.project.root
    if isinstance(spec, PythonSpec):
        return handlers.run_python(spec, ctx, root)
    if isinstance(spec, ShellSpec):
        return handlers.run_shell(spec, ctx, root)
    if isinstance(spec, SensorSpec):
        since = ctx.run.interval_start
        return handlers.wait_for(spec, ctx, lambda condition: sensors.holds(ws, condition, since))
    if isinstance(spec, CheckSpec):
        return _check(ws, spec, ctx)
    if isinstance(spec, MaintainSpec):
        return _maintain(ws, spec, ctx)
    if isinstance(spec, CrawlSpec):
        return _crawl(ws, spec, ctx)
    if isinstance(spec, PipelineSpec):
        record = ws.run(
            spec.pipeline,
            conf={**ctx.run.params, **spec.conf},
            logical_date=ctx.run.logical_date,
            trigger="pipeline",
        )
        return TaskOutcome(rows=record.rows, value=record.run_id)
    props = {"headwater.run-id": ctx.run_id, "headwater.task": task.id}
    if isinstance(spec, IngestSpec):
        from headwater.ingest.task import run_ingest

        return run_ingest(ws, task, spec, ctx.run_id, props, ctx.on_rows, full_refresh)
    assert isinstance(spec, ModelSpec)
    from headwater.sql.build import build_model

    before = ws.schema_or_none(spec.name)
    result = build_model(
        ws.lake, root, spec.model, props, ctx.on_rows, ws.auditor(spec.name, ctx.run_id)
    )
    ws.record_schema(ctx.run_id, task.id, spec.name, before)
    return TaskOutcome(rows=result.rows, bytes=result.bytes, snapshot_id=result.snapshot_id)


def _check(ws: Workspace, spec: CheckSpec, ctx: TaskContext) -> TaskOutcome:
    result = ws.check(spec.target, run_id=ctx.run_id)
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


def _maintain(ws: Workspace, spec: MaintainSpec, ctx: TaskContext) -> TaskOutcome:
    from datetime import timedelta

    from headwater.lake.maintenance import Maintenance

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
    for report in ws.maintain(spec.target, options):
        done: dict[str, Any] = {}
        if report.compact is not None:
            done["files"] = [report.compact.files_before, report.compact.files_after]
        if report.expire is not None:
            done["snapshots_expired"] = len(report.expire.expired)
        if report.orphans is not None:
            done["orphans_removed"] = len(report.orphans.orphans)
        ctx.log.info(f"{report.table}: {done}")
        summary[report.table] = done
    return TaskOutcome(value=summary)


def _crawl(ws: Workspace, spec: CrawlSpec, ctx: TaskContext) -> TaskOutcome:
    from headwater.lake.crawl import CrawlOptions

    options = CrawlOptions(
        policy=spec.policy,  # type: ignore[arg-type]
        recrawl=spec.recrawl,  # type: ignore[arg-type]
        import_files=spec.import_files,
    )
    report = ws.crawl(ctx.render(spec.url), spec.namespace, options)
    for table in report.tables:
        ctx.log.info(f"{table.name}: {table.action}, {table.files} files, {table.format}")
    for skipped in report.skipped:
        ctx.log.warning(f"skipped {skipped}")
    return TaskOutcome(
        rows=sum(t.rows or 0 for t in report.tables),
        value={t.name: t.action for t in report.tables},
    )
