"""Streams on NATS JetStream, through nats-py, behind the synchronous :class:`StreamLog`.

nats-py is asyncio-only: the backend owns one event loop running in a daemon thread, and each
call submits a coroutine to it (``asyncio.run_coroutine_threadsafe``) and waits for its result;
:meth:`NatsLog.close` drains the connection and stops the loop.

How a Headwater stream maps onto JetStream:

- **One JetStream stream per Headwater stream**, named ``HW_<name>`` with the name escaped so the
  mapping is one-to-one (``_`` → ``__``, ``.`` → ``_d``: JetStream names take no dots);
  file storage, one replica, ``discard: old``.
- **One subject per shard**: ``hw.<escaped name>.<shard index>``; the stream takes
  ``hw.<escaped name>.*``. A record's shard is picked by :class:`~headwater.streams.sharding.Router`
  (MD5 hash ranges, as Kinesis does) and the record is published to that shard's subject.
- **The shard layout** lives in the stream's description, as JSON
  (``{"headwater": 1, "name": …, "shards": N}``): shards are always the N even hash ranges of
  ``even_shards(N)``, so the count is the whole layout (and fits the description's size limit
  at 1024 shards). The description works on every JetStream server; stream metadata would need
  nats-server 2.10.
- **Retention**: ``max_age`` from the retention hours; ``max_bytes`` is stream-wide in
  JetStream, so a per-shard size limit becomes ``bytes × shards`` (the oldest records of the
  whole stream go first). ``duplicate_window`` is the connection's ``dedup_window`` (at most
  the retention). ``max_msg_size`` is 1 MiB plus room for the headers below.
- **Sequence numbers** are JetStream's stream sequence: they grow within each shard but are not
  contiguous (the shards share one counter), which is all the interface promises.
- **A put** publishes each record to its shard's subject with headers ``Hw-Key`` (the partition
  key; ``Hw-Key-B64`` for a key with characters a header cannot carry), ``Hw-Put-Ms`` (the
  producer's clock) and ``Nats-Msg-Id`` (the entry's id, when given). A batch is published with
  asynchronous publishes whose acknowledgements are awaited together, not one round trip per
  record. An id seen within the duplicate window is acknowledged as a duplicate, with the
  sequence number of the first put: ``Put(duplicate=True, sequence=…)`` (its ``shard`` is the
  one this put's key picks). Records not acknowledged in time come back as failed ``Put``\\ s
  (``ServiceUnavailable``) for the caller to retry by id; when none is acknowledged the put
  raises :class:`~headwater.errors.StreamUnavailable`.
- **A read** uses an ephemeral pull consumer filtered on the shard's subject (no acks,
  removed by the server after a few idle minutes): ``TRIM_HORIZON`` → deliver all,
  ``LATEST`` → deliver new, ``AT``/``AFTER_SEQUENCE_NUMBER`` → by start sequence,
  ``AT_TIMESTAMP`` → by start time. The consumer is kept, keyed by the position it will deliver
  next, so a loop reading ``batch.next`` after ``batch.next`` fetches from the same consumer
  instead of creating one per call. ``Record.arrived_ms`` is the time JetStream stored the
  record (the time ``AT_TIMESTAMP`` and ``max_age`` use). ``behind_ms`` is the time from the
  last record read to the shard's newest one, asked of the server only when records remain.

NATS limits a message (payload and headers) to the server's ``max_payload``, 1 MiB by default:
a record near 1 MiB only fits when the server's ``max_payload`` is raised (``max_payload: 2MB``
in its configuration). Records over what the server takes are refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from headwater.errors import (
    RecordRefused,
    StreamError,
    StreamExists,
    StreamNotFound,
    StreamUnavailable,
)
from headwater.streams.log import Retention, ShardState, StreamInfo
from headwater.streams.records import MAX_RECORD_BYTES, Batch, Entry, Position, Put, Record, Start
from headwater.streams.sharding import Router, Shard, even_shards, shard_id
from headwater.streams.validate import check_entry, check_name, parse_sequence

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js.client import JetStreamContext

T = TypeVar("T")

PREFIX = "HW_"
SUBJECT_ROOT = "hw"
HEADER_ROOM = 4096  # bytes a record's headers may add to its data
CONNECT_TIMEOUT = 2.0  # seconds to reach a server
REQUEST_TIMEOUT = 10.0  # seconds for an API request, or for a batch's outstanding acks (default)
LAYOUT_TTL = 5.0  # seconds a stream's shard count is trusted before it is asked again
IN_FLIGHT = 4000  # publishes of a put awaiting their acks at once
READERS_KEPT = 64  # pull consumers kept for sequential reads
READER_IDLE = 300.0  # seconds the server keeps an unused reader
KEY = "Hw-Key"
KEY_B64 = "Hw-Key-B64"
PUT_MS = "Hw-Put-Ms"
MSG_ID = "Nats-Msg-Id"
JS_STREAM_NOT_FOUND = 10059
JS_STREAM_NAME_IN_USE = 10058


def stream_name(name: str) -> str:
    """The JetStream stream of Headwater stream ``name`` (one-to-one: see module docstring)."""
    return PREFIX + _escape(name)


def subject(name: str, index: int) -> str:
    """The subject shard ``index`` of stream ``name`` is published to."""
    return f"{SUBJECT_ROOT}.{_escape(name)}.{index}"


def _escape(name: str) -> str:
    return name.replace("_", "__").replace(".", "_d")


def _unescape(escaped: str) -> str:
    out, i = [], 0
    while i < len(escaped):
        if escaped[i] == "_" and i + 1 < len(escaped):
            out.append("_" if escaped[i + 1] == "_" else ".")
            i += 2
        else:
            out.append(escaped[i])
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Layout:
    shards: tuple[Shard, ...]
    router: Router
    checked: float  # monotonic time it was read from the server


@dataclass
class _Reader:
    """A pull consumer of one shard and the stream sequence it delivers next."""

    stream: str  # Headwater name
    shard: str
    consumer: str
    sub: JetStreamContext.PullSubscription
    next: int
    pending: int | None = None  # records left after the last one fetched (None: unknown)


class NatsLog:
    """Streams on a NATS JetStream server (see the module docstring)."""

    kind = "nats"

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        dedup_window: float = 120.0,
        timeout: float = REQUEST_TIMEOUT,
    ):
        self.url = url
        self.timeout = timeout
        self.servers = [u.strip() for u in url.split(",") if u.strip()]
        self.dedup_window = dedup_window
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="headwater-nats", daemon=True
        )
        self._thread.start()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._connect_lock = threading.Lock()
        self._layouts: dict[str, _Layout] = {}
        self._readers: OrderedDict[tuple[str, str, int], _Reader] = OrderedDict()
        self._readers_lock = threading.Lock()
        self._tasks: set[asyncio.Future[None]] = set()
        self._closed = False

    # -- streams ------------------------------------------------------------------------

    def create(self, name: str, shards: int, retention: Retention) -> None:
        from nats.js import api
        from nats.js.errors import BadRequestError

        check_name(name)
        layout = even_shards(shards)
        max_age = retention.hours * 3600
        description = json.dumps(
            {"headwater": 1, "name": name, "shards": len(layout)}, separators=(",", ":")
        )
        config = api.StreamConfig(
            name=stream_name(name),
            description=description,
            subjects=[f"{SUBJECT_ROOT}.{_escape(name)}.*"],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            discard=api.DiscardPolicy.OLD,
            num_replicas=1,
            max_age=max_age,
            max_bytes=-1 if retention.bytes is None else retention.bytes * len(layout),
            max_msg_size=self._max_msg_size(),
            duplicate_window=min(self.dedup_window, max_age),
        )

        async def create() -> None:
            js = await self._jetstream()
            try:
                await js.add_stream(config)
            except BadRequestError as exc:
                if exc.err_code == JS_STREAM_NAME_IN_USE:
                    raise StreamExists(
                        f"stream `{name}` exists already on {self.url}", stream=name
                    ) from None
                raise self._api_error(exc, f"cannot create stream `{name}`", name) from exc

        self._run(create(), name)
        self._layouts.pop(name, None)

    def delete(self, name: str) -> None:
        from nats.js.errors import NotFoundError

        async def delete() -> None:
            js = await self._jetstream()
            try:
                await js.delete_stream(stream_name(name))
            except NotFoundError:
                raise self._not_found(name) from None

        self._drop_readers(name)
        self._layouts.pop(name, None)
        self._run(delete(), name)

    def names(self) -> list[str]:
        async def names() -> list[str]:
            js = await self._jetstream()
            found: list[str] = []
            offset = 0
            while True:
                infos = await js.streams_info(offset)
                if not infos:
                    return found
                offset += len(infos)
                found += [n for n in (_headwater_name(i.config) for i in infos) if n]

        return sorted(self._run(names()))

    def describe(self, name: str) -> StreamInfo:
        from nats.js.errors import NotFoundError

        async def describe() -> StreamInfo:
            js = await self._jetstream()
            stream = stream_name(name)
            try:
                info = await js.stream_info(stream, subjects_filter=f"hw.{_escape(name)}.*")
            except NotFoundError:
                raise self._not_found(name) from None
            layout = self._layout_of(name, info.config)
            counts = info.state.subjects or {}

            async def state(index: int, shard: Shard) -> ShardState:
                subj = subject(name, index)
                if not counts.get(subj):
                    return ShardState(shard, first=None, last=None, records=0)
                first, last = await asyncio.gather(
                    js.get_msg(stream, seq=1, subject=subj, next=True),
                    js.get_msg(stream, subject=subj),
                )
                return ShardState(
                    shard, first=str(first.seq), last=str(last.seq), records=counts[subj]
                )

            states = await asyncio.gather(*(state(i, s) for i, s in enumerate(layout.shards)))
            config = info.config
            max_bytes = config.max_bytes
            created = info.created.timestamp() if info.created else 0.0
            return StreamInfo(
                name=name,
                backend=self.kind,
                shards=tuple(states),
                retention=Retention(
                    hours=(config.max_age or 0) / 3600,
                    bytes=None
                    if max_bytes is None or max_bytes < 0
                    else max_bytes // len(layout.shards),
                ),
                created_ms=int(created * 1000),
                bytes=info.state.bytes,
            )

        return self._run(describe(), name)

    # -- records ------------------------------------------------------------------------

    def put(self, name: str, entries: Sequence[Entry]) -> list[Put]:
        for entry in entries:
            check_entry(entry, name)
        if not entries:
            self._run(self._layout(name), name)  # an unknown stream is still told
            return []
        return self._run(self._put(name, entries), name)

    async def _put(self, name: str, entries: Sequence[Entry]) -> list[Put]:
        import nats.errors
        from nats.js.errors import NoStreamResponseError, TooManyStalledMsgsError

        js = await self._jetstream()
        layout = await self._layout(name)
        nc = self._nc
        assert nc is not None
        limit = nc.max_payload
        index_of = {s.id: i for i, s in enumerate(layout.shards)}
        now = str(int(time.time() * 1000))
        routed: list[tuple[str, str, dict[str, str]]] = []
        for entry in entries:
            shard = layout.router.shard_for(entry.partition_key, entry.explicit_hash_key)
            headers = _headers(entry, now)
            size = len(entry.data) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 12
            if size > limit:
                raise RecordRefused(
                    f"a record put into `{name}` is {len(entry.data):,} bytes, which with its "
                    f"headers is over the {limit:,} bytes the NATS server at {self.url} takes "
                    "in one message (its max_payload)",
                    stream=name,
                    hint="raise `max_payload` in the server's configuration (2MB takes every "
                    "record up to 1 MiB), or put smaller records",
                )
            routed.append((shard.id, subject(name, index_of[shard.id]), headers))

        # At most IN_FLIGHT publishes wait for their acks: waiting here, with a timeout,
        # rather than in publish_async's own stall wait keeps the loop from yielding after
        # every message, so nats-py writes the publishes to the socket in large chunks.
        futures: list[asyncio.Future[Any]] = []
        stalled: BaseException | str | None = None
        for i, (entry, (_, subj, headers)) in enumerate(zip(entries, routed, strict=True)):
            if i >= IN_FLIGHT and not futures[i - IN_FLIGHT].done():
                await asyncio.wait([futures[i - IN_FLIGHT]], timeout=self.timeout)
                if not futures[i - IN_FLIGHT].done():
                    stalled = "it stopped acknowledging"
                    break
            try:
                futures.append(await js.publish_async(subj, entry.data, headers=headers))
            except (TooManyStalledMsgsError, nats.errors.Error, OSError) as exc:
                stalled = exc  # the connection is gone
                break
        if futures:
            await asyncio.wait(futures, timeout=self.timeout)

        results: list[Put] = []
        acked = 0
        for i, (shard_of, _, _) in enumerate(routed):
            future = futures[i] if i < len(futures) else None
            if future is None or not future.done():
                if future is not None:
                    future.cancel()
                why = stalled or "no acknowledgement in time"
                results.append(
                    Put(error="ServiceUnavailable", message=f"{self.url} did not answer ({why})")
                )
                continue
            if future.cancelled():
                results.append(Put(error="ServiceUnavailable", message="cancelled"))
                continue
            error = future.exception()
            if isinstance(error, NoStreamResponseError):
                self._layouts.pop(name, None)
                raise self._not_found(name)
            if error is not None:
                results.append(Put(error="InternalFailure", message=str(error)))
                continue
            ack = future.result()
            acked += 1
            results.append(
                Put(shard=shard_of, sequence=str(ack.seq), duplicate=bool(ack.duplicate))
            )
        if acked == 0 and all(r.error == "ServiceUnavailable" for r in results):
            raise self._unavailable(name, results[0].message)
        return results

    def read(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> Batch:
        if limit < 1:
            raise ValueError("a read takes at least one record")
        return self._run(self._read(name, shard, position, limit, wait), name, extra=wait)

    async def _read(
        self, name: str, shard: str, position: Position, limit: int, wait: float
    ) -> Batch:
        layout = await self._layout(name)
        ids = [s.id for s in layout.shards]
        if shard not in ids:
            raise StreamNotFound(
                f"stream `{name}` has no shard `{shard}`",
                stream=name,
                hint="`headwater stream describe` lists its shards",
            )
        index = ids.index(shard)
        reader = await self._reader(name, shard, index, position)
        try:
            try:
                msgs = await _take(reader, limit, wait, self.timeout)
            except _ReaderLost:
                # the server dropped the consumer (idle too long, or restarted): a new one
                # takes over where it stood
                await _close_reader(self, reader)
                reader = await self._reader(name, shard, index, Position.at(str(reader.next)))
                msgs = await _take(reader, limit, wait, self.timeout)
            records = []
            for msg in msgs:
                meta = msg.metadata
                records.append(
                    Record(
                        data=msg.data,
                        partition_key=_key(msg.headers),
                        sequence=str(meta.sequence.stream),
                        arrived_ms=int(meta.timestamp.timestamp() * 1000),
                        shard=shard,
                    )
                )
            behind = 0
            if msgs:
                meta = msgs[-1].metadata
                reader.next = meta.sequence.stream + 1
                reader.pending = meta.num_pending
                if meta.num_pending:
                    js = await self._jetstream()
                    newest = await js.get_msg(stream_name(name), subject=subject(name, index))
                    if newest.time is not None:
                        behind = max(
                            0, int(newest.time.timestamp() * 1000) - records[-1].arrived_ms
                        )
            else:
                reader.pending = 0
        except BaseException:
            await _close_reader(self, reader)
            raise
        self._keep_reader(reader)
        return Batch(records=tuple(records), next=Position.at(str(reader.next)), behind_ms=behind)

    async def _reader(self, name: str, shard: str, index: int, position: Position) -> _Reader:
        """A consumer delivering ``position`` next: a kept one, or a new one."""
        from nats.js import api
        from nats.js.errors import NotFoundError

        start = position.start
        if start in (Start.AT_SEQUENCE_NUMBER, Start.AFTER_SEQUENCE_NUMBER):
            seq = parse_sequence(position.sequence, "a NATS stream")
            if start is Start.AFTER_SEQUENCE_NUMBER:
                seq += 1
            with self._readers_lock:
                kept = self._readers.pop((name, shard, seq), None)
            if kept is not None:
                return kept
            config = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(seq, 1)
            )
        elif start is Start.TRIM_HORIZON:
            config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL)
        elif start is Start.LATEST:
            config = api.ConsumerConfig(deliver_policy=api.DeliverPolicy.NEW)
        else:
            when = dt.datetime.fromtimestamp((position.timestamp_ms or 0) / 1000, dt.UTC)
            config = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=when
            )
        js = await self._jetstream()
        nc = self._nc
        assert nc is not None
        config.ack_policy = api.AckPolicy.NONE
        config.filter_subject = subject(name, index)
        config.inactive_threshold = READER_IDLE
        config.name = f"hw-{uuid.uuid4().hex}"
        config.mem_storage = True
        try:
            info = await nc.jsm(timeout=self.timeout).add_consumer(stream_name(name), config)
        except NotFoundError:
            self._layouts.pop(name, None)
            raise self._not_found(name) from None
        sub = await js.pull_subscribe_bind(consumer=info.name, stream=stream_name(name))
        delivered = info.delivered.stream_seq if info.delivered else 0
        return _Reader(
            stream=name,
            shard=shard,
            consumer=info.name,
            sub=sub,
            next=delivered + 1,
            pending=info.num_pending,
        )

    def _keep_reader(self, reader: _Reader) -> None:
        evicted: list[_Reader] = []
        with self._readers_lock:
            old = self._readers.pop((reader.stream, reader.shard, reader.next), None)
            if old is not None:
                evicted.append(old)
            self._readers[(reader.stream, reader.shard, reader.next)] = reader
            while len(self._readers) > READERS_KEPT:
                evicted.append(self._readers.popitem(last=False)[1])
        for gone in evicted:
            task = asyncio.ensure_future(_close_reader(self, gone))
            self._tasks.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self._tasks.discard)

    def _drop_readers(self, name: str) -> None:
        with self._readers_lock:
            keys = [k for k in self._readers if k[0] == name]
            gone = [self._readers.pop(k) for k in keys]
        if gone and not self._closed:

            async def drop() -> None:
                for reader in gone:
                    await _close_reader(self, reader)

            self._run(drop(), name)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def drain() -> None:
            nc = self._nc
            if nc is not None and not nc.is_closed:
                with self._readers_lock:
                    readers = list(self._readers.values())
                    self._readers.clear()
                for reader in readers:
                    await _close_reader(self, reader)
                with contextlib.suppress(Exception):  # a broker gone already: nothing to drain
                    await nc.drain()

        try:
            asyncio.run_coroutine_threadsafe(drain(), self._loop).result(REQUEST_TIMEOUT)
        except Exception:
            pass  # closing: the connection is dropped with the loop below
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(REQUEST_TIMEOUT)
            if not self._thread.is_alive():
                self._loop.close()

    # -- internals ----------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], stream: str = "", extra: float = 0.0) -> T:
        if self._closed:
            coro.close()
            raise StreamError(f"the NATS backend for {self.url} is closed", stream=stream)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout * 3 + extra)
        except TimeoutError:
            future.cancel()
            raise self._unavailable(stream, "no answer in time") from None
        except StreamError:
            raise
        except Exception as exc:
            raise self._translate(exc, stream) from exc

    def _translate(self, exc: Exception, stream: str) -> StreamError:
        import nats.errors
        from nats.js.errors import APIError, ServiceUnavailableError

        if isinstance(
            exc,
            nats.errors.NoServersError
            | nats.errors.ConnectionClosedError
            | nats.errors.TimeoutError
            | nats.errors.StaleConnectionError
            | nats.errors.OutboundBufferLimitError
            | ServiceUnavailableError
            | asyncio.TimeoutError
            | OSError,
        ):
            return self._unavailable(stream, str(exc) or type(exc).__name__)
        if isinstance(exc, APIError):
            return self._api_error(exc, "the NATS server refused the request", stream)
        return StreamError(
            f"NATS at {self.url}: {type(exc).__name__}: {exc}",
            stream=stream,
        )

    def _api_error(self, exc: Exception, what: str, stream: str) -> StreamError:
        return StreamError(
            f"{what} on {self.url}: {exc}",
            stream=stream,
            hint="check the JetStream limits of the server and account (`nats account info`)",
        )

    def _unavailable(self, stream: str, why: str) -> StreamUnavailable:
        return StreamUnavailable(
            f"cannot reach NATS JetStream at {self.url} ({why})",
            stream=stream,
            hint="is nats-server running with JetStream (`nats-server -js`)? set the url of "
            "the connection in headwater.yaml to change it",
        )

    def _not_found(self, name: str) -> StreamNotFound:
        return StreamNotFound(
            f"no stream `{name}` on NATS at {self.url}",
            stream=name,
            hint=f"create it with `headwater stream create {name}`; "
            "`headwater stream list` shows the streams there are",
        )

    def _max_msg_size(self) -> int:
        return MAX_RECORD_BYTES + HEADER_ROOM

    async def _jetstream(self) -> JetStreamContext:
        nc = self._nc
        if nc is not None and not nc.is_closed and self._js is not None:
            return self._js
        import nats
        import nats.errors

        async def ignore(_: Exception) -> None:
            return None

        try:
            nc = await nats.connect(
                servers=self.servers,
                connect_timeout=CONNECT_TIMEOUT,
                allow_reconnect=True,
                max_reconnect_attempts=1,  # a first connection fails fast …
                reconnect_time_wait=0.2,
                error_cb=ignore,
                name="headwater",
            )
        except (TimeoutError, nats.errors.NoServersError, OSError) as exc:
            raise self._unavailable("", str(exc) or type(exc).__name__) from exc
        # … and a made one rides out a broker restart of any length: calls meanwhile fail
        # with StreamUnavailable when their acks or replies do not come in time
        nc.options["max_reconnect_attempts"] = -1
        self._nc = nc
        self._js = nc.jetstream(timeout=self.timeout, publish_async_max_pending=IN_FLIGHT + 1)
        return self._js

    async def _layout(self, name: str) -> _Layout:
        from nats.js.errors import NotFoundError

        cached = self._layouts.get(name)
        if cached is not None and time.monotonic() - cached.checked < LAYOUT_TTL:
            return cached
        js = await self._jetstream()
        try:
            info = await js.stream_info(stream_name(name))
        except NotFoundError:
            self._layouts.pop(name, None)
            raise self._not_found(name) from None
        return self._layout_of(name, info.config)

    def _layout_of(self, name: str, config: Any) -> _Layout:
        described = _described(config)
        if described is None:
            raise StreamError(
                f"JetStream stream `{stream_name(name)}` on {self.url} was not created by "
                "Headwater (its description holds no shard layout)",
                stream=name,
                hint="delete it, or give the Headwater stream another name",
            )
        shards = even_shards(int(described["shards"]))
        layout = _Layout(shards, Router(shards), time.monotonic())
        self._layouts[name] = layout
        return layout


class _ReaderLost(Exception):
    """A reader's consumer is gone from the server."""


