"""Streams on Amazon Kinesis Data Streams (or a compatible endpoint), through boto3.

Puts go out in PutRecords calls of at most 500 records and 5 MiB; a record Kinesis turns
down (throttled, internal failure) comes back as a :class:`Put` with its error code, the
others are put. Reads keep the iterator Kinesis gave for where the last read stopped, so a
reader following ``Batch.next`` costs one GetRecords per read and no GetShardIterator (which
Kinesis allows five times a second per shard); an iterator gone stale is asked for again.

Kinesis knows no id to drop a second put of a record (``Entry.id`` is not sent), keeps
records 24 hours to a year (no size limit), and cannot tell the newest sequence number of a
shard: ``ShardState.first`` is where the shard's sequence numbers start, ``last`` is set only
for a closed shard. A read from LATEST that finds nothing continues from the time Kinesis
answered (``AT_TIMESTAMP``), so a reader restarted from that position may see a record of
that second again, never miss one. ``Record.arrived_ms`` is Kinesis's approximate arrival
time, to be trusted to the second (local servers such as moto have sent whole seconds).

boto3's own retries are off: a failure is raised as
:class:`~headwater.errors.StreamUnavailable` (retryable) or a terminal
:class:`~headwater.errors.StreamError`, and the one retry policy decides (headwater/retry.py).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from headwater.errors import (
    MissingDependency,
    RecordRefused,
    StreamError,
    StreamExists,
    StreamNotFound,
    StreamUnavailable,
)
from headwater.project.streams import KinesisConnection
from headwater.streams.log import Retention, ShardState, StreamInfo
from headwater.streams.records import Batch, Entry, Position, Put, Record, Start
from headwater.streams.sharding import Shard
from headwater.streams.validate import check_entry, check_name, parse_sequence

BATCH_RECORDS = 500  # PutRecords takes at most this many records…
BATCH_BYTES = 5 << 20  # …and this much data and partition keys
MAX_GET = 10_000  # GetRecords returns at most this many
ITERATOR_KEPT_S = 240.0  # an iterator is used again only this long (Kinesis expires them at 300)
ITERATORS_KEPT = 4096
POLL_S = 0.2  # between GetRecords of a reader waiting on an empty shard (5 per second allowed)
MIN_HOURS, MAX_HOURS = 24, 8760
ACTIVE_WAIT_S = 300  # a new or deleted stream settles in about 30 s on AWS

THROTTLED = {
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "KMSThrottlingException",
}
CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "AccessDeniedException",
    "ExpiredTokenException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}


class KinesisLog:
    """Streams of one Kinesis connection (see the module docstring)."""

    kind = "kinesis"

    def __init__(self, config: KinesisConnection, connection: str = "kinesis") -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise MissingDependency(
                f"connection `{connection}` (type kinesis) needs boto3, which is not installed",
                hint="pip install 'headwater[kinesis]'",
            ) from None
        self.connection = connection
        self.where = config.endpoint_url or f"Kinesis in {config.region}"
        secret = config.secret_access_key
        self._client: Any = boto3.session.Session().client(
            "kinesis",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            aws_access_key_id=(
                config.access_key_id.get_secret_value() if config.access_key_id else None
            ),
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            ),
        )
        # (stream, shard, position) → (Kinesis iterator for that position, when it was got)
        self._iterators: OrderedDict[tuple[str, str, Position], tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    # -- streams ------------------------------------------------------------------------

    def create(self, name: str, shards: int, retention: Retention) -> None:
        check_name(name)
        if retention.bytes is not None:
            raise StreamError(
                f"stream `{name}`: Kinesis keeps records by age only, not by size",
                stream=name,
                hint="remove `retention_mb` from the stream in headwater.yaml",
            )
        if not MIN_HOURS <= retention.hours <= MAX_HOURS:
            raise StreamError(
                f"stream `{name}`: Kinesis keeps records from 24 hours to 365 days, not "
                f"{retention.hours:g} hours",
                stream=name,
                hint="set the stream's `retention` from 24h to 365d",
            )
        with self._calling(name, exists=StreamExists):
            self._client.create_stream(
                StreamName=name,
                ShardCount=shards,
                StreamModeDetails={"StreamMode": "PROVISIONED"},
            )
            self._wait("stream_exists", name)
            if retention.hours > MIN_HOURS:
                self._client.increase_stream_retention_period(
                    StreamName=name, RetentionPeriodHours=round(retention.hours)
                )

    def delete(self, name: str) -> None:
        with self._calling(name):
            self._client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
            self._wait("stream_not_exists", name)
        with self._lock:
            for key in [k for k in self._iterators if k[0] == name]:
                del self._iterators[key]

    def names(self) -> list[str]:
        found: list[str] = []
        with self._calling(""):
            for page in self._client.get_paginator("list_streams").paginate():
                found += page["StreamNames"]
        return sorted(found)

    def describe(self, name: str) -> StreamInfo:
        with self._calling(name):
            summary = self._client.describe_stream_summary(StreamName=name)
            listed: list[dict[str, Any]] = []
            for page in self._client.get_paginator("list_shards").paginate(StreamName=name):
                listed += page["Shards"]
        about = summary["StreamDescriptionSummary"]
        created: datetime = about["StreamCreationTimestamp"]
        return StreamInfo(
            name=name,
            backend=self.kind,
            shards=tuple(
                ShardState(
                    Shard(
                        s["ShardId"],
                        int(s["HashKeyRange"]["StartingHashKey"]),
                        int(s["HashKeyRange"]["EndingHashKey"]),
                    ),
                    first=s["SequenceNumberRange"]["StartingSequenceNumber"],
                    last=s["SequenceNumberRange"].get("EndingSequenceNumber"),
                )
                for s in listed
            ),
            retention=Retention(hours=float(about["RetentionPeriodHours"])),
            created_ms=int(created.timestamp() * 1000),
        )

    # -- records ------------------------------------------------------------------------

    def put(self, name: str, entries: Sequence[Entry]) -> list[Put]:
        for entry in entries:
            check_entry(entry, name)
        if not entries:
            self.describe(name)  # an unknown stream is still told
            return []
        results: list[Put] = []
        for batch in _batches(entries):
            records = [_request_entry(e) for e in batch]
            with self._calling(name):
                answer = self._client.put_records(StreamName=name, Records=records)
            results += [
                Put(shard=r["ShardId"], sequence=r["SequenceNumber"])
                if "ErrorCode" not in r
                else Put(error=r["ErrorCode"], message=r.get("ErrorMessage", ""))
                for r in answer["Records"]
            ]
        return results

    def read(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> Batch:
        deadline = time.monotonic() + wait
        try:
            iterator, asked_at_ms = self._iterator(name, shard, position)
        except StreamNotFound:
            self._require_shard(name, shard)  # Kinesis answers the same for a missing shard
            raise
        if limit < 1:  # only where the position is: Kinesis reads at least one record
            after = self._after(position, (), asked_at_ms)
            self._keep(name, shard, after, iterator)
            return Batch(records=(), next=after, behind_ms=0)
        renewed = False
        while True:
            try:
                with self._calling(name):
                    answer = self._client.get_records(
                        ShardIterator=iterator, Limit=min(limit, MAX_GET)
                    )
            except _Stale:
                if renewed:
                    raise
                iterator, asked_at_ms = self._iterator(name, shard, position, fresh=True)
                renewed = True
                continue
            rows = answer["Records"]
            following = answer.get("NextShardIterator")
            if rows or following is None or time.monotonic() >= deadline:
                break
            iterator = following
            time.sleep(POLL_S)
        records = tuple(
            Record(
                data=r["Data"],
                partition_key=r["PartitionKey"],
                sequence=r["SequenceNumber"],
                arrived_ms=int(r["ApproximateArrivalTimestamp"].timestamp() * 1000),
                shard=shard,
            )
            for r in rows
        )
        after = self._after(position, records, asked_at_ms)
        if following is not None:
            self._keep(name, shard, after, following)
        return Batch(
            records=records, next=after, behind_ms=int(answer.get("MillisBehindLatest", 0))
        )

    def close(self) -> None:
        with self._lock:
            self._iterators.clear()
        self._client.close()

    # -- internals ----------------------------------------------------------------------

    def _require_shard(self, name: str, shard: str) -> None:
        """Raise :class:`StreamNotFound` for the stream, or for its shard when only that is
        missing."""
        if shard not in {s.shard.id for s in self.describe(name).shards}:
            raise StreamNotFound(
                f"stream `{name}` has no shard `{shard}`",
                stream=name,
                hint="`headwater stream describe` lists its shards",
            )

    @staticmethod
    def _after(position: Position, records: Sequence[Record], asked_at_ms: int) -> Position:
        """Where a read that returned ``records`` from ``position`` goes on (never LATEST)."""
        if records:
            return Position.after(records[-1].sequence)
        if position.start is Start.LATEST:
            return Position(Start.AT_TIMESTAMP, timestamp_ms=asked_at_ms)
        return position  # nothing there yet: the same place

    def _iterator(
        self, name: str, shard: str, position: Position, fresh: bool = False
    ) -> tuple[str, int]:
        """A Kinesis iterator at ``position``, and when Kinesis made it (Unix ms)."""
        key = (name, shard, position)
        with self._lock:
            kept = self._iterators.pop(key, None)
        if kept is not None and not fresh and time.monotonic() - kept[1] < ITERATOR_KEPT_S:
            return kept[0], int(time.time() * 1000)
        args: dict[str, Any] = {
            "StreamName": name,
            "ShardId": shard,
            "ShardIteratorType": position.start.value,
        }
        if position.sequence is not None:
            # checked here: a server may answer a malformed number with a bare 500
            parse_sequence(position.sequence, "a Kinesis stream", name)
            args["StartingSequenceNumber"] = position.sequence
        if position.timestamp_ms is not None:
            args["Timestamp"] = datetime.fromtimestamp(position.timestamp_ms / 1000, UTC)
        with self._calling(name):
            answer = self._client.get_shard_iterator(**args)
        return answer["ShardIterator"], _answered_ms(answer)

    def _keep(self, name: str, shard: str, position: Position, iterator: str) -> None:
        with self._lock:
            self._iterators[(name, shard, position)] = (iterator, time.monotonic())
            while len(self._iterators) > ITERATORS_KEPT:
                self._iterators.popitem(last=False)

    def _wait(self, waiter: str, name: str) -> None:
        self._client.get_waiter(waiter).wait(
            StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": ACTIVE_WAIT_S}
        )

    @contextmanager
    def _calling(self, name: str, exists: type[StreamError] = StreamError) -> Iterator[None]:
        """Kinesis's and botocore's errors as Headwater's (see the module docstring)."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            HTTPClientError,
            NoCredentialsError,
            WaiterError,
        )

        stream = f"`{name}` " if name else ""
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", ""), error.get("Message", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            text = f"Kinesis stream {stream}at {self.where}: {code}: {message}"
            if code == "ResourceNotFoundException":
                raise StreamNotFound(
                    f"no stream {stream}on {self.where} (connection `{self.connection}`)",
                    stream=name,
                    hint=f"create it with `headwater stream create {name or '<name>'}`",
                ) from exc
            if code == "ExpiredIteratorException":
                raise _Stale(text) from exc
            if code == "ResourceInUseException":
                raise exists(
                    f"stream {stream}exists already on {self.where} or is being created or deleted",
                    stream=name,
                ) from exc
            if code in THROTTLED or status >= 500:
                raise StreamUnavailable(text, stream=name, retry_after=1.0) from exc
            if code in CREDENTIALS:
                raise StreamError(
                    text,
                    stream=name,
                    hint=f"check the credentials of connection `{self.connection}` "
                    "(access_key_id, secret_access_key, or AWS_* variables)",
                ) from exc
            if code == "ValidationException":
                raise RecordRefused(text, stream=name) from exc
            raise StreamError(text, stream=name) from exc
        except NoCredentialsError as exc:
            raise StreamError(
                f"no AWS credentials for connection `{self.connection}` ({self.where})",
                stream=name,
                hint="set access_key_id and secret_access_key on the connection (as sensitive "
                "variables), or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            ) from exc
        except WaiterError as exc:
            raise StreamUnavailable(
                f"Kinesis stream {stream}at {self.where} did not settle: {exc}", stream=name
            ) from exc
        except (ConnectionError, HTTPClientError) as exc:
            raise StreamUnavailable(
                f"cannot reach {self.where} (connection `{self.connection}`): {exc}",
                stream=name,
                hint="is the endpoint right and reachable?",
                retry_after=1.0,
            ) from exc
        except BotoCoreError as exc:
            raise StreamError(
                f"Kinesis stream {stream}at {self.where}: {exc}", stream=name
            ) from exc


class _Stale(StreamError):
    """An iterator Kinesis no longer takes (a read asks for a new one)."""


def _request_entry(entry: Entry) -> dict[str, Any]:
    record: dict[str, Any] = {"Data": entry.data, "PartitionKey": entry.partition_key}
    if entry.explicit_hash_key is not None:
        record["ExplicitHashKey"] = str(entry.explicit_hash_key)
    return record


def _batches(entries: Sequence[Entry]) -> Iterator[Sequence[Entry]]:
    """Consecutive runs of ``entries`` within PutRecords' limits, in order."""
    start, size = 0, 0
    for index, entry in enumerate(entries):
        weight = len(entry.data) + len(entry.partition_key.encode())
        if index > start and (index - start >= BATCH_RECORDS or size + weight > BATCH_BYTES):
            yield entries[start:index]
            start, size = index, 0
        size += weight
    yield entries[start:]


def _answered_ms(answer: dict[str, Any]) -> int:
    """When Kinesis answered, from its Date header (whole seconds, rounded down: a record
    that arrived after the answer arrived at or after this time)."""
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            return int(parsedate_to_datetime(date).timestamp() * 1000)
        except (TypeError, ValueError):
            pass
    return int(time.time() * 1000) - 5000  # no date: a margin for the clocks' difference
