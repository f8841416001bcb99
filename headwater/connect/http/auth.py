"""Credentials on each request: static (bearer, API key, basic) or OAuth2 tokens that refresh.

An authenticator writes its credentials into a request's headers or parameters and, after a
401, says whether fresh credentials were obtained (only OAuth2 can). Tokens are shared by all
threads of a client: when several requests fail with the same stale token, one refreshes it
and the others reuse the new one.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from headwater.errors import HeadwaterError, SourceError, SourceUnreachable
from headwater.project.http import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    OAuth2ClientCredentials,
)

# posts a form to the token URL (with the client's retries, without the API's credentials)
TokenPost = Callable[[str, dict[str, str], dict[str, str]], httpx.Response]


class Authenticator(Protocol):
    """Adds credentials to a request, and renews them after a 401 when it can."""

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        """Write the credentials in; return what was sent, to pass to ``refresh``."""
        ...

    def refresh(self, rejected: str | None) -> bool:
        """After a 401 with ``rejected``: True when new credentials are in place."""
        ...


class StaticAuth:
    """Credentials that never change: a 401 is final."""

    def __init__(self, headers: dict[str, str], params: dict[str, str]) -> None:
        self._headers = headers
        self._params = params

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        headers.update(self._headers)
        params.update(self._params)
        return None

    def refresh(self, rejected: str | None) -> bool:
        return False


class OAuth2Auth:
    """Client-credentials tokens, fetched on first use, before expiry and after a 401."""

    def __init__(self, config: OAuth2ClientCredentials, token_url: str, post: TokenPost) -> None:
        self.config = config
        self.token_url = token_url
        self._post = post
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.issued = 0  # tokens obtained, for tests and metrics

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch(renewing=self._token is not None)
            token = self._token
        headers["Authorization"] = f"Bearer {token}"
        return token

    def refresh(self, rejected: str | None) -> bool:
        with self._lock:
            if self._token == rejected:  # else another thread already replaced it
                self._fetch(renewing=True)
        return True

    def _fetch(self, renewing: bool) -> None:
        what = (
            "the OAuth2 access token expired and could not be refreshed"
            if renewing
            else "could not get an OAuth2 access token"
        )
        hint = "check client_id, client_secret, scope and token_url of the connection's auth"
        form = {"grant_type": "client_credentials"}
        if self.config.scope:
            form["scope"] = self.config.scope
        headers = {"Accept": "application/json"}
        secret = self.config.client_secret.get_secret_value()
        if self.config.client_auth == "basic":
            pair = f"{self.config.client_id}:{secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        else:
            form.update(client_id=self.config.client_id, client_secret=secret)
        try:
            response = self._post(self.token_url, form, headers)
        except SourceUnreachable as exc:
            raise SourceUnreachable(
                f"{what}: {exc.message}",
                dialect="http",
                address=exc.address,
                hint=exc.hint,
                retry_after=exc.retry_after,
            ) from exc
        except HeadwaterError as exc:
            raise SourceError(f"{what}: {exc.message}", hint=hint) from exc
        try:
            body = json.loads(response.content)
            token = str(body["access_token"])
            # without expires_in the token lives until the API answers 401
            expires_in = body.get("expires_in")
            lifetime = float(expires_in) if expires_in is not None else float("inf")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SourceError(
                f"{what}: {self.token_url} answered without a usable access_token and "
                f"expires_in: {response.text[:200]!r}",
                hint=hint,
            ) from exc
        if str(body.get("token_type", "bearer")).lower() != "bearer":
            raise SourceError(
                f"{what}: token type `{body.get('token_type')}` from {self.token_url} is not "
                "supported",
                hint="only bearer tokens are supported",
            )
        # renew a little early so a token does not expire between our check and the server's
        self._expires_at = time.monotonic() + lifetime - min(30.0, lifetime / 10)
        self._token = token
        self.issued += 1


def authenticator(auth: Auth | None, token_url: str, post: TokenPost) -> Authenticator:
    """The authenticator for a connection's ``auth`` setting."""
    if auth is None:
        return StaticAuth({}, {})
    if isinstance(auth, BearerAuth):
        return StaticAuth({"Authorization": f"Bearer {auth.token.get_secret_value()}"}, {})
    if isinstance(auth, ApiKeyAuth):
        key = {auth.name: auth.value.get_secret_value()}
        return StaticAuth(key, {}) if auth.location == "header" else StaticAuth({}, key)
    if isinstance(auth, BasicAuth):
        pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
        return StaticAuth({"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}, {})
    return OAuth2Auth(auth, token_url, post)
