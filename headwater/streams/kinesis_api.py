"""The Kinesis Data Streams JSON protocol over the project's streams, apart from HTTP: one
operation's request body in, its response body out, or a :class:`KinesisFault` in Kinesis's
error shape. ``headwater serve`` answers it at its root (headwater/web/kinesis.py), so code
written for ``boto3.client("kinesis")`` runs unchanged against any backend.

Shard iterators are self-contained: the stream, the shard, a concrete position (a sequence
number, the trim horizon or a time; never "latest", which is resolved when the iterator is
made) and the time it was issued, signed with the server's key. Any server process holding
the key reads them (there is no iterator table to share), a client cannot forge or alter
one, and like Kinesis's they expire five minutes after they are issued.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from headwater.errors import (
    HeadwaterError,
    RecordRefused,
    StreamError,
    StreamExists,
    StreamNotFound,
    StreamUnavailable,
)
from headwater.streams.putting import REFUSED, put_each
from headwater.streams.records import Batch, Entry, Position, Put, Record, Start
from headwater.streams.sharding import HASH_MAX
from headwater.streams.validate import check_name

if TYPE_CHECKING:
    from headwater.streams.hub import Streams
    from headwater.streams.log import StreamInfo

TARGET_PREFIX = "Kinesis_20131202."
CONTENT_TYPE = "application/x-amz-json-1.1"
ITERATOR_TTL_MS = 5 * 60 * 1000  # as Kinesis: an iterator expires five minutes after issue
MAX_PUT_RECORDS = 500
MAX_PUT_BYTES = 5 << 20  # data and partition keys of one PutRecords request
MAX_GET_RECORDS = 10_000
MAX_GET_BYTES = 10 << 20  # of data in one GetRecords answer
FIRST_GET = 16  # records of the first read of a GetRecords, to learn their size
ACCOUNT = "000000000000"


class KinesisFault(Exception):
    """An error answered as Kinesis does: ``{"__type": kind, "message": …}`` with ``status``,
    so boto3 raises ``client.exceptions.<kind>``."""

    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status

    def body(self) -> dict[str, str]:
        return {"__type": self.kind, "message": self.message}


def fault_of(exc: HeadwaterError) -> KinesisFault:
    """The Kinesis error a Headwater error is answered as."""
    text = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
    if isinstance(exc, StreamNotFound):
        return KinesisFault("ResourceNotFoundException", text)
    if isinstance(exc, StreamExists):
        return KinesisFault("ResourceInUseException", text)
    if isinstance(exc, RecordRefused):
        return KinesisFault("ValidationException", text)
    if isinstance(exc, StreamUnavailable):
        return KinesisFault("InternalFailureException", text, 503)
    if isinstance(exc, StreamError):
        return KinesisFault("InvalidArgumentException", text)
    return KinesisFault("InternalFailureException", text, 500)


@dataclass(frozen=True, slots=True)
class ShardIterator:
    """What a shard iterator holds (see the module docstring)."""

    stream: str
    shard: str
    position: Position
    issued_ms: int


class IteratorCodec:
    """Shard iterators as ``<payload>.<signature>``, both base64url: the payload is a JSON
    array, the signature the first 16 bytes of its HMAC-SHA256 under the server's key."""

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock

    def encode(
        self, stream: str, shard: str, position: Position, issued_ms: int | None = None
    ) -> str:
        issued = int(self._clock() * 1000) if issued_ms is None else issued_ms
        fields = [
            stream,
            shard,
            position.start.value,
            position.sequence,
            position.timestamp_ms,
            issued,
        ]
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
        return f"{payload}.{_b64(self._sign(payload))}"

    def decode(self, text: str) -> ShardIterator:
        payload, _, signature = text.partition(".")
        try:
            if not hmac.compare_digest(_unb64(signature), self._sign(payload)):
                raise ValueError("not signed with this server's key")
            stream, shard, start, sequence, timestamp_ms, issued = json.loads(_unb64(payload))
            position = Position(Start(start), sequence=sequence, timestamp_ms=timestamp_ms)
        except (ValueError, TypeError):
            raise KinesisFault(
                "InvalidArgumentException",
                "the ShardIterator is not one this server issued (it is damaged or was altered); "
                "get a new one with GetShardIterator",
            ) from None
        now = int(self._clock() * 1000)
        if now - issued > ITERATOR_TTL_MS:
            raise KinesisFault(
                "ExpiredIteratorException",
                f"Iterator expired. The iterator was created at time {_iso(issued)} while right "
                f"now it is {_iso(now)} which is further in the future than the tolerated "
                f"delay of {ITERATOR_TTL_MS} milliseconds.",
            )
        return ShardIterator(stream, shard, position, issued)

    def _sign(self, payload: str) -> bytes:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:16]


