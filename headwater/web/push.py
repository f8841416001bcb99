"""Events pushed over HTTP into a stream: ``POST /v1/streams/{name}/records`` with a JSON
batch or JSON Lines; each record is answered with its shard and sequence number, or why it
was refused (the others are put all the same)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from headwater.errors import StreamError, StreamNotFound, StreamUnavailable
from headwater.streams.putting import put_each
from headwater.streams.records import Entry, Put
from headwater.streams.validate import check_name
from headwater.web.deps import Ws
from headwater.web.errors import RESPONSES, ApiError, ErrorResponse

router = APIRouter(tags=["streams"])

MAX_BODY = 16 << 20
NDJSON = ("application/x-ndjson", "application/jsonl", "application/json-lines")
NO_KEY = "MissingPartitionKey"

Name = Annotated[str, Path(description="a stream of the project", examples=["clicks"])]


class PushRecord(BaseModel):
    data: Any = Field(description="the event: any JSON value, stored as compact JSON")
    partition_key: str | None = Field(
        default=None,
        description="picks the record's shard; none: the field `key` names, else a random key",
    )


class PushRequest(BaseModel):
    records: list[PushRecord]


class PushedRecord(BaseModel):
    shard: str | None = None
    sequence: str | None = None
    error: str | None = Field(default=None, description="why the record was not put")
    message: str | None = None


class PushResult(BaseModel):
    failed: int = Field(description="records not put (each has `error`)")
    records: list[PushedRecord] = Field(description="one per record sent, in order")


_BODY_SCHEMA = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["records"],
                "properties": {
                    "records": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["data"],
                            "properties": {
                                "data": {"description": "the event: any JSON value"},
                                "partition_key": {"type": "string", "maxLength": 256},
                            },
                        },
                    }
                },
            },
            "example": {
                "records": [{"data": {"session_id": "a1", "country": "USA"}, "partition_key": "a1"}]
            },
        },
        "application/x-ndjson": {
            "schema": {"type": "string", "description": "one JSON value per line"},
            "example": '{"session_id": "a1", "country": "USA"}\n',
        },
    },
}


@router.post(
    "/v1/streams/{name}/records",
    response_model=PushResult,
    responses={
        **RESPONSES,
        404: {"model": ErrorResponse, "description": "No such stream"},
        413: {"model": ErrorResponse, "description": "The body is over 16 MiB"},
    },
    openapi_extra={"requestBody": _BODY_SCHEMA},
)
async def push_records(
    ws: Ws,
    name: Name,
    request: Request,
    key: Annotated[
        str | None,
        Query(description="the field of each event whose value is its partition key"),
    ] = None,
) -> PushResult:
    """Put a batch of events into a stream: `{"records": [{"data": …, "partition_key": …}]}`,
    or JSON Lines (`Content-Type: application/x-ndjson`, keyed by `?key=<field>`). A record
    that cannot be put (over 1 MiB, no key) fails alone; a body that is not JSON is refused
    whole (400, naming the line)."""
    body = await _read(request)
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    events = _lines(body) if kind in NDJSON else _batch(body)
    entries: list[Entry] = []
    results: list[Put | None] = []
    for data, given in events:
        partition_key = given if given is not None else _key_of(data, key)
        if partition_key is None:
            results.append(Put(error=NO_KEY, message=f"the record has no `{key}` to key it by"))
            continue
        entries.append(Entry(data=_bytes(data), partition_key=partition_key))
        results.append(None)
    try:
        check_name(name)
        puts = iter(await run_in_threadpool(put_each, ws.streams, name, entries))
    except StreamUnavailable:
        raise
    except StreamNotFound as exc:
        raise ApiError(404, "NoSuchStreamException", exc.message, exc.hint) from None
    except StreamError as exc:
        raise ApiError(400, "BadRequestException", exc.message, exc.hint) from None
    answered = [r if r is not None else next(puts) for r in results]
    return PushResult(
        failed=sum(not p.ok for p in answered),
        records=[
            PushedRecord(shard=p.shard, sequence=p.sequence)
            if p.ok
            else PushedRecord(error=p.error, message=p.message)
            for p in answered
        ],
    )


async def _read(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(
                413,
                "RequestTooLargeException",
                f"the body is over {MAX_BODY >> 20} MiB",
                hint="send the events in several requests",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _batch(body: bytes) -> list[tuple[Any, str | None]]:
    """(event, partition key given) of each record of a JSON batch."""
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise _not_json(exc) from None
    try:
        batch = TypeAdapter(PushRequest).validate_python(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ApiError(
            400,
            "BadRequestException",
            f"malformed batch: {problems}",
            hint='send {"records": [{"data": …, "partition_key": …}, …]}',
        ) from None
    return [(r.data, r.partition_key) for r in batch.records]


def _lines(body: bytes) -> list[tuple[Any, str | None]]:
    """(event, None) of each non-blank line of JSON Lines."""
    events: list[tuple[Any, str | None]] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            events.append((json.loads(line), None))
        except ValueError as exc:
            raise _not_json(exc, number) from None
    return events


def _not_json(exc: ValueError, line: int | None = None) -> ApiError:
    if isinstance(exc, json.JSONDecodeError):
        where = f"line {line}" if line else f"line {exc.lineno}, column {exc.colno}"
        reason = exc.msg
    else:  # not UTF-8
        where, reason = (f"line {line}" if line else "the body"), str(exc)
    return ApiError(
        400,
        "BadRequestException",
        f"{where}: not JSON ({reason}); nothing was put",
        hint="fix that event and send the batch again",
    )


def _key_of(data: Any, field: str | None) -> str | None:
    if field is None:
        return uuid.uuid4().hex  # spreads events without a key over the shards
    value = data.get(field) if isinstance(data, dict) else None
    return None if value is None or value == "" else str(value)


def _bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
