"""Conditions that sensors wait for and triggers watch: files under a prefix, a table's new
snapshot, new rows in a source table, or a Python predicate.

A sensor task asks "does it hold now?"; a pipeline trigger asks "has it changed since I last
fired?", so it keeps what it saw (file versions, snapshot id, cursor) in the metadata store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from headwater.errors import ProjectError, SourceError

if TYPE_CHECKING:
    from headwater.workspace import Workspace


def observe(ws: Workspace, condition: Mapping[str, Any]) -> Any:
    """What the condition looks at now, as a JSON value (None when there is nothing yet)."""
    if "file" in condition:
        return _files(ws, condition)
    if "table_updated" in condition:
        name = condition["table_updated"]
        if not ws.lake.exists(name):
            return None
        snapshot = ws.lake.table(name).current_snapshot()
        return snapshot.snapshot_id if snapshot else None
    if "new_rows" in condition:
        return _source_maximum(ws, condition["new_rows"])
    from headwater.orchestrate.code import load_callable

    return load_callable(condition["python"], ws.project.root)()


def holds(ws: Workspace, condition: Mapping[str, Any], since: Any = None) -> Any:
    """For a sensor: what is seen, if it satisfies the condition (and differs from ``since``)."""
    seen = observe(ws, condition)
    if "file" in condition:
        files = seen or {}
        fresh = {k: v for k, v in files.items() if not since or since.get(k) != v}
        return sorted(fresh) if len(fresh) >= condition.get("min_files", 1) else None
    if "new_rows" in condition:
        spec = condition["new_rows"]
        return seen if seen is not None and _beyond(ws, spec, seen) else None
    if since is not None and seen == since:
        return None
    return seen


def _files(ws: Workspace, condition: Mapping[str, Any]) -> dict[str, str]:
    from headwater.connect.storage import open_storage

    connection = condition.get("connection")
    if connection:
        spec = ws.project.config.connections.get(connection)
        url = getattr(spec, "url", None)
        if url is None:
            raise ProjectError(f"sensor: connection `{connection}` is not a files connection")
        storage = open_storage(url, ws.project.root)
    else:
        storage = open_storage(str(ws.project.root), ws.project.root)
    try:
        return {f.path: f.version for f in storage.list(condition["file"])}
    except SourceError:
        return {}  # the folder is not there yet: nothing has arrived


def _source_maximum(ws: Workspace, spec: Mapping[str, Any]) -> Any:
    from headwater.ingest.sql_source import SqlResource

    source = ws.project.config.sources.get(spec["source"])
    if source is None:
        raise ProjectError(f"new_rows: no source `{spec['source']}`")
    entry = next((t for t in source.tables if t.name == spec["table"]), None)
    if entry is None:
        raise ProjectError(f"new_rows: source `{spec['source']}` has no table `{spec['table']}`")
    cursor = source.load_for(entry).cursor
    resource = ws.resource(spec["source"], spec["table"])
    if not cursor or not isinstance(resource, SqlResource):
        raise ProjectError(
            f"new_rows: table `{spec['table']}` of source `{spec['source']}` needs a SQL source "
            "with `load.cursor`",
            hint="watch files with `file:` or a table with `table_updated:` instead",
        )
    value = resource.max_cursor(cursor)
    return None if value is None else value if isinstance(value, int | float) else str(value)


def _beyond(ws: Workspace, spec: Mapping[str, Any], maximum: Any) -> bool:
    """The source's maximum is past the cursor the table's last load committed."""
    from headwater.ingest.state import committed_state

    source = ws.project.config.sources[spec["source"]]
    committed = committed_state(ws.lake, f"{source.namespace}.{spec['table']}").cursor
    if committed is None:
        return True
    if isinstance(maximum, str):
        return maximum > str(committed)
    return bool(maximum > committed)
