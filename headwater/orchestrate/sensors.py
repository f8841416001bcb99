"""Conditions that sensors wait for and triggers watch: files under a prefix, a table's new
snapshot, new rows in a source table, or a Python predicate.

A sensor task asks "does it hold now?"; a pipeline trigger asks "has it changed since I last
fired?", so it keeps what it saw (file versions, snapshot id, cursor) in the metadata store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.errors import ProjectError, SourceError

if TYPE_CHECKING:
    from headwater.orchestrate.scope import Scope


def observe(scope: Scope, condition: Mapping[str, Any]) -> Any:
    """What the condition looks at now, as a JSON value (None when there is nothing yet)."""
    if "file" in condition:
        return _files(scope, condition)
    if "table_updated" in condition:
        name = condition["table_updated"]
        current = scope.lake.current_metadata(name)
        snapshot = current.current_snapshot if current is not None else None
        return int(snapshot["snapshot-id"]) if snapshot else None
    if "new_rows" in condition:
        return _source_maximum(scope, condition["new_rows"])
    from headwater.orchestrate.code import load_callable

    return load_callable(condition["python"], scope.project.root)()


def news(scope: Scope, condition: Mapping[str, Any], seen: Any, last: Any = None) -> Any:
    """What of ``seen`` is new since ``last`` was seen (falsy: nothing): the files added or
    changed, a new snapshot id, a source maximum past what the table holds."""
    if seen is None or seen == {}:
        return None
    if "file" in condition:
        fresh = sorted(k for k, v in seen.items() if not last or last.get(k) != v)
        return fresh if len(fresh) >= condition.get("min_files", 1) else None
    if "new_rows" in condition and not _beyond(scope, condition["new_rows"], seen):
        return None
    return None if seen == last else seen


def holds(scope: Scope, condition: Mapping[str, Any], since: datetime | None) -> Any:
    """For a sensor task: what it waited for, once there (a snapshot must be committed at or
    after ``since``, the start of the run's data interval)."""
    if "table_updated" in condition:
        return _snapshot_since(scope, condition["table_updated"], since)
    return news(scope, condition, observe(scope, condition))


def _snapshot_since(scope: Scope, table: str, since: datetime | None) -> int | None:
    if not scope.lake.exists(table):
        return None
    fresh = [s for s in scope.lake.snapshots(table) if since is None or s.committed_at >= since]
    return fresh[-1].snapshot_id if fresh else None


def _files(scope: Scope, condition: Mapping[str, Any]) -> dict[str, str]:
    from headwater.connect.storage import open_storage

    connection = condition.get("connection")
    if connection:
        spec = scope.project.config.connections.get(connection)
        url = getattr(spec, "url", None)
        if url is None:
            raise ProjectError(f"sensor: connection `{connection}` is not a files connection")
        storage = open_storage(url, scope.project.root)
    else:
        storage = open_storage(str(scope.project.root), scope.project.root)
    try:
        return {f.path: f.version for f in storage.list(condition["file"])}
    except SourceError:
        return {}  # the folder is not there yet: nothing has arrived


def _source_maximum(scope: Scope, spec: Mapping[str, Any]) -> Any:
    from headwater.ingest.resources import resource_for
    from headwater.ingest.sql_source import SqlResource

    source = scope.project.config.sources.get(spec["source"])
    if source is None:
        raise ProjectError(f"new_rows: no source `{spec['source']}`")
    entry = next((t for t in source.tables if t.name == spec["table"]), None)
    if entry is None:
        raise ProjectError(f"new_rows: source `{spec['source']}` has no table `{spec['table']}`")
    cursor = source.load_for(entry).cursor
    resource = resource_for(scope.project, scope.databases, spec["source"], spec["table"])
    if not cursor or not isinstance(resource, SqlResource):
        raise ProjectError(
            f"new_rows: table `{spec['table']}` of source `{spec['source']}` needs a SQL source "
            "with `load.cursor`",
            hint="watch files with `file:` or a table with `table_updated:` instead",
        )
    value = resource.max_cursor(cursor)
    return None if value is None else value if isinstance(value, int | float) else str(value)


def _beyond(scope: Scope, spec: Mapping[str, Any], maximum: Any) -> bool:
    """The source's maximum is past the cursor the table's last load committed."""
    from headwater.ingest.state import committed_state

    source = scope.project.config.sources[spec["source"]]
    committed = committed_state(scope.lake, f"{source.namespace}.{spec['table']}").cursor
    if committed is None:
        return True
    if isinstance(maximum, str):
        return maximum > str(committed)
    return bool(maximum > committed)
