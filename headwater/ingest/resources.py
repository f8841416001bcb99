"""Build the resource that reads one table of a source, by the source's kind."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from headwater.connect.sql.databases import Databases
    from headwater.ingest.extraction import Resource
    from headwater.project import Project
    from headwater.project.base import SourceBase, TableBase


class Builder(Protocol):
    def __call__(
        self, project: Project, source: SourceBase, table: TableBase, connection: Any
    ) -> Resource: ...


# type of the source → "module:function"; imported only when a source of that kind is read.
BUILDERS = {
    "http": "headwater.ingest.rest.resource:build",
    "files": "headwater.ingest.files.resource:build",
    "redis": "headwater.ingest.redis_source:build",
}


def build_resource(
    project: Project, source: SourceBase, table: TableBase, connection: Any
) -> Resource:
    """The resource for ``table`` of a source that is not SQL (see :func:`resource_for`)."""
    kind = getattr(source, "type", "sql")
    module, function = BUILDERS[kind].split(":")
    builder: Builder = getattr(importlib.import_module(module), function)
    return builder(project, source, table, connection)


def resource_for(project: Project, databases: Databases, source_name: str, table: str) -> Resource:
    """The resource that reads ``table`` of source ``source_name`` of ``project``."""
    from headwater.ingest.sql_source import SqlResource
    from headwater.project.config import SourceTable, SqlSource

    source = project.config.sources[source_name]
    entry = next(t for t in source.tables if t.name == table)
    if isinstance(source, SqlSource):
        assert isinstance(entry, SourceTable)
        return SqlResource(databases.get(source.connection), source, entry)
    connection = project.config.connections[source.connection]
    return build_resource(project, source, entry, connection)
