"""Read a response: its body as JSON (or say clearly what came back instead, an HTML
page…), and the wait a ``Retry-After`` header asks for."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from headwater.errors import SourceError

SHOWN_CHARS = 200


def excerpt(response: httpx.Response) -> str:
    """The start of the body, as text, for an error message."""
    text = response.content[: SHOWN_CHARS * 4].decode("utf-8", errors="replace")
    return repr(text[:SHOWN_CHARS])


def describe(response: httpx.Response, shown_url: str) -> str:
    """``GET URL answered 200 OK (text/html)`` — what, where and what kind of body."""
    kind = response.headers.get("content-type", "no content-type")
    return (
        f"{response.request.method} {shown_url} answered {response.status_code} "
        f"{response.reason_phrase} ({kind})"
    )


def json_body(response: httpx.Response, shown_url: str) -> Any:
    """The decoded body; a SourceError naming URL, status, content type and the body's start."""
    kind = response.headers.get("content-type", "").lower()
    head = response.content.lstrip()[:1]
    if "html" in kind or head == b"<":
        raise SourceError(
            f"{describe(response, shown_url)}, an HTML page instead of JSON: {excerpt(response)}",
            hint="check base_url and path; an HTML page is often a login, proxy or error page",
        )
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise SourceError(
            f"{describe(response, shown_url)} with a body that is not valid JSON ({exc}): "
            f"{excerpt(response)}",
            hint="check that this endpoint returns JSON; the raw body is kept in the landing "
            "folder when the source sets `landing`",
        ) from exc


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unparseable: the retry policy's own backoff applies
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
