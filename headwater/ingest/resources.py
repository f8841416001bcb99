"""Build the resource that reads one table of a source, by the source's kind."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
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
    """The resource for ``table`` of ``source``; SQL sources are built by the workspace."""
    kind = getattr(source, "type", "sql")
    module, function = BUILDERS[kind].split(":")
    builder: Builder = getattr(importlib.import_module(module), function)
    return builder(project, source, table, connection)