async def _take(reader: _Reader, limit: int, wait: float, timeout: float) -> list[Any]:
    """Up to ``limit`` messages from a reader, waiting up to ``wait`` s for the first one."""
    from nats.js.errors import NotFoundError

    msgs: list[Any] = []
    pending = reader.pending
    if pending is None or (pending == 0 and wait <= 0):
        # unknown, or maybe stale: ask rather than wait for a fetch to expire
        try:
            pending = (await reader.sub.consumer_info()).num_pending
        except NotFoundError:
            raise _ReaderLost from None
    if pending:
        msgs = await _fetch(reader, limit, timeout)
        if not msgs:
            raise _ReaderLost  # records wait, yet none came
    if not msgs and wait > 0:
        msgs = await _fetch(reader, 1, wait)
        if not msgs:
            # nothing came: the next read asks the server again, which also finds a consumer
            # the server lost (restarted) rather than waiting on it for ever
            reader.pending = None
        elif limit > 1 and msgs[0].metadata.num_pending:
            msgs += await _fetch(reader, limit - 1, timeout)
    return msgs


async def _fetch(reader: _Reader, batch: int, timeout: float) -> list[Any]:
    import nats.errors
    from nats.js.errors import APIError

    try:
        return list(await reader.sub.fetch(batch, timeout=timeout))
    except (TimeoutError, nats.errors.TimeoutError):
        return []
    except APIError as exc:  # 409 consumer deleted, 404 no such consumer
        raise _ReaderLost from exc


