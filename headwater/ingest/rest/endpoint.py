"""Page through one endpoint: request, keep the raw body, decode, select records, next page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from headwater.connect.http import HttpClient, json_body
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


def pages(
    client: HttpClient, endpoint: Endpoint, landing: Landing | None = None
) -> Iterator[Records]:
    """The records of each page of ``endpoint``, in order, one page in memory at a time."""
    request = first(endpoint.paginate, client.url(endpoint.path), endpoint.params)
    while True:
        response = client.get(request.url, request.params)
        if landing is not None:
            # kept before decoding, so a body that fails to decode can be looked at
            landing.keep(response.content)
        body = json_body(response, request.shown())
        found = select.records(body, endpoint.records, f"GET {request.shown()}")
        yield found
        nxt = following(endpoint.paginate, request, response, body, found)
        if nxt is None:
            return
        request = nxt
