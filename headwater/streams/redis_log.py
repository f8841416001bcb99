"""Streams on Redis Streams: one Redis stream per shard, appended by a Lua script that drops a
second put of the same record id.

Keys (``hw:`` is the default prefix; a connection's database is the one in its URL):

- ``hw:streams`` — a set of the stream names;
- ``hw:stream:<name>`` — a hash with the layout: ``shards`` (the count), ``ranges`` (JSON
  ``[[shard id, first hash key, last hash key], …]``, as :func:`even_shards` splits the MD5
  space), ``retention_hours``, ``retention_bytes`` (empty: no size limit), ``created_ms`` and
  ``generation`` (a random token, new at each create, so a writer holding the layout of a
  deleted stream never writes into one re-created under the same name);
- ``hw:stream:<name>:<index>`` — the Redis stream of shard ``index``, each entry with the
  fields ``data``, ``key`` (the partition key) and ``id`` (the de-duplication id, empty when
  none);
- ``hw:stream:<name>:id:<id>`` — a record id seen within the de-duplication window (default
  2 minutes; the key expires then), holding ``<generation> <shard index> <entry id>``.

Sequence numbers. A Redis entry id ``ms-seq`` is the sequence number ``ms * 2**20 + seq`` (a
decimal string), so sequence numbers grow within a shard as entry ids do, and the arrival time
is ``sequence >> 20``. ``seq`` counts the entries added within one millisecond; a shard would
need more than 1,048,576 of them in one millisecond to overflow, and such a record is refused
(``ProvisionedThroughputExceededException``) rather than given a number that breaks the
order. ``AT_TIMESTAMP t`` reads from the entry id ``t-0``; ``LATEST`` from just after the
shard's last-generated id.

Putting. One ``EVALSHA`` per shard and chunk of records, all in one pipeline: one round trip
per put, whatever its size. The script checks the layout's generation, and for each record
with an id looks the id up: seen, it returns the original's entry id (``Put.duplicate``);
unseen, it ``XADD``\\s the record and sets the id key with the window as its TTL. A script runs
atomically and its effects reach the append-only file together, so a retried put after a
server restart adds each record once, provided the retry comes within the window.

Reading. One pipeline per read: the layout's generation, ``XRANGE`` from the position
(``COUNT`` the limit) and the shard's newest entry (``XREVRANGE … COUNT 1``, for how far
behind the read is); ``XREAD BLOCK`` when a read waits and nothing was there. The client hands
these replies over as Redis sent them, and ``read_block`` — what a delivery uses — keeps the
entries as a few columns, not a record each (:mod:`headwater.streams.redis_entries`).

Retention, approximately, as Redis trims whole nodes of a stream (``~``): after each put the
shard is trimmed with ``XTRIM MINID ~ <now - retention>`` (the server's clock), and with
``retention_bytes`` also ``XTRIM MAXLEN ~ <retention_bytes / mean record size>``, the mean
taken over the records of that put (data, key and id plus 16 bytes of entry overhead) — an
estimate of the payload kept, not of Redis' memory use.

Redis Cluster is not supported: the script touches keys of several hash slots. Reads and
writes go through redis-py's connection pool; redis-py's own retries are turned off, because
the one retry policy (:mod:`headwater.retry`) retries on :class:`StreamUnavailable`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
import redis.exceptions
from redis.backoff import NoBackoff
from redis.retry import Retry

from headwater.errors import StreamError, StreamExists, StreamNotFound, StreamUnavailable
from headwater.streams.log import Retention, ShardState, StreamInfo
from headwater.streams.records import Batch, Entry, Position, Put, Start
from headwater.streams.redis_entries import (
    SEQ_BITS,
    SEQ_LIMIT,
    Columns,
    EntryBlock,
    as_sent,
    behind,
    collector_paused,
    columns,
    records,
    to_entry_id,
    to_sequence,
)
from headwater.streams.sharding import Router, Shard, even_shards
from headwater.streams.validate import check_entry, check_name, parse_sequence

ENTRY_OVERHEAD = 16  # bytes counted per record beside its data, key and id (MAXLEN estimate)
CHUNK_RECORDS = 1000  # records per script call: a call blocks the server while it runs
CHUNK_BYTES = 4 << 20
DEDUP_WINDOW = 120.0  # seconds an id is remembered
BLOCK_SLACK = 1.0  # seconds of socket timeout beyond an XREAD BLOCK
T = TypeVar("T")

# KEYS: layout, shard stream. ARGV: generation, shard index, id key prefix, dedup TTL (ms),
# retention (ms, 0: none), MAXLEN (0: none), then data, key, id for each record.
PUT_SCRIPT = (
    """