async def _close_reader(log: NatsLog, reader: _Reader) -> None:
    """Unsubscribe and delete a reader's consumer (the server drops it when idle anyway)."""
    with contextlib.suppress(Exception):
        await reader.sub.unsubscribe()
    nc = log._nc
    if nc is not None and nc.is_connected:
        with contextlib.suppress(Exception):  # gone already: the server dropped it
            await nc.jsm(timeout=log.timeout).delete_consumer(
                stream_name(reader.stream), reader.consumer
            )


def _headers(entry: Entry, now_ms: str) -> dict[str, str]:
    key = entry.partition_key
    if key.isascii() and key.isprintable() and key == key.strip():
        headers = {KEY: key, PUT_MS: now_ms}
    else:
        headers = {KEY_B64: base64.b64encode(key.encode()).decode(), PUT_MS: now_ms}
    if entry.id is not None:
        headers[MSG_ID] = entry.id
    return headers


def _key(headers: dict[str, str] | None) -> str:
    if not headers:
        return ""
    key = headers.get(KEY)
    if key is not None:
        return key
    encoded = headers.get(KEY_B64)
    return base64.b64decode(encoded).decode() if encoded else ""


def _described(config: Any) -> dict[str, Any] | None:
    try:
        described = json.loads(config.description or "")
    except ValueError:
        return None
    if not isinstance(described, dict) or described.get("headwater") != 1:
        return None
    return described


def _headwater_name(config: Any) -> str | None:
    name = config.name or ""
    if not name.startswith(PREFIX):
        return None
    described = _described(config)
    if described is None:
        return None
    return str(described.get("name") or _unescape(name[len(PREFIX) :]))


__all__ = ["NatsLog", "shard_id", "stream_name", "subject"]