class KinesisApi:
    """The operations of the Kinesis JSON protocol over ``streams`` (see the module docstring)."""

    def __init__(self, streams: Streams, codec: IteratorCodec, account: str = ACCOUNT) -> None:
        self.streams = streams
        self.codec = codec
        self.account = account
        self._operations: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
            "CreateStream": self.create_stream,
            "DeleteStream": self.delete_stream,
            "ListStreams": self.list_streams,
            "DescribeStream": self.describe_stream,
            "DescribeStreamSummary": self.describe_stream_summary,
            "ListShards": self.list_shards,
            "PutRecord": self.put_record,
            "PutRecords": self.put_records,
            "GetShardIterator": self.get_shard_iterator,
            "GetRecords": self.get_records,
        }

    @property
    def operations(self) -> tuple[str, ...]:
        return tuple(self._operations)

    def handle(
        self, operation: str, body: Mapping[str, Any], region: str = "us-east-1"
    ) -> dict[str, Any]:
        """The response body of ``operation``; raises :class:`KinesisFault`."""
        handler = self._operations.get(operation)
        if handler is None:
            raise KinesisFault(
                "UnknownOperationException",
                f"this server does not implement {operation}; it answers "
                f"{', '.join(self._operations)}",
            )
        try:
            return handler(body, region)
        except HeadwaterError as exc:
            raise fault_of(exc) from exc

    # -- streams ------------------------------------------------------------------------

    def create_stream(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = _stream_name(body)
        shards = _int(body, "ShardCount", 1, 1024)
        self.streams.create(name, shards)
        return {}

    def delete_stream(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        self.streams.delete(_stream_name(body))
        return {}

    def list_streams(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        limit = _int(body, "Limit", 1, 10_000) or 100
        after = _str(body, "ExclusiveStartStreamName") or _token(body.get("NextToken"))
        names = [n for n in self.streams.names() if after is None or n > after]
        page = names[:limit]
        more = len(names) > limit
        answer: dict[str, Any] = {
            "StreamNames": page,
            "HasMoreStreams": more,
            "StreamSummaries": [
                {
                    "StreamName": n,
                    "StreamARN": self._arn(region, n),
                    "StreamStatus": "ACTIVE",
                    "StreamModeDetails": {"StreamMode": "PROVISIONED"},
                }
                for n in page
            ],
        }
        if more:
            answer["NextToken"] = _b64(page[-1].encode())
        return answer

    def describe_stream(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        info = self.streams.describe(_stream_name(body))
        limit = _int(body, "Limit", 1, 10_000) or 100
        after = _str(body, "ExclusiveStartShardId")
        shards = [s for s in self._shards(info) if after is None or s["ShardId"] > after]
        return {
            "StreamDescription": {
                **self._summary(info, region),
                "Shards": shards[:limit],
                "HasMoreShards": len(shards) > limit,
            }
        }

    def describe_stream_summary(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        info = self.streams.describe(_stream_name(body))
        summary = self._summary(info, region)
        summary.update(OpenShardCount=len(info.shards), ConsumerCount=0)
        return {"StreamDescriptionSummary": summary}

    def list_shards(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        token = body.get("NextToken")
        after: str | None
        if token is not None:
            if body.get("StreamName") is not None:
                raise KinesisFault(
                    "InvalidArgumentException", "give either NextToken or StreamName, not both"
                )
            name, after = _shard_token(token)
        else:
            name, after = _stream_name(body), _str(body, "ExclusiveStartShardId")
        flt = body.get("ShardFilter")
        if isinstance(flt, Mapping) and flt.get("Type") == "AFTER_SHARD_ID":
            after = max(after or "", str(flt.get("ShardId") or ""))
        limit = _int(body, "MaxResults", 1, 10_000) or 1000
        shards = [
            s
            for s in self._shards(self.streams.describe(name))
            if not after or s["ShardId"] > after
        ]
        answer: dict[str, Any] = {"Shards": shards[:limit]}
        if len(shards) > limit:
            answer["NextToken"] = _b64(json.dumps([name, shards[limit - 1]["ShardId"]]).encode())
        return answer

    # -- records ------------------------------------------------------------------------

    def put_record(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = _stream_name(body)
        (put,) = put_each(self.streams, name, [_entry(body, "")])
        if put.error == REFUSED:
            raise KinesisFault("ValidationException", put.message)
        if not put.ok:
            failed = put.error in (None, "InternalFailure", "InternalFailureException")
            kind = "InternalFailureException" if failed else str(put.error)
            raise KinesisFault(kind, put.message or kind, 500 if failed else 400)
        return {"ShardId": put.shard, "SequenceNumber": put.sequence, "EncryptionType": "NONE"}

    def put_records(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = _stream_name(body)
        records = body.get("Records")
        if not isinstance(records, list) or not 1 <= len(records) <= MAX_PUT_RECORDS:
            count = len(records) if isinstance(records, list) else 0
            raise KinesisFault(
                "ValidationException",
                f"Records holds {count} records; PutRecords takes 1 to {MAX_PUT_RECORDS}",
            )
        entries = [_entry(r, f"Records[{i}].") for i, r in enumerate(records)]
        size = sum(len(e.data) + len(e.partition_key.encode()) for e in entries)
        if size > MAX_PUT_BYTES:
            raise KinesisFault(
                "InvalidArgumentException",
                f"the records of this PutRecords request are {size:,} bytes with their "
                f"partition keys; a request takes at most {MAX_PUT_BYTES:,} (5 MiB)",
            )
        puts = put_each(self.streams, name, entries)
        return {
            "FailedRecordCount": sum(not p.ok for p in puts),
            "Records": [_put_result(p) for p in puts],
            "EncryptionType": "NONE",
        }

    def get_shard_iterator(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        name, shard = _stream_name(body), _required(body, "ShardId")
        kind = _required(body, "ShardIteratorType")
        try:
            start = Start(kind)
        except ValueError:
            raise KinesisFault(
                "ValidationException",
                f"ShardIteratorType `{kind}` is not one of {', '.join(s.value for s in Start)}",
            ) from None
        sequence = _str(body, "StartingSequenceNumber")
        if start in (Start.AT_SEQUENCE_NUMBER, Start.AFTER_SEQUENCE_NUMBER) and sequence is None:
            raise KinesisFault("InvalidArgumentException", f"{kind} needs a StartingSequenceNumber")
        stamp = body.get("Timestamp")
        if start is Start.AT_TIMESTAMP and stamp is None:
            raise KinesisFault("InvalidArgumentException", "AT_TIMESTAMP needs a Timestamp")
        asked = Position(
            start,
            sequence=sequence if start.value.endswith("SEQUENCE_NUMBER") else None,
            timestamp_ms=_timestamp_ms(stamp) if start is Start.AT_TIMESTAMP else None,
        )
        # one record read makes the position concrete: the first record from there, or where
        # the next one will be (Batch.next never says "latest"); it also proves the shard
        batch = self.streams.read(name, shard, asked, 1)
        position = Position.at(batch.records[0].sequence) if batch.records else batch.next
        return {"ShardIterator": self.codec.encode(name, shard, position)}

    def get_records(self, body: Mapping[str, Any], region: str) -> dict[str, Any]:
        iterator = self.codec.decode(_required(body, "ShardIterator"))
        limit = _int(body, "Limit", 1, MAX_GET_RECORDS) or MAX_GET_RECORDS
        records, position, behind = self._read(iterator, limit)
        return {
            "Records": [_record(r) for r in records],
            "NextShardIterator": self.codec.encode(iterator.stream, iterator.shard, position),
            "MillisBehindLatest": behind,
        }

    def _read(self, iterator: ShardIterator, limit: int) -> tuple[list[Record], Position, int]:
        """Up to ``limit`` records and about ``MAX_GET_BYTES`` of data: a small first read
        tells the records' size, the next ones ask for as many as the budget holds."""
        records: list[Record] = []
        size = 0
        position = iterator.position
        ask = min(limit, FIRST_GET)
        batch: Batch | None = None
        while ask > 0:
            batch = self.streams.read(iterator.stream, iterator.shard, position, ask)
            position = batch.next
            for record in batch.records:
                if records and size + len(record.data) > MAX_GET_BYTES:
                    return records, Position.after(records[-1].sequence), batch.behind_ms
                records.append(record)
                size += len(record.data)
            if len(batch.records) < ask:
                break
            average = max(1, size // len(records))
            ask = min(limit - len(records), max(1, (MAX_GET_BYTES - size) // average))
        return records, position, batch.behind_ms if batch is not None else 0

    # -- shapes -------------------------------------------------------------------------

    def _arn(self, region: str, name: str) -> str:
        return f"arn:aws:kinesis:{region}:{self.account}:stream/{name}"

    def _summary(self, info: StreamInfo, region: str) -> dict[str, Any]:
        return {
            "StreamName": info.name,
            "StreamARN": self._arn(region, info.name),
            "StreamStatus": "ACTIVE",
            "StreamModeDetails": {"StreamMode": "PROVISIONED"},
            "RetentionPeriodHours": max(1, round(info.retention.hours)),
            "StreamCreationTimestamp": info.created_ms / 1000,
            "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
            "EncryptionType": "NONE",
        }

    @staticmethod
    def _shards(info: StreamInfo) -> list[dict[str, Any]]:
        return [
            {
                "ShardId": s.shard.id,
                "HashKeyRange": {
                    "StartingHashKey": str(s.shard.start_hash),
                    "EndingHashKey": str(s.shard.end_hash),
                },
                "SequenceNumberRange": {"StartingSequenceNumber": s.first or "0"},
            }
            for s in info.shards
        ]


# -- request fields -------------------------------------------------------------------


def _required(body: Mapping[str, Any], field: str) -> str:
    value = _str(body, field)
    if value is None:
        raise KinesisFault("ValidationException", f"{field} is required")
    return value


def _str(body: Mapping[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None or isinstance(value, str):
        return value
    raise KinesisFault("SerializationException", f"{field} must be a string")


def _int(body: Mapping[str, Any], field: str, low: int, high: int) -> int | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise KinesisFault("SerializationException", f"{field} must be a whole number")
    if not low <= value <= high:
        raise KinesisFault(
            "ValidationException", f"{field} is {value}; it must be from {low} to {high}"
        )
    return value


def _stream_name(body: Mapping[str, Any]) -> str:
    name = _str(body, "StreamName")
    arn = _str(body, "StreamARN")
    if name is None and arn is not None:
        head, _, name = arn.rpartition(":stream/")
        if not head.startswith("arn:") or not name:
            raise KinesisFault("ValidationException", f"StreamARN `{arn}` is not a stream's ARN")
    if name is None:
        raise KinesisFault("ValidationException", "give StreamName (or StreamARN)")
    try:
        check_name(name)
    except StreamError as exc:
        raise KinesisFault("ValidationException", f"{exc.message} ({exc.hint})") from None
    return name


def _entry(body: Any, where: str) -> Entry:
    if not isinstance(body, Mapping):
        raise KinesisFault("SerializationException", f"{where or 'the request'} must be an object")
    data = body.get("Data")
    if not isinstance(data, str):
        raise KinesisFault("ValidationException", f"{where}Data is required (base64)")
    try:
        raw = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise KinesisFault("SerializationException", f"{where}Data is not base64") from None
    hash_key = _str(body, "ExplicitHashKey")
    explicit = None
    if hash_key is not None:
        if not hash_key.isdigit() or int(hash_key) > HASH_MAX:
            raise KinesisFault(
                "InvalidArgumentException",
                f"{where}ExplicitHashKey `{hash_key}` is not a whole number from 0 to 2^128-1",
            )
        explicit = int(hash_key)
    return Entry(
        data=raw, partition_key=_str(body, "PartitionKey") or "", explicit_hash_key=explicit
    )


def _timestamp_ms(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp() * 1000)
        except ValueError:
            pass
    raise KinesisFault("SerializationException", f"Timestamp `{value}` is not a time")


def _token(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return _unb64(str(value)).decode()
    except (ValueError, binascii.Error):
        raise KinesisFault(
            "InvalidArgumentException", "NextToken is not one this server gave"
        ) from None


def _shard_token(value: Any) -> tuple[str, str]:
    try:
        name, after = json.loads(_unb64(str(value)))
        return str(name), str(after)
    except (ValueError, TypeError, binascii.Error):
        raise KinesisFault(
            "InvalidArgumentException", "NextToken is not one this server gave"
        ) from None


# -- response shapes ------------------------------------------------------------------


def _put_result(put: Put) -> dict[str, str]:
    if put.ok:
        return {"ShardId": put.shard, "SequenceNumber": put.sequence}
    # a refused record would never go in on a retry: it is reported with its own code, not
    # with the two Kinesis gives per record (which a producer's loop retries)
    code = "ValidationException" if put.error == REFUSED else (put.error or "InternalFailure")
    return {"ErrorCode": code, "ErrorMessage": put.message or code}


def _record(record: Record) -> dict[str, Any]:
    return {
        "SequenceNumber": record.sequence,
        "ApproximateArrivalTimestamp": record.arrived_ms / 1000,
        "Data": base64.b64encode(record.data).decode(),
        "PartitionKey": record.partition_key,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).isoformat(timespec="milliseconds")
