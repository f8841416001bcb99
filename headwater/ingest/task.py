"""One ingest task: load a source table by its strategy and record its schema changes.

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
from headwater.ingest.sql_source import SqlResource
from headwater.ingest.sql_table import ingest_table, probe
from headwater.orchestrate.task import IngestSpec, Task, TaskOutcome
from headwater.project.config import Load

if TYPE_CHECKING:
    from headwater.workspace import Workspace


def run_ingest(
    ws: Workspace,
    task: Task,
    spec: IngestSpec,
    run_id: str,
    props: Mapping[str, str],
    on_rows: Callable[[int], None] | None,
    full_refresh: bool,
) -> TaskOutcome:
    """Load one source table by its strategy; record what changed in its schema."""
    source = ws.project.config.sources[spec.source]
    entry = next(t for t in source.tables if t.name == spec.table)
    settings = source.load_for(entry)
    target = f"{source.namespace}.{entry.name}"
    before = ws.schema_or_none(target)
    resource = ws.resource(spec.source, entry.name)
    audit = ws.auditor(target, run_id)
    incoming = _direct_copy(resource, settings, before)
    if incoming is not None:
        # the fast path: DuckDB reads the source and writes the files itself, on all cores
        assert isinstance(resource, SqlResource)
        written = ingest_table(
            ws.lake,
            resource.db,
            resource.source,
            resource.entry,
            props,
            on_rows,
            audit,
            incoming,
        )
        ws.record_schema(run_id, task.id, target, before)
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
        ws.lake,
        target,
        resource,
        settings,
        run_id=run_id,
        properties=props,
        on_rows=on_rows,
        full_refresh=full_refresh,
        landing=ws.project.path(landing) if landing else None,
        batch_rows=getattr(source, "batch_rows", 100_000),
        audit=audit,
    )
    ws.record_schema(run_id, task.id, target, before)
    details = {
        "strategy": result.strategy,
        "changed": result.changed,
        "inserted": result.inserted,
        "deleted": result.deleted,
        "rejected": result.rejected,
        "cursor": None if result.cursor is None else str(result.cursor),
    }
    return TaskOutcome(
        rows=result.rows, bytes=result.bytes, snapshot_id=result.snapshot_id, details=details
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
