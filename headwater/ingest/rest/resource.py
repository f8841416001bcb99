"""One endpoint of a REST source as a resource: pages spooled to disk, then typed Arrow.

``read()`` fetches every page before it returns (pages are spooled to JSON Lines as they
arrive, so memory holds a few pages at a time), then DuckDB types the records over all of
them. HTTP errors therefore surface in ``read()``, before the loader writes anything.

* **cursor** — the loader keeps the watermark (the maximum of the table's ``load.cursor``
  column) and hands it back as ``context.cursor_start``; when the table sets
  ``incremental_param`` it is sent as that request parameter, and the extraction is then
  not ``complete``. The resource keeps no state of its own (``state()`` is ``{}``).
* **landing** — raw bodies go to the source's ``landing`` folder (relative to the project)
  when it sets one, else to ``context.landing`` when the loader passes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.connect.http import HttpClient
from headwater.errors import SourceError
from headwater.ingest.extraction import Extraction, ReadContext, Resource
from headwater.ingest.records import RecordSpool
from headwater.ingest.rest import hook
from headwater.ingest.rest.endpoint import Records
from headwater.ingest.rest.landing import Landing
from headwater.ingest.rest.parents import table_pages
from headwater.project.http import HttpConnection, RestSource, RestTable

if TYPE_CHECKING:
    from collections.abc import Iterator

    from headwater.project import Project


@dataclass(frozen=True)
class RestResource:
    """The records of one endpoint (or ``python:`` function) of a REST source."""

    source: RestSource
    table: RestTable
    connection: HttpConnection
    root: Path  # the project folder: `landing` and `python` modules are relative to it

    @property
    def name(self) -> str:
        return self.table.name

    def landing_folder(self, context: ReadContext) -> Path | None:
        if self.source.landing is not None:
            folder = Path(self.source.landing).expanduser()
            return folder if folder.is_absolute() else self.root / folder
        return context.landing

    def read(self, context: ReadContext) -> Extraction:
        params: dict[str, Any] = dict(self.table.params)
        filtered = self.table.incremental_param is not None and context.cursor_start is not None
        if filtered:
            params[str(self.table.incremental_param)] = as_param(context.cursor_start)
        folder = self.landing_folder(context)
        landing = Landing(folder, self.table.name) if folder is not None else None
        spool = RecordSpool(prefix=self.table.name)
        try:
            with HttpClient(self.connection) as client:
                for page in self._pages(client, params, landing, context):
                    spool.add_many(page)
                    if context.progress is not None:
                        context.progress(len(page))
        except BaseException:
            spool.discard()
            raise
        return Extraction(
            readers=[spool.reader(flatten=self.table.flatten)],
            complete=not filtered,
            counted=context.progress is not None,
        )

    def _pages(
        self,
        client: HttpClient,
        params: dict[str, Any],
        landing: Landing | None,
        context: ReadContext,
    ) -> Iterator[Records]:
        if self.table.python is None:
            return table_pages(client, self.source, self.table, params, landing)
        function = hook.load(self.table.python, self.root)
        return hook.run(function, hook.Api(client, landing), context, self.table.python)


def as_param(value: Any) -> str:
    """A cursor value as a query parameter: ISO 8601 for dates and times (UTC as ``Z``)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def build(project: Project, source: Any, table: Any, connection: Any) -> Resource:
    """The resource for ``table`` of the REST ``source`` (see :mod:`headwater.ingest.resources`)."""
    if not isinstance(source, RestSource) or not isinstance(table, RestTable):
        raise SourceError(f"table `{getattr(table, 'name', table)}` is not a REST table")
    if not isinstance(connection, HttpConnection):
        raise SourceError(
            f"source connection `{source.connection}` is not an HTTP connection",
            hint="give the source a connection of `type: http`",
        )
    return RestResource(source, table, connection, project.root)