if redis.call('HGET', KEYS[1], 'generation') ~= ARGV[1] then
  return redis.error_reply('HWSTALE layout changed')
end
local out = {}
local ttl = tonumber(ARGV[4])
for i = 7, #ARGV, 3 do
  local rid = ARGV[i + 2]
  local seen = false
  if rid ~= '' then
    local old = redis.call('GET', ARGV[3] .. rid)
    if old then
      local gen, shard, eid = string.match(old, '^(%S+) (%S+) (%S+)$')
      if gen == ARGV[1] then
        out[#out + 1] = '=' .. shard .. ' ' .. eid
        seen = true
      end
    end
  end
  if not seen then
    local eid = redis.call('XADD', KEYS[2], '*', 'data', ARGV[i], 'key', ARGV[i + 1], 'id', rid)
    if tonumber(string.match(eid, '-(%d+)$')) >= """
    + str(SEQ_LIMIT)
    + """ then
      redis.call('XDEL', KEYS[2], eid)
      out[#out + 1] = '!'
    else
      if rid ~= '' then
        redis.call('SET', ARGV[3] .. rid, ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. eid, 'PX', ttl)
      end
      out[#out + 1] = '+' .. eid
    end
  end
end
local keep = tonumber(ARGV[5])
if keep > 0 then
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - keep
  if cutoff > 0 then
    redis.call('XTRIM', KEYS[2], 'MINID', '~', string.format('%d-0', cutoff))
  end
end
local maxlen = tonumber(ARGV[6])
if maxlen > 0 then
  redis.call('XTRIM', KEYS[2], 'MAXLEN', '~', maxlen)
end
return out
"""
)

# KEYS: layout, registry. ARGV: name, then the layout's fields and values.
CREATE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS: layout, registry. ARGV: name, shard key prefix.
DELETE_SCRIPT = """
local count = redis.call('HGET', KEYS[1], 'shards')
if not count then
  return 0
end
for i = 0, tonumber(count) - 1 do
  redis.call('DEL', ARGV[2] .. i)
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class _Layout:
    shards: tuple[Shard, ...]
    router: Router
    retention: Retention
    created_ms: int
    generation: str

    def index(self, shard: str) -> int:
        for i, s in enumerate(self.shards):
            if s.id == shard:
                return i
        return -1


class RedisLog:
    """Streams on one Redis database (see the module docstring)."""

    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hw:",
        dedup_window: float = DEDUP_WINDOW,
        timeout: float = 10.0,
    ) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # one retry policy, above this layer
        )
        for command in ("XRANGE", "XREVRANGE", "XREAD"):  # see redis_entries.columns
            self.client.set_response_callback(command, as_sent)
        kwargs = self.client.connection_pool.connection_kwargs
        self.address = f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self.prefix = prefix
        self.timeout = timeout
        self.dedup_ms = max(1, int(dedup_window * 1000))
        self._registry = f"{prefix}streams"
        self._layouts: dict[str, _Layout] = {}
        self._lock = threading.Lock()
        self._put_sha = self._create_sha = self._delete_sha = ""

    # -- keys -----------------------------------------------------------------------------

    def _layout_key(self, name: str) -> str:
        return f"{self.prefix}stream:{name}"

    def _shard_key(self, name: str, index: int) -> str:
        return f"{self.prefix}stream:{name}:{index}"

    def _id_prefix(self, name: str) -> str:
        return f"{self.prefix}stream:{name}:id:"

    # -- streams --------------------------------------------------------------------------

    def create(self, name: str, shards: int, retention: Retention) -> None:
        check_name(name)
        layout = even_shards(shards)
        fields = {
            "shards": str(len(layout)),
            "ranges": json.dumps([[s.id, str(s.start_hash), str(s.end_hash)] for s in layout]),
            "retention_hours": repr(float(retention.hours)),
            "retention_bytes": "" if retention.bytes is None else str(retention.bytes),
            "created_ms": str(int(time.time() * 1000)),
            "generation": uuid.uuid4().hex,
        }
        flat = [v for pair in fields.items() for v in pair]
        created = self._script(
            "create", CREATE_SCRIPT, [self._layout_key(name), self._registry], [name, *flat]
        )
        if not created:
            raise StreamExists(
                f"stream `{name}` exists already on Redis at {self.address}",
                stream=name,
                hint=f"use it, or delete it first with `headwater stream delete {name}`",
            )
        with self._lock:
            self._layouts.pop(name, None)

    def delete(self, name: str) -> None:
        deleted = self._script(
            "delete",
            DELETE_SCRIPT,
            [self._layout_key(name), self._registry],
            [name, f"{self.prefix}stream:{name}:"],
        )
        with self._lock:
            self._layouts.pop(name, None)
        if not deleted:
            raise self._not_found(name)

        def forget_ids() -> None:  # they would expire within the window anyway
            batch: list[bytes] = []
            for key in self.client.scan_iter(match=_glob(self._id_prefix(name)) + "*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    self.client.unlink(*batch)
                    batch = []
            if batch:
                self.client.unlink(*batch)

        self._call(forget_ids)

    def names(self) -> list[str]:
        members = self._call(lambda: self.client.smembers(self._registry))
        return sorted(_text(m) for m in members)

    def describe(self, name: str) -> StreamInfo:
        layout = self._layout(name, refresh=True)

        def states() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for i in range(len(layout.shards)):
                key = self._shard_key(name, i)
                pipe.xlen(key)
                pipe.xrange(key, "-", "+", count=1)
                pipe.xrevrange(key, "+", "-", count=1)
            return pipe.execute()

        replies = self._call(states)
        shards = []
        for i, shard in enumerate(layout.shards):
            count, first, last = replies[3 * i : 3 * i + 3]
            shards.append(
                ShardState(
                    shard,
                    first=str(to_sequence(first[0][0])) if first else None,
                    last=str(to_sequence(last[0][0])) if last else None,
                    records=int(count),
                )
            )
        return StreamInfo(
            name=name,
            backend=self.kind,
            shards=tuple(shards),
            retention=layout.retention,
            created_ms=layout.created_ms,
        )

    # -- records --------------------------------------------------------------------------

    def put(self, name: str, entries: Sequence[Entry]) -> list[Put]:
        for entry in entries:
            check_entry(entry, name)
        results: list[Put | None] = [None] * len(entries)
        pending = list(range(len(entries)))
        layout = self._layout(name)
        for _ in range(3):
            stale = self._put_once(name, layout, entries, pending, results)
            if not stale:
                return [r if r is not None else Put() for r in results]
            pending = stale
            layout = self._layout(name, refresh=True)  # StreamNotFound when it was deleted
        raise StreamError(
            f"stream `{name}` on Redis at {self.address} was re-created during a put, "
            "three times in a row",
            stream=name,
            hint="something deletes and creates this stream in a loop; stop it and put again",
        )

    def _put_once(
        self,
        name: str,
        layout: _Layout,
        entries: Sequence[Entry],
        indexes: list[int],
        results: list[Put | None],
    ) -> list[int]:
        """Put ``entries[i]`` for i in ``indexes``; the indexes whose chunk met a changed layout."""
        by_shard: dict[int, list[int]] = {}
        starts = {s.id: i for i, s in enumerate(layout.shards)}
        for index in indexes:
            entry = entries[index]
            shard = layout.router.shard_for(entry.partition_key, entry.explicit_hash_key)
            by_shard.setdefault(starts[shard.id], []).append(index)
        retention_ms = int(layout.retention.hours * 3_600_000)
        calls: list[tuple[int, list[int], list[Any]]] = []
        for shard_index, members in by_shard.items():
            for chunk in _chunks(entries, members):
                args: list[Any] = [
                    layout.generation,
                    shard_index,
                    self._id_prefix(name),
                    self.dedup_ms,
                    retention_ms,
                    _maxlen(layout.retention, [entries[i] for i in chunk]),
                ]
                for i in chunk:
                    e = entries[i]
                    args += (e.data, e.partition_key, e.id or "")
                calls.append((shard_index, chunk, args))
        keys = {i: [self._layout_key(name), self._shard_key(name, i)] for i in by_shard}
        replies = self._evalsha_all("put", PUT_SCRIPT, [(keys[s], a) for s, _, a in calls])
        stale: list[int] = []
        for (shard_index, chunk, _), reply in zip(calls, replies, strict=True):
            if isinstance(reply, redis.exceptions.ResponseError):
                if str(reply).startswith("HWSTALE"):
                    stale += chunk
                    continue
                raise self._failed(reply)
            for index, outcome in zip(chunk, reply, strict=True):
                results[index] = self._outcome(layout, shard_index, outcome)
        return stale

    def _outcome(self, layout: _Layout, shard_index: int, outcome: bytes) -> Put:
        text = outcome.decode()
        if text.startswith("+"):
            shard = layout.shards[shard_index].id
            return Put(shard=shard, sequence=str(to_sequence(text[1:])))
        if text.startswith("="):
            original, _, eid = text[1:].partition(" ")
            shard = layout.shards[int(original)].id
            return Put(shard=shard, sequence=str(to_sequence(eid)), duplicate=True)
        return Put(
            error="ProvisionedThroughputExceededException",
            message=f"more than {SEQ_LIMIT:,} records in one millisecond in shard "
            f"{layout.shards[shard_index].id}; put it again",
        )

    def read(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> Batch:
        got, start, tip = self._fetch(name, shard, position, limit, wait)
        if not got[0]:
            return Batch(records=(), next=Position.at(str(start)), behind_ms=0)
        last = to_sequence(got[0][-1])
        return Batch(
            records=records(got, shard),
            next=Position.after(str(last)),
            behind_ms=behind(last, tip),
        )

    def read_block(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> EntryBlock:
        """As :meth:`read`, batch-shaped: the entries' data in one buffer, their ids and keys
        as Redis sent them (see :class:`~headwater.streams.redis_entries.EntryBlock`); what a
        delivery reads."""
        got, start, tip = self._fetch(name, shard, position, limit, wait)
        if not got[0]:
            return EntryBlock.of(got, shard, Position.at(str(start)), 0)
        last = to_sequence(got[0][-1])
        return EntryBlock.of(got, shard, Position.after(str(last)), behind(last, tip))

    def _fetch(
        self, name: str, shard: str, position: Position, limit: int, wait: float
    ) -> tuple[Columns, int, list[Any]]:
        """Up to ``limit`` entries of ``shard`` from ``position`` (waiting up to ``wait``
        seconds for a first one) as columns; with the sequence number they were read from
        and the shard's newest entry (an ``XREVRANGE … COUNT 1`` reply)."""
        layout = self._layout(name)
        index = layout.index(shard)
        if index < 0:
            layout = self._layout(name, refresh=True)
            index = layout.index(shard)
            if index < 0:
                raise StreamNotFound(
                    f"stream `{name}` has no shard `{shard}`",
                    stream=name,
                    hint="`headwater stream describe` lists its shards",
                )
        key = self._shard_key(name, index)
        start = self._start(name, layout, key, position)
        deadline = time.monotonic() + wait
        limit = max(1, limit)

        def look() -> tuple[Any, Columns, list[Any]]:
            pipe = self.client.pipeline(transaction=False)
            pipe.hget(self._layout_key(name), "generation")
            pipe.xrange(key, to_entry_id(start), "+", count=limit)
            pipe.xrevrange(key, "+", "-", count=1)
            with collector_paused():
                generation, rows, tip = pipe.execute()
                got = columns(rows, shard)
                del rows  # freed before the collector runs again
            return generation, got, tip

        generation, got, tip = self._call(look)
        # deleted (StreamNotFound), or deleted and created again: entry ids still grow with
        # time, so the position stays meaningful if the shard is still there
        changed = generation is None or generation.decode() != layout.generation
        if changed and self._layout(name, refresh=True).index(shard) != index:
            raise self._not_found(name)
        while not got[0] and time.monotonic() < deadline:
            got, tip = self._block(key, shard, start, limit, deadline - time.monotonic())
        return got, start, tip

    def _block(
        self, key: str, shard: str, start: int, limit: int, left: float
    ) -> tuple[Columns, list[Any]]:
        """Wait up to ``left`` seconds for entries from ``start``: (them, the newest entry)."""
        block_ms = max(1, int(min(left, max(0.1, self.timeout - BLOCK_SLACK)) * 1000))
        after = to_entry_id(start - 1) if start > 0 else "0-0"

        def xread() -> Any:  # replies as sent (see __init__), not as redis-py types them
            return self.client.xread({key: after}, count=limit, block=block_ms)

        def newest() -> Any:
            return self.client.xrevrange(key, "+", "-", count=1)

        reply = self._call(xread)
        if not reply:
            return ([], [], []), []
        # RESP3 sends a map of stream to entries, RESP2 a list of [stream, entries]
        rows = next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]
        return columns(rows, shard), self._call(newest)

    def close(self) -> None:
        self.client.close()

    # -- internals ------------------------------------------------------------------------

    def _start(self, name: str, layout: _Layout, key: str, position: Position) -> int:
        """The first sequence number a read from ``position`` may return."""
        kind = position.start
        if kind is Start.TRIM_HORIZON:
            return 0
        if kind is Start.AT_TIMESTAMP:
            return max(0, position.timestamp_ms or 0) << SEQ_BITS
        if kind is Start.LATEST:
            try:
                info = self._call(lambda: self.client.xinfo_stream(key))
            except StreamError as exc:
                if "no such key" in str(exc).lower():
                    return 1  # nothing was ever put: the first entry id is above 0-0
                raise
            return to_sequence(info["last-generated-id"]) + 1
        sequence = parse_sequence(position.sequence, "a Redis stream", name)
        return sequence + 1 if kind is Start.AFTER_SEQUENCE_NUMBER else sequence

    def _layout(self, name: str, *, refresh: bool = False) -> _Layout:
        with self._lock:
            cached = self._layouts.get(name)
        if cached is not None and not refresh:
            return cached
        fields = self._call(lambda: self.client.hgetall(self._layout_key(name)))
        if not fields:
            with self._lock:
                self._layouts.pop(name, None)
            raise self._not_found(name)
        values = {_text(k): _text(v) for k, v in fields.items()}
        shards = tuple(Shard(sid, int(a), int(b)) for sid, a, b in json.loads(values["ranges"]))
        size = values.get("retention_bytes", "")
        layout = _Layout(
            shards=shards,
            router=Router(shards),
            retention=Retention(
                hours=float(values["retention_hours"]), bytes=int(size) if size else None
            ),
            created_ms=int(values["created_ms"]),
            generation=values["generation"],
        )
        with self._lock:
            self._layouts[name] = layout
        return layout

    def _script(self, which: str, source: str, keys: list[str], args: list[Any]) -> Any:
        [reply] = self._evalsha_all(which, source, [(keys, args)])
        if isinstance(reply, redis.exceptions.ResponseError):
            raise self._failed(reply)
        return reply

    def _evalsha_all(
        self, which: str, source: str, calls: list[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        """Run a script once per (keys, args) in one pipeline; a reply per call, errors as
        values. A server that lost its script cache (a restart) gets the script again, and
        only the calls it refused run again: a refused call did nothing."""
        attribute = f"_{which}_sha"
        replies: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(2):
            sha = getattr(self, attribute)
            if not sha or attempt:
                sha = self._call(lambda: self.client.script_load(source))
                setattr(self, attribute, sha)

            def run(sha: str = sha, todo: list[int] = todo) -> list[Any]:
                pipe = self.client.pipeline(transaction=False)
                for i in todo:
                    keys, args = calls[i]
                    pipe.evalsha(sha, len(keys), *keys, *args)
                return pipe.execute(raise_on_error=False)

            missing = []
            for i, reply in zip(todo, self._call(run), strict=True):
                if isinstance(reply, redis.exceptions.NoScriptError):
                    missing.append(i)
                replies[i] = reply
            if not missing:
                break
            todo = missing
        return replies

    def _call(self, function: Callable[[], T]) -> T:
        try:
            return function()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StreamUnavailable(
                f"cannot reach Redis at {self.address} ({exc})",
                hint="is the server running? check the connection's `url`; nothing of the "
                "failed call was acknowledged, so putting the same records again with their "
                "ids adds each once",
            ) from exc
        except redis.exceptions.RedisError as exc:
            raise self._failed(exc) from exc

    def _failed(self, exc: BaseException) -> StreamError:
        return StreamError(
            f"Redis at {self.address} refused a stream command: {exc}",
            hint="Redis Streams need Redis 6.2 or later; check the server's log",
        )

    def _not_found(self, name: str) -> StreamNotFound:
        return StreamNotFound(
            f"no stream `{name}` on Redis at {self.address}",
            stream=name,
            hint=f"create it with `headwater stream create {name}`; "
            "`headwater stream list` shows the streams there are",
        )


def _chunks(entries: Sequence[Entry], members: list[int]) -> list[list[int]]:
    """``members`` cut into chunks of at most CHUNK_RECORDS records and about CHUNK_BYTES."""
    chunks: list[list[int]] = []
    chunk: list[int] = []
    size = 0
    for index in members:
        length = len(entries[index].data)
        if chunk and (len(chunk) >= CHUNK_RECORDS or size + length > CHUNK_BYTES):
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(index)
        size += length
    if chunk:
        chunks.append(chunk)
    return chunks


def _maxlen(retention: Retention, entries: list[Entry]) -> int:
    """The MAXLEN that keeps about ``retention.bytes`` of records the size of ``entries``."""
    if retention.bytes is None or not entries:
        return 0
    total = sum(
        len(e.data) + len(e.partition_key) + len(e.id or "") + ENTRY_OVERHEAD for e in entries
    )
    return max(1, retention.bytes * len(entries) // total)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob(text: str) -> str:
    """``text`` with the characters special to a Redis MATCH pattern escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
