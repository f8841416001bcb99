"""One HTTP API: requests with its auth, limits and retries; thread-safe, shared by endpoints.

Built on httpx's sync client (its connection pool is shared by threads); concurrency comes
from the caller's threads, bounded by the connection's ``concurrency`` slots.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from headwater.connect.http.auth import Authenticator, authenticator
from headwater.connect.http.backoff import RETRYABLE_STATUS, backoff, retry_after
from headwater.connect.http.limits import Limits, limits_for
from headwater.connect.http.responses import describe, excerpt
from headwater.errors import SourceError, SourceUnreachable
from headwater.project.http import HttpConnection

Params = dict[str, Any]

HINTS = {
    400: "check the endpoint's `params`",
    403: "the credentials lack permission for this endpoint",
    404: "check `path` (and `base_url`)",
}


class HttpClient:
    """Send requests to one API; every request waits for the API's limits and is retried."""

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
        """Send one request until it succeeds, is refused for good, or runs out of attempts."""
        url = httpx.URL(self.url(path))
        # what error messages show: the user's parameters, never credentials added by auth
        shown = str(url.copy_merge_params(params) if params else url)
        policy = self.connection.retries
        attempt = renewals = 0
        last = ""
        while True:
            attempt += 1
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
            except httpx.TimeoutException:
                last = f"timed out after {self.connection.timeout:g} s"
                wait = backoff(policy, attempt)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                wait = backoff(policy, attempt)
            else:
                status = response.status_code
                if status < 300:
                    return response
                if status == 401 and authenticate:
                    # a renewal is not a retry of a failure: it has its own budget
                    if renewals < policy.attempts and self.auth.refresh(used):
                        renewals += 1
                        attempt -= 1
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
                last = f"{status} {response.reason_phrase}"
                asked = retry_after(response.headers.get("retry-after"))
                wait = asked if asked is not None else backoff(policy, attempt)
                if status == 429:
                    last += f" (Retry-After: {response.headers.get('retry-after', 'none')})"
                    self.limits.pause(min(wait, policy.max_backoff))
            if attempt >= policy.attempts:
                raise SourceUnreachable(
                    f"{method} {shown} failed after {attempt} attempts; the last: {last}",
                    dialect="http",
                    address=url.netloc.decode(),
                    hint="the API is down or limiting us: try later, or raise `retries.attempts`"
                    " or lower `rate_limit` of the connection",
                )
            time.sleep(min(wait, policy.max_backoff))
