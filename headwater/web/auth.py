"""Bearer-token authentication: every route asks for one of ``serve.tokens`` when any is set.

Tokens are compared in constant time; a missing or wrong one gets a 401 with
``WWW-Authenticate: Bearer``, as the Iceberg REST spec and HTTP expect.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from headwater.web.errors import ApiError

bearer = HTTPBearer(
    auto_error=False,
    description="One of the tokens of `serve.tokens` in headwater.yaml (when any is set).",
)


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Let the request through when no token is configured or it carries a configured one."""
    tokens: tuple[bytes, ...] = request.app.state.tokens
    if not tokens:
        return
    if credentials is None:
        raise _unauthorized("this server asks for a bearer token")
    if not is_token(credentials.credentials.encode(), tokens):
        raise _unauthorized("the bearer token is not one of this server's tokens")


def is_token(given: bytes, tokens: tuple[bytes, ...]) -> bool:
    """Whether ``given`` is one of ``tokens`` (also the Kinesis API's access key ids)."""
    # every token is compared, so the time taken says nothing about which one nearly matched
    return sum(hmac.compare_digest(given, token) for token in tokens) > 0


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401,
        "NotAuthorizedException",
        message,
        hint="send `Authorization: Bearer <token>` with a token of `serve.tokens` in headwater.yaml",
        headers={"WWW-Authenticate": "Bearer"},
    )
