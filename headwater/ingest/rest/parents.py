"""Parent → child endpoints: for each record of one table, page through another endpoint.

The child re-reads its parent endpoint in the same run (in full, without the parent's
incremental parameter) so that it needs nothing from the lake; the children of different
parent records are fetched concurrently, up to the connection's ``concurrency``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar
from urllib.parse import quote

from headwater.connect.http import HttpClient
from headwater.errors import SourceError
from headwater.ingest.rest import select
from headwater.ingest.rest.endpoint import Endpoint, Records, pages
from headwater.ingest.rest.landing import Landing
from headwater.project.http import PLACEHOLDER, RestSource, RestTable

T = TypeVar("T")
R = TypeVar("R")


def table_pages(
    client: HttpClient,
    source: RestSource,
    table: RestTable,
    params: dict[str, Any],
    landing: Landing | None = None,
) -> Iterator[Records]:
    """Every page of ``table``; for a child, its pages for every parent record."""
    assert table.path is not None
    if table.parent is None:
        yield from pages(
            client,
            Endpoint(table.path, params, table.records, table.paginate, table.max_pages),
            landing,
        )
        return
    link = table.parent
    parent = source.table(link.table)

    def children(value: Any) -> list[Records]:
        path = PLACEHOLDER.sub(lambda m: quote(str(value), safe=""), table.path or "")
        endpoint = Endpoint(path, params, table.records, table.paginate, table.max_pages)
        # the parent's value first: it is part of the child's key
        return [
            [{link.as_: value, **record} for record in page]
            for page in pages(client, endpoint, landing)
        ]

    values = parent_values(client, source, parent, link.field)
    for child_pages in fan_out(values, children, client.connection.concurrency):
        yield from child_pages


def parent_values(
    client: HttpClient, source: RestSource, parent: RestTable, field: str
) -> Iterator[Any]:
    """Distinct non-null values of ``field`` over the parent's records, in order of arrival."""
    seen: set[str] = set()
    for page in table_pages(client, source, parent, dict(parent.params)):
        for record in page:
            value = select.find(record, field)
            if value is select.MISSING:
                raise SourceError(
                    f"parent field `{field}` is not in a record of `{parent.name}`; "
                    f"the record has keys {', '.join(record)}",
                    hint="fix `parent.field` of the child table",
                )
            key = json.dumps(value, sort_keys=True, default=str)
            # a null has no children to fetch; a repeated value would fetch them twice
            if value is not None and key not in seen:
                seen.add(key)
                yield value


def fan_out(items: Iterable[T], work: Callable[[T], R], workers: int) -> Iterator[R]:
    """``work(item)`` for each item on ``workers`` threads, results as they finish.

    At most twice ``workers`` items are in progress or waiting to be consumed, so memory
    stays bounded however many items there are; the first failure stops the rest.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="headwater-rest") as pool:
        pending: set[Future[R]] = set()
        try:
            for item in items:
                pending.add(pool.submit(work, item))
                if len(pending) >= 2 * workers:
                    done, rest = wait(pending, return_when=FIRST_COMPLETED)
                    pending = set(rest)
                    for future in done:
                        yield future.result()
            while pending:
                done, rest = wait(pending, return_when=FIRST_COMPLETED)
                pending = set(rest)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()
