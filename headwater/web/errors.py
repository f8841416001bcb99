"""Every error answered as the Iceberg REST spec's ErrorModel: ``{"error": {message, type, code}}``.

One shape for the whole server, so a client handles the query API's errors and the catalog's
alike; a Headwater error adds its ``hint`` (what to do next).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.errors import HeadwaterError, LakeError, QueryError, TableNotFound, TransientError

log = logging.getLogger("headwater.web")


class ErrorModel(BaseModel):
    message: str
    type: str
    code: int
    hint: str | None = None


class ErrorResponse(BaseModel):
    """The body of every non-2xx answer."""

    error: ErrorModel


class ApiError(Exception):
    """An error answered with ``code`` and an ErrorModel of ``kind`` (an Iceberg type name)."""

    def __init__(
        self,
        code: int,
        kind: str,
        message: str,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.kind, self.message, self.hint = code, kind, message, hint
        self.headers = dict(headers or {})


def error_response(
    code: int,
    kind: str,
    message: str,
    hint: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorModel(message=message, type=kind, code=code, hint=hint))
    return JSONResponse(body.model_dump(exclude_none=True), code, headers=dict(headers or {}))


# a Headwater error's HTTP status: the request named something missing or wrong, or the
# server may answer later
_STATUS: tuple[tuple[type[HeadwaterError], int], ...] = (
    (TableNotFound, 404),
    (QueryError, 400),
    (LakeError, 400),
    (TransientError, 503),
)

# responses every route may give, for the OpenAPI document
RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in ((400, "Bad request"), (401, "Missing or wrong bearer token"))
}


def install(app: FastAPI) -> None:
    """Answer every error raised in ``app`` as an ErrorModel."""
    app.add_middleware(_Unexpected)

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.code, exc.kind, exc.message, exc.hint, exc.headers)

    @app.exception_handler(HeadwaterError)
    async def _headwater(_: Request, exc: HeadwaterError) -> JSONResponse:
        code = next((c for kind, c in _STATUS if isinstance(exc, kind)), 500)
        return error_response(code, type(exc).__name__, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return error_response(400, "BadRequestException", f"malformed request: {problems}")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        kind = {404: "NotFoundException", 405: "MethodNotAllowedException"}
        return error_response(
            exc.status_code,
            kind.get(exc.status_code, "HTTPException"),
            str(exc.detail),
            headers=exc.headers,
        )


class _Unexpected:
    """Answer an error no handler knows (a file gone from the lake, a catalog database down)
    as a 500 ErrorModel, and keep the connection: Starlette's own catch-all re-raises it,
    and its server then drops the connection and logs the traceback. The log line names the
    route and the error's type, never its message: that may quote the request (SQL with a
    password in it); ``headwater serve --debug`` logs the traceback too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            debug: Any = log.isEnabledFor(logging.DEBUG)
            log.error(
                "%s %s failed: %s",
                scope["method"],
                scope["path"],
                type(exc).__name__,
                exc_info=debug,
            )
            if started:  # part of the answer is sent: all that is left is to drop it
                raise
            response = error_response(
                500,
                "ServiceFailureException",
                f"{type(exc).__name__}: {exc}",
                "the server's log names the failed request; `headwater serve --debug` logs "
                "its traceback",
            )
            await response(scope, receive, send)
