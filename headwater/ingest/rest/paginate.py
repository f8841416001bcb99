"""Pagination styles: from one page's response, the request for the next page (or None).

Each style is a small function of the config, the request just sent, the response, its
decoded body and its records. A style that asks for the same request twice is a loop, and
an error rather than an endless read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from headwater.errors import SourceError
from headwater.ingest.rest import select
from headwater.project.http import (
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PagePagination,
    Paginate,
)


@dataclass(frozen=True)
class PageRequest:
    """One page to fetch: a path or absolute URL and its query parameters."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)

    def shown(self) -> str:
        return str(httpx.URL(self.url).copy_merge_params(self.params)) if self.params else self.url


def first(config: Paginate, url: str, params: dict[str, Any]) -> PageRequest:
    """The request for the first page."""
    params = dict(params)
    if isinstance(config, OffsetPagination):
        params[config.offset_param] = config.start
        params[config.limit_param] = config.limit
    elif isinstance(config, PagePagination):
        params[config.page_param] = config.start
        if config.size is not None and config.size_param:
            params[config.size_param] = config.size
    return PageRequest(url, params)


def following(
    config: Paginate,
    sent: PageRequest,
    response: httpx.Response,
    body: Any,
    records: list[dict[str, Any]],
) -> PageRequest | None:
    """The request for the page after ``sent``, or None when ``sent`` was the last."""
    step: Callable[..., PageRequest | None] = _STYLES[type(config)]
    nxt = step(config, sent, response, body, records)
    if nxt is not None and nxt == sent:
        raise SourceError(
            f"pagination does not advance: the page after {sent.shown()} is the same request",
            hint=f"check the table's `paginate` ({config.type}) against the API's responses",
        )
    return nxt


def _none(*_: Any) -> None:
    return None


def _offset(
    c: OffsetPagination, sent: PageRequest, r: httpx.Response, body: Any, records: list[Any]
) -> PageRequest | None:
    if not records:
        return None
    offset = int(sent.params[c.offset_param]) + len(records)
    if c.total is not None:
        total = select.require(body, c.total, "total", sent.shown())
        if total is None or offset >= int(total):
            return None
    return replace(sent, params={**sent.params, c.offset_param: offset})


def _page(
    c: PagePagination, sent: PageRequest, r: httpx.Response, body: Any, records: list[Any]
) -> PageRequest | None:
    if not records:
        return None
    page = int(sent.params[c.page_param]) + 1
    if c.total_pages is not None:
        pages = select.require(body, c.total_pages, "total_pages", sent.shown())
        if pages is None or page >= c.start + int(pages):
            return None
    return replace(sent, params={**sent.params, c.page_param: page})


def _cursor(
    c: CursorPagination, sent: PageRequest, r: httpx.Response, body: Any, records: list[Any]
) -> PageRequest | None:
    cursor = select.find(body, c.cursor_path)
    # the last page has no cursor: absent, null or empty
    if cursor is select.MISSING or cursor in (None, ""):
        return None
    return replace(sent, params={**sent.params, c.cursor_param: cursor})


def _next_url(
    c: NextUrlPagination, sent: PageRequest, r: httpx.Response, body: Any, records: list[Any]
) -> PageRequest | None:
    url = select.find(body, c.next)
    if url is select.MISSING or not url:
        return None
    # the next URL carries every parameter itself; a relative one is relative to this page
    return PageRequest(str(r.url.join(str(url))))


def _link_header(
    c: LinkHeaderPagination, sent: PageRequest, r: httpx.Response, body: Any, records: list[Any]
) -> PageRequest | None:
    url = r.links.get("next", {}).get("url")
    return PageRequest(str(r.url.join(url))) if url else None


_STYLES: dict[type, Callable[..., PageRequest | None]] = {
    NoPagination: _none,
    OffsetPagination: _offset,
    PagePagination: _page,
    CursorPagination: _cursor,
    NextUrlPagination: _next_url,
    LinkHeaderPagination: _link_header,
}
