"""Kinesis's JSON protocol at the server's root: ``POST /`` with ``X-Amz-Target:
Kinesis_20131202.<Operation>``, as boto3 sends it; headwater/streams/kinesis_api.py answers.

The protocol names the operation in a header, not in the path, so its requests are taken
before routing (a route cannot be chosen by a header) and answered in Kinesis's error shape
(``__type``), which boto3 raises as ``client.exceptions.<type>``. Every other request goes on
to the app unchanged.

Authentication: boto3 signs each request with SigV4. When ``serve.tokens`` is set, the access
key id in the signature's credential must be one of the tokens (a client uses its token as
``aws_access_key_id``, and any secret). The signature itself is not verified: the server
does not know the client's secret, and the token alone is what a bearer token proves on the
other routes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import uuid
from pathlib import Path

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.streams.kinesis_api import (
    CONTENT_TYPE,
    TARGET_PREFIX,
    IteratorCodec,
    KinesisApi,
    KinesisFault,
)
from headwater.web.auth import is_token
from headwater.workspace import Workspace

log = logging.getLogger("headwater.web")

MAX_BODY = 16 << 20  # a PutRecords of 5 MiB of data is about 7 MiB of JSON
KEY_FILE = "kinesis-iterators.key"
KEY_BYTES = 32
# the access key id and region of "Credential=AKID/20260101/us-east-1/kinesis/aws4_request"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/")


def iterator_key(state_dir: Path) -> bytes:
    """The key shard iterators are signed with, kept in the project's private folder so
    iterators stay valid across restarts and between server processes of one project."""
    path = state_dir / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        key = path.read_bytes()
        if len(key) == KEY_BYTES:
            return key
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{KEY_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secrets.token_bytes(KEY_BYTES))
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails when another server wrote it first: theirs is kept
    except FileExistsError:
        if len(path.read_bytes()) != KEY_BYTES:  # cut short by a crash: replace it
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def kinesis_api(workspace: Workspace) -> KinesisApi:
    """The Kinesis API over the workspace's streams."""
    return KinesisApi(workspace.streams, IteratorCodec(iterator_key(workspace.project.state_dir)))


class KinesisEndpoint:
    """ASGI middleware: Kinesis requests to the API, everything else to ``app``."""

    def __init__(self, app: ASGIApp, api: KinesisApi, tokens: tuple[bytes, ...]) -> None:
        self.app = app
        self.api = api
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        target = headers.get(b"x-amz-target", b"").decode("latin-1")
        if not target.startswith(TARGET_PREFIX):
            await self.app(scope, receive, send)
            return
        operation = target[len(TARGET_PREFIX) :]
        try:
            region = self._authenticate(headers.get(b"authorization", b"").decode("latin-1"))
            body = await _body(receive)
            answer = await anyio.to_thread.run_sync(self.api.handle, operation, body, region)
            status, payload = 200, json.dumps(answer, separators=(",", ":")).encode()
        except KinesisFault as fault:
            status, payload = fault.status, json.dumps(fault.body()).encode()
        except Exception as exc:
            log.error("Kinesis %s failed: %s", operation, type(exc).__name__, exc_info=True)
            failure = KinesisFault("InternalFailureException", f"{type(exc).__name__}: {exc}", 500)
            status, payload = failure.status, json.dumps(failure.body()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _authenticate(self, authorization: str) -> str:
        """The region the request was signed for, once its access key id is a token."""
        match = _CREDENTIAL.search(authorization)
        if self.tokens:
            if match is None:
                raise KinesisFault(
                    "MissingAuthenticationTokenException",
                    "this server asks for a signed request: give boto3 one of the tokens of "
                    "`serve.tokens` in headwater.yaml as aws_access_key_id",
                    403,
                )
            if not is_token(match.group(1).encode(), self.tokens):
                raise KinesisFault(
                    "UnrecognizedClientException",
                    "the access key id is not one of this server's tokens: give boto3 one of "
                    "the tokens of `serve.tokens` in headwater.yaml as aws_access_key_id",
                )
        return match.group(2) if match else "us-east-1"


async def _body(receive: Receive) -> dict[str, object]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise KinesisFault("SerializationException", "the client went away mid-request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise KinesisFault(
                "ValidationException",
                f"the request is over {MAX_BODY >> 20} MiB; split it into smaller ones",
                413,
            )
        chunks.append(chunk)
        more = message.get("more_body", False)
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except ValueError as exc:
        raise KinesisFault("SerializationException", f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise KinesisFault("SerializationException", "the body must be a JSON object")
    return body
