"""Page through one endpoint: request, keep the raw body, decode, select records, next page."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from headwater.connect.http import HttpClient, json_body
from headwater.errors import SourceError
from headwater.ingest.rest import select
from headwater.ingest.rest.landing import Landing
from headwater.ingest.rest.paginate import first, following
from headwater.project.http import NoPagination, Paginate

Records = list[dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    """What to request and how to read its pages."""

    path: str
    params: dict[str, Any] = field(default_factory=dict)
    records: str | None = None
    paginate: Paginate = field(default_factory=NoPagination)
    max_pages: int = 10_000


def pages(
    client: HttpClient, endpoint: Endpoint, landing: Landing | None = None
) -> Iterator[Records]:
    """The records of each page of ``endpoint``, in order, one page in memory at a time.

    A pagination that does not end is an error, not an endless read: a request already sent
    (a cursor that comes back), a page whose body is the one before it (an API that ignores
    the offset), or more than ``max_pages`` pages."""
    request = first(endpoint.paginate, client.url(endpoint.path), endpoint.params)
    seen = {request.shown()}
    previous: bytes | None = None
    for number in itertools.count(1):
        response = client.get(request.url, request.params)
        if landing is not None:
            # kept before decoding, so a body that fails to decode can be looked at
            landing.keep(response.content)
        body = json_body(response, request.shown())
        found = select.records(body, endpoint.records, f"GET {request.shown()}")
        repeated = bool(found) and response.content == previous
        previous = response.content
        yield found
        nxt = following(endpoint.paginate, request, response, body, found)
        if repeated:  # (a request sent twice is said first, by `following`)
            raise SourceError(
                f"pagination loops: GET {request.shown()} answered the same page as the "
                "request before it",
                hint="the API may ignore the paging parameter: check the table's `paginate` "
                f"({endpoint.paginate.type}) against the API's documentation",
            )
        if nxt is None:
            return
        if nxt.shown() in seen:
            raise SourceError(
                f"pagination loops: the page after GET {request.shown()} is "
                f"{nxt.shown()}, which was already read",
                hint=f"check the table's `paginate` ({endpoint.paginate.type}) against the "
                "API's responses",
            )
        if number >= endpoint.max_pages:
            raise SourceError(
                f"GET {client.url(endpoint.path)}: more than {endpoint.max_pages:,} pages; its "
                "pagination may not end",
                hint="raise the table's `max_pages` if the API really has that many pages",
            )
        seen.add(nxt.shown())
        request = nxt
