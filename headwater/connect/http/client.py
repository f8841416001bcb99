"""One HTTP API: requests with its auth and limits; thread-safe, shared by endpoints.

Built on httpx's sync client (its connection pool is shared by threads); concurrency comes
from the caller's threads, bounded by the connection's ``concurrency`` slots.

A request is sent once. A timeout, a dropped connection or an answer of 408/425/429/5xx
raises :class:`SourceUnreachable` (retryable, with the server's ``Retry-After`` as
``retry_after``), and the task that made the request runs again under the one retry policy
(:mod:`headwater.retry`; the connection's ``retries`` set its attempts and backoff). An
expired token renewed on a 401 is not a retry: it has its own budget here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from headwater.connect.http.auth import Authenticator, authenticator
from headwater.connect.http.limits import Limits, limits_for
from headwater.connect.http.responses import describe, excerpt, retry_after
from headwater.errors import SourceError, SourceUnreachable
from headwater.project.http import HttpConnection
from headwater.retry import RETRYABLE_STATUS, retryable

Params = dict[str, Any]

HINTS = {
    400: "check the endpoint's `params`",
    403: "the credentials lack permission for this endpoint",
    404: "check `path` (and `base_url`)",
}


# what an API that fails for now should make its user consider
BUSY_HINT = (
    "the API is down or limiting us: the task runs again while it has attempts left; try later, "
    "or raise `retries.attempts` or lower `rate_limit` of the connection"
)


class HttpClient:
    """Send requests to one API; every request waits for the API's limits first."""

    def __init__(self, connection: HttpConnection, transport: httpx.BaseTransport | None = None):
        self.connection = connection
        self.base_url = connection.base_url.rstrip("/") + "/"
        pool = httpx.Limits(
            max_connections=connection.concurrency,
            max_keepalive_connections=connection.concurrency,
        )
        self._http = httpx.Client(
            headers={"Accept": "application/json", **connection.headers},
            timeout=connection.timeout,
            limits=pool,
            follow_redirects=True,
            transport=transport,
        )
        self.limits: Limits = limits_for(
            connection.base_url, connection.rate_limit, connection.concurrency
        )
        token_url = self.url(getattr(connection.auth, "token_url", ""))
        self.auth: Authenticator = authenticator(connection.auth, token_url, self._post_form)

    def url(self, path: str) -> str:
        """``path`` as an absolute URL: kept when absolute, else appended to ``base_url``."""
        if urlsplit(path).scheme:
            return path
        return self.base_url + path.lstrip("/")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, path: str, params: Params | None = None) -> httpx.Response:
        """GET ``path`` with the API's credentials; the body is read."""
        return self.send("GET", path, params=params)

    def _post_form(self, url: str, form: dict[str, str], headers: dict[str, str]) -> httpx.Response:
        # the token endpoint answers 400/401 for bad client credentials: not the API's 401
        return self.send("POST", url, data=form, headers=headers, authenticate=False)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authenticate: bool = True,
    ) -> httpx.Response:
        """Send one request; an answer that is not a success raises (see the module)."""
        url = httpx.URL(self.url(path))
        # what error messages show: the user's parameters, never credentials added by auth
        shown = str(url.copy_merge_params(params) if params else url)
        address = url.netloc.decode()
        renewals = 0
        while True:
            sent_headers = dict(headers or {})
            sent_params = dict(params or {})
            try:
                # an unauthenticated request is a token refresh, made while a slot is held
                with self.limits.slot(bounded=authenticate):
                    # credentials are taken after the wait, so a token checked is a token sent
                    used = self.auth.apply(sent_headers, sent_params) if authenticate else None
                    # merged, not replaced: httpx's `params=` drops the query a URL has
                    response = self._http.request(
                        method,
                        url.copy_merge_params(sent_params) if sent_params else url,
                        data=data,
                        headers=sent_headers,
                    )
            except httpx.TimeoutException as exc:
                raise SourceUnreachable(
                    f"{method} {shown} timed out after {self.connection.timeout:g} s",
                    dialect="http",
                    address=address,
                    hint=BUSY_HINT + ", or raise its `timeout`",
                ) from exc
            except httpx.TransportError as exc:
                what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if not retryable(exc):  # a URL httpx cannot send (ftp://, a bad header…)
                    raise SourceError(
                        f"{method} {shown} cannot be sent: {what}",
                        hint="check `base_url`, `path` and `headers` of the connection",
                    ) from exc
                refused = isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower()
                raise SourceUnreachable(
                    f"{method} {shown} failed: {what}",
                    dialect="http",
                    address=address,
                    hint=(
                        f"the API is down: nothing listens at {address}; is it running? check "
                        "`base_url` of the connection"
                        if refused
                        else BUSY_HINT
                    ),
                ) from exc
            status = response.status_code
            if status < 300:
                return response
            if status == 401 and authenticate:
                # a renewal is not a retry of a failure: it has its own budget
                if renewals < self.connection.retries.attempts and self.auth.refresh(used):
                    renewals += 1
                    continue
                raise SourceError(
                    f"{describe(response, shown)}: the credentials were rejected"
                    + (f" {renewals} times after renewing them" if renewals else "")
                    + f": {excerpt(response)}",
                    hint="check the connection's `auth` (token, key, or client id/secret)",
                )
            if status not in RETRYABLE_STATUS:
                raise SourceError(
                    f"{describe(response, shown)}: {excerpt(response)}",
                    hint=HINTS.get(status, "check the endpoint's path, params and auth"),
                )
            asked = retry_after(response.headers.get("retry-after"))
            if status == 429 and asked is not None:
                # the server counts this client, not this call: every request of the API
                # waits (rate limiting, which spaces requests; the task's retry waits too)
                self.limits.pause(asked)
            raise SourceUnreachable(
                f"{describe(response, shown)}"
                + (
                    f" (Retry-After: {response.headers['retry-after']})"
                    if asked is not None
                    else ""
                )
                + f": {excerpt(response)}",
                dialect="http",
                address=address,
                hint=BUSY_HINT,
                retry_after=asked,
            )
