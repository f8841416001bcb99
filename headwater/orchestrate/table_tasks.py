"""The tasks that write a table: an ingest (a source table loaded by its strategy) and a
model; each records the schema changes it made.

One call is one attempt: a lost connection raises a retryable error and the orchestrator runs
the task again from the last committed state (the source's ``attempts``, see
:func:`headwater.orchestrate.builder.source_retry`); nothing here retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pyarrow as pa

from headwater.ingest.contract import plan
from headwater.ingest.extraction import Resource
from headwater.ingest.load import load
from headwater.ingest.resources import resource_for
from headwater.ingest.sql_source import SqlResource
from headwater.ingest.sql_table import ingest_table, probe
from headwater.lake.quarantine import quarantine_name
from headwater.lake.schema_changes import SchemaChange, schema_changes, source_changes
from headwater.orchestrate.task import IngestSpec, ModelSpec, Task, TaskOutcome
from headwater.project.config import Load
from headwater.quality.project_checks import auditor_for

if TYPE_CHECKING:
    from headwater.lake import Lake
    from headwater.lake.writer import Audit
    from headwater.orchestrate.scope import Scope


def run_ingest(
    scope: Scope,
    task: Task,
    spec: IngestSpec,
    run_id: str,
    props: Mapping[str, str],
    on_rows: Callable[[int], None] | None,
    full_refresh: bool,
) -> TaskOutcome:
    """Load one source table by its strategy; record what changed in its schema."""
    project = scope.project
    source = project.config.sources[spec.source]
    entry = next(t for t in source.tables if t.name == spec.table)
    settings = source.load_for(entry)
    target = f"{source.namespace}.{entry.name}"
    if settings.strategy == "cdc":
        return _capture(scope, spec.source, target)
    before = _schema_or_none(scope.lake, target)
    resource = resource_for(project, scope.databases, spec.source, entry.name)
    audit = _auditor(scope, target, run_id)
    incoming = _direct_copy(resource, settings, before)
    if incoming is not None:
        # the fast path: DuckDB reads the source and writes the files itself, on all cores
        assert isinstance(resource, SqlResource)
        written = ingest_table(
            scope.lake,
            resource.db,
            resource.source,
            resource.entry,
            props,
            on_rows,
            audit,
            incoming,
        )
        _record_schema(scope, run_id, task.id, target, before, unsent=())
        return TaskOutcome(
            rows=written.rows,
            bytes=written.bytes,
            snapshot_id=written.snapshot_id,
            details={"strategy": "full", "changed": True},
        )
    landing = getattr(source, "landing", None)
    if isinstance(resource, SqlResource):
        props = {**props, "headwater.reader": resource.reader}
    result = load(
        scope.lake,
        target,
        resource,
        settings,
        run_id=run_id,
        properties=props,
        on_rows=on_rows,
        full_refresh=full_refresh,
        landing=project.path(landing) if landing else None,
        batch_rows=getattr(source, "batch_rows", 100_000),
        audit=audit,
    )
    # a SQL table declares its columns; an API's or a file's are inferred from the records
    # read, where a field absent from one read is no change of the source
    unsent = result.unsent if isinstance(resource, SqlResource) else None
    _record_schema(scope, run_id, task.id, target, before, unsent=unsent)
    details = {
        "strategy": result.strategy,
        "changed": result.changed,
        "inserted": result.inserted,
        "deleted": result.deleted,
        "rejected": result.rejected,
        "cursor": None if result.cursor is None else str(result.cursor),
    }
    if result.rejected:
        details["quarantine"] = quarantine_name(target)
    return TaskOutcome(
        rows=result.rows, bytes=result.bytes, snapshot_id=result.snapshot_id, details=details
    )


def _capture(scope: Scope, source: str, target: str) -> TaskOutcome:
    """A table under ``load: cdc``: its source's capture applies what is pending (into every
    table of the source: the first of them to run brings them all up to date)."""
    from headwater.cdc.run import capture_run

    with capture_run(scope.project, scope.lake, scope.store, scope.databases, source) as run:
        report = run.run(once=True)
    snapshots = scope.lake.snapshots(target) if scope.lake.exists(target) else []
    return TaskOutcome(
        rows=report.tables.get(target, 0),
        bytes=0,
        snapshot_id=snapshots[-1].snapshot_id if snapshots else None,
        details={
            "strategy": "cdc",
            "changed": target in report.tables or report.snapshot_rows > 0,
            "position": report.position,
            "changes": report.changes,
            "snapshot_rows": report.snapshot_rows,
        },
    )


def _direct_copy(resource: Resource, settings: Load, current: pa.Schema | None) -> pa.Schema | None:
    """The source's schema when DuckDB's scanner can copy a full load into the table as it
    is; None when the load must stream through the contract instead."""
    if not (
        isinstance(resource, SqlResource)
        and resource.reader == "duckdb"
        and settings.strategy == "full"
        and (resource.entry.partition is None or resource.entry.partition.count == 1)
    ):
        return None
    resource.db.check()
    incoming = probe(resource.db, resource.entry, resource.source.batch_rows)
    return (
        incoming if plan(resource.entry.name, current, incoming, settings.contract).exact else None
    )


def run_model(
    scope: Scope,
    task: Task,
    spec: ModelSpec,
    run_id: str,
    props: Mapping[str, str],
    on_rows: Callable[[int], None] | None,
) -> TaskOutcome:
    """Build one model's table; record what changed in its schema."""
    from headwater.sql.build import build_model

    before = _schema_or_none(scope.lake, spec.name)
    result = build_model(
        scope.lake, scope.root, spec.model, props, on_rows, _auditor(scope, spec.name, run_id)
    )
    _record_schema(scope, run_id, task.id, spec.name, before)
    return TaskOutcome(rows=result.rows, bytes=result.bytes, snapshot_id=result.snapshot_id)


def _auditor(scope: Scope, table: str, run_id: str) -> Audit | None:
    return auditor_for(scope.project, scope.lake, scope.store, scope.audited, table, run_id)


def _schema_or_none(lake: Lake, table: str) -> pa.Schema | None:
    current = lake.current_metadata(table)
    return current.arrow_schema() if current is not None else None


def _record_schema(
    scope: Scope,
    run_id: str,
    task_id: str,
    table: str,
    before: pa.Schema | None,
    unsent: tuple[str, ...] | None = None,
) -> None:
    """Record how the table's schema changed, and, for a load (``unsent`` not None), the
    columns its source stopped sending or sends again."""
    after = _schema_or_none(scope.lake, table)
    if after is not None:
        changes = schema_changes(before, after)
        if unsent is not None:
            changes += source_changes(after, unsent, _last_kinds(scope, table, changes))
        scope.store.add_schema_changes(
            run_id,
            task_id,
            table,
            [(c.kind, c.column or None, c.old_type, c.new_type) for c in changes],
        )


def _last_kinds(scope: Scope, table: str, changes: list[SchemaChange]) -> dict[str, str]:
    """The kind of the last recorded change of each column of ``table`` since it was created
    (``changes``, about to be recorded, included)."""
    last: dict[str, str] = {}
    for kind, column in [(r.kind, r.column) for r in scope.store.schema_changes(table)] + [
        (c.kind, c.column) for c in changes
    ]:
        if kind == "created":
            last = {}
        elif column:
            last[column] = kind
    return last
