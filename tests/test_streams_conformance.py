"""What the StreamLog Protocol promises, asserted the same way on every backend: the embedded
log, Redis Streams, NATS JetStream and Kinesis (moto's server). Where a broker cannot keep a
promise, the backend documents it (module docstring and docs/streams.md) and the test asserts
the documented behaviour, named by one of the flags of :class:`Backend`.

Clocks. Kinesis's arrival times are approximate (``ApproximateArrivalTimestamp``), moto has
sent them in whole seconds, and the Kinesis backend places what a LATEST read found by the
HTTP ``Date`` of Kinesis's answer, in whole seconds; the other backends stamp milliseconds.
So a test trusts Kinesis's clock to the second only (``Backend.clock_ms``), and the records on
either side of an ``AT_TIMESTAMP`` boundary are put in different whole seconds, the boundary
being the start of the later one: every backend then agrees on which records arrived at or
after it, whatever its clock's resolution.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from headwater.errors import RecordRefused, StreamError, StreamExists, StreamNotFound
from headwater.streams.log import Retention, StreamLog
from headwater.streams.records import (
    LATEST,
    MAX_RECORD_BYTES,
    TRIM_HORIZON,
    Entry,
    Position,
    Put,
    Record,
    Start,
)
from headwater.streams.sharding import HASH_MAX, Router, even_shards
from tests import services
from tests.stream_support import BACKENDS, open_log

SHARD0 = "shardId-000000000000"
BLOCK_READS = {"embedded", "redis"}  # the backends with a batch-shaped read (``read_block``)


@dataclass(frozen=True)
class Backend:
    kind: str
    log: StreamLog
    clock_ms: int  # the resolution of Record.arrived_ms a reader may rely on
    dedup: bool  # drops a second put of an Entry.id (Kinesis has no such thing)
    counts: bool  # describe() knows each shard's records and newest sequence number


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    kind: str = request.param
    prefixes = services.redis_prefix("hw_test_conformance") if kind == "redis" else None
    prefix = next(prefixes) if prefixes is not None else "hw:"
    s3 = request.getfixturevalue("s3_server") if kind == "kinesis" else None
    log = open_log(kind, folder=tmp_path_factory.mktemp("streams"), redis_prefix=prefix, s3=s3)
    try:
        yield Backend(
            kind=kind,
            log=log,
            clock_ms=1000 if kind == "kinesis" else 1,
            dedup=kind != "kinesis",
            counts=kind != "kinesis",
        )
    finally:
        log.close()
        if prefixes is not None:
            prefixes.close()  # deletes every key under the prefix


@pytest.fixture
def new_stream(backend: Backend) -> Iterator[Callable[..., str]]:
    """Creates streams of unique names; each is deleted after the test."""
    made: list[str] = []

    def create(shards: int = 1) -> str:
        name = f"conf-{uuid.uuid4().hex[:12]}"
        backend.log.create(name, shards, Retention())
        made.append(name)
        return name

    yield create
    existing = set(backend.log.names())
    for name in made:
        if name in existing:
            backend.log.delete(name)


def now_ms() -> int:
    return int(time.time() * 1000)


def next_second() -> int:
    """Sleep into the next whole second; its start (Unix ms). See the module docstring."""
    boundary = (now_ms() // 1000 + 1) * 1000
    time.sleep((boundary - now_ms()) / 1000 + 0.02)
    return boundary


def read_all(
    log: StreamLog, name: str, shard: str, position: Position = TRIM_HORIZON, limit: int = 1000
) -> list[Record]:
    out: list[Record] = []
    while True:
        batch = log.read(name, shard, position, limit)
        assert batch.next.start is not Start.LATEST
        assert len(batch.records) <= limit
        out += batch.records
        position = batch.next
        if not batch.records:
            return out


def data(records: list[Record] | tuple[Record, ...]) -> list[bytes]:
    return [r.data for r in records]


# -- streams --------------------------------------------------------------------------------


def test_create_describe_names_and_delete(backend: Backend) -> None:
    log, name = backend.log, f"conf-{uuid.uuid4().hex[:12]}"
    before = now_ms()
    log.create(name, 3, Retention())
    try:
        info = log.describe(name)
        assert (info.name, info.backend, log.kind) == (name, backend.kind, backend.kind)
        assert [s.shard for s in info.shards] == list(even_shards(3))
        assert info.retention == Retention(hours=24.0)
        assert before // 1000 * 1000 - 1000 <= info.created_ms <= now_ms()
        if backend.counts:
            assert info.records == 0
            assert all(s.first is None and s.last is None for s in info.shards)
        else:  # Kinesis: where each shard's sequence numbers start, no counts
            assert info.records is None
        names = log.names()
        assert name in names and names == sorted(names)
        with pytest.raises(StreamExists, match=f"stream `{name}` exists already"):
            log.create(name, 1, Retention())
        with pytest.raises(StreamNotFound, match=f"stream `{name}` has no shard `shardId-0+9`"):
            log.read(name, "shardId-000000000009", TRIM_HORIZON, 10)
    finally:
        log.delete(name)
    assert name not in log.names()
    for call in (
        lambda: log.describe(name),
        lambda: log.delete(name),
        lambda: log.put(name, [Entry(b"x", "k")]),
        lambda: log.put(name, []),
        lambda: log.read(name, SHARD0, TRIM_HORIZON, 10),
    ):
        with pytest.raises(StreamNotFound, match=f"no stream `{name}`"):
            call()


def test_a_bad_stream_name_is_refused(backend: Backend) -> None:
    with pytest.raises(StreamError, match="`a/b` is not a valid stream name"):
        backend.log.create("a/b", 1, Retention())


# -- puts -----------------------------------------------------------------------------------

# the same puts on every backend, and what every backend must give back for them; explicit
# hash keys at a shard's first key and inside one (moto's Kinesis takes a shard's range as
# excluding its last key, and fails on a record hashed there: real Kinesis does not)
ENTRIES = [Entry(f"event {i}".encode(), f"user-{i % 17}") for i in range(60)] + [
    Entry(b"lowest", "k", explicit_hash_key=0),
    Entry(b"highest", "k", explicit_hash_key=HASH_MAX - 1),
    Entry(b"second's first", "k", explicit_hash_key=even_shards(3)[1].start_hash),
    Entry(b"middle", "k", explicit_hash_key=HASH_MAX // 2),
    Entry(b"\x00\xffbinary", "ünïcödé-ключ"),
]
ROUTER = Router(even_shards(3))
EXPECTED = {
    shard.id: [
        (e.data, e.partition_key)
        for e in ENTRIES
        if ROUTER.shard_for(e.partition_key, e.explicit_hash_key) == shard
    ]
    for shard in even_shards(3)
}


def test_puts_go_where_the_router_says_in_order(
    backend: Backend, new_stream: Callable[..., str]
) -> None:
    log, name = backend.log, new_stream(3)
    assert log.put(name, []) == []
    before = now_ms()
    puts = log.put(name, ENTRIES)
    after = now_ms()

    assert len(puts) == len(ENTRIES)
    assert all(p.ok and not p.duplicate and p.error is None for p in puts)
    assert [p.shard for p in puts] == [
        ROUTER.shard_for(e.partition_key, e.explicit_hash_key).id for e in ENTRIES
    ]
    assert {p.shard for p in puts} == {s.id for s in even_shards(3)}
    for shard in even_shards(3):
        sequences = [int(p.sequence) for p in puts if p.shard == shard.id]
        assert all(a < b for a, b in itertools.pairwise(sequences))

    earliest = before // backend.clock_ms * backend.clock_ms
    for shard in even_shards(3):
        records = read_all(log, name, shard.id, limit=7)
        assert [(r.data, r.partition_key) for r in records] == EXPECTED[shard.id]
        assert [r.sequence for r in records] == [p.sequence for p in puts if p.shard == shard.id]
        assert all(r.sequence.isdigit() for r in records)  # a decimal string, as Kinesis's
        assert all(r.shard == shard.id for r in records)
        assert all(earliest <= r.arrived_ms <= after for r in records)
        arrivals = [r.arrived_ms for r in records]
        assert arrivals == sorted(arrivals)

    info = log.describe(name)
    for state in info.shards:
        mine = [p.sequence for p in puts if p.shard == state.shard.id]
        if backend.counts:
            assert (state.first, state.last, state.records) == (mine[0], mine[-1], len(mine))
        else:  # documented: Kinesis cannot tell a shard's newest sequence number
            assert state.records is None and state.last is None
    assert info.records == (len(ENTRIES) if backend.counts else None)


def test_refused_records_say_why_the_same_way_and_nothing_is_put(
    backend: Backend, new_stream: Callable[..., str]
) -> None:
    log, name = backend.log, new_stream()
    too_big = Entry(b"x" * (MAX_RECORD_BYTES + 1), "k")
    refusals = [
        (too_big, "is 1,048,577 bytes; a record takes at most 1,048,576 (1 MiB)"),
        (Entry(b"x", ""), "has a partition key of 0 characters; it takes 1 to 256"),
        (Entry(b"x", "k" * 257), "has a partition key of 257 characters; it takes 1 to 256"),
        (
            Entry(b"x", "k", explicit_hash_key=HASH_MAX + 1),
            f"has the explicit hash key {HASH_MAX + 1}, outside 0 … 2^128-1",
        ),
    ]
    for entry, why in refusals:
        message = re.escape(f"a record put into `{name}` {why}")
        with pytest.raises(RecordRefused, match=message):
            log.put(name, [Entry(b"fine", "k"), entry])
    assert read_all(log, name, SHARD0) == []


# -- reads ----------------------------------------------------------------------------------


def test_the_five_positions(backend: Backend, new_stream: Callable[..., str]) -> None:
    log, name = backend.log, new_stream()
    first = log.put(name, [Entry(f"a{i}".encode(), "k") for i in range(4)])
    boundary = next_second()
    second = log.put(name, [Entry(f"b{i}".encode(), "k") for i in range(3)])
    everything = [f"a{i}".encode() for i in range(4)] + [f"b{i}".encode() for i in range(3)]

    assert data(read_all(log, name, SHARD0)) == everything
    assert data(read_all(log, name, SHARD0, Position.at(first[1].sequence))) == everything[1:]
    assert data(read_all(log, name, SHARD0, Position.after(first[1].sequence))) == everything[2:]
    assert data(read_all(log, name, SHARD0, Position.at(second[-1].sequence))) == [b"b2"]
    assert read_all(log, name, SHARD0, Position.after(second[-1].sequence)) == []
    at = lambda ms: Position(Start.AT_TIMESTAMP, timestamp_ms=ms)  # noqa: E731
    assert data(read_all(log, name, SHARD0, at(boundary))) == everything[4:]
    assert data(read_all(log, name, SHARD0, at(0))) == everything
    assert read_all(log, name, SHARD0, at(now_ms() + 60_000)) == []

    # LATEST: nothing now; its next position is concrete and sees what is put afterwards
    latest = log.read(name, SHARD0, LATEST, 10)
    assert latest.records == () and latest.behind_ms == 0
    assert latest.next.start is not Start.LATEST
    third = log.put(name, [Entry(b"c0", "k")])
    after = log.read(name, SHARD0, latest.next, 10)
    assert data(after.records) == [b"c0"]
    assert after.records[0].sequence == third[0].sequence
    assert int(third[0].sequence) > int(second[-1].sequence)


def test_latest_of_an_empty_shard_sees_the_first_record(
    backend: Backend, new_stream: Callable[..., str]
) -> None:
    log, name = backend.log, new_stream()
    empty = log.read(name, SHARD0, LATEST, 10)
    assert empty.records == () and empty.next.start is not Start.LATEST
    assert log.read(name, SHARD0, TRIM_HORIZON, 10).records == ()
    log.put(name, [Entry(b"first", "k")])
    assert data(log.read(name, SHARD0, empty.next, 10).records) == [b"first"]


def test_limit_pages_and_reading_past_the_end(
    backend: Backend, new_stream: Callable[..., str]
) -> None:
    log, name = backend.log, new_stream()
    puts = log.put(name, [Entry(f"r{i}".encode(), "same") for i in range(7)])
    position, pages = TRIM_HORIZON, []
    for _ in range(4):
        batch = log.read(name, SHARD0, position, 3)
        assert batch.next.start is not Start.LATEST
        assert batch.behind_ms >= 0
        pages.append([r.data.decode() for r in batch.records])
        position = batch.next
    assert pages == [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"], []]
    # caught up: nothing behind, and the position past the end sees what comes later
    whole = log.read(name, SHARD0, Position.at(puts[0].sequence), 100)
    assert len(whole.records) == 7 and whole.behind_ms == 0
    again = log.read(name, SHARD0, position, 10)
    assert again.records == () and again.next.start is not Start.LATEST
    late = log.put(name, [Entry(b"late", "same")])
    batch = log.read(name, SHARD0, again.next, 10)
    assert data(batch.records) == [b"late"]
    assert batch.records[0].sequence == late[0].sequence


def test_a_position_that_is_no_sequence_number_is_refused(
    backend: Backend, new_stream: Callable[..., str]
) -> None:
    log, name = backend.log, new_stream()
    which = {
        "embedded": "`abc` is not a sequence number of the embedded log",
        "redis": "`abc` is not a sequence number of a Redis stream",
        "nats": "`abc` is not a sequence number of a NATS stream",
        "kinesis": "`abc` is not a sequence number of a Kinesis stream",
    }
    with pytest.raises(StreamError, match=which[backend.kind]):
        log.read(name, SHARD0, Position.at("abc"), 10)


def test_a_waiting_read_returns_a_record_put_meanwhile(
    backend: Backend, new_stream: Callable[..., str]
) -> None:
    log, name = backend.log, new_stream()
    log.put(name, [Entry(b"before", "k")])
    latest = log.read(name, SHARD0, LATEST, 10)
    started = time.monotonic()
    nothing = log.read(name, SHARD0, latest.next, 10, wait=0.3)
    assert nothing.records == () and time.monotonic() - started >= 0.25
    putter = threading.Timer(0.3, lambda: log.put(name, [Entry(b"meanwhile", "k")]))
    started = time.monotonic()
    putter.start()
    try:
        batch = log.read(name, SHARD0, nothing.next, 10, wait=10)
    finally:
        putter.join()
    assert data(batch.records) == [b"meanwhile"]
    assert batch.behind_ms == 0
    assert time.monotonic() - started < 5


def test_a_block_read_returns_what_a_read_does(
    backend: Backend, new_stream: Callable[..., str]
) -> None:
    """``read_block``, what a delivery reads where a backend has it (tests/test_streams_block.py
    has more): the records ``read`` returns, from each kind of position, a page at a time."""
    log, name = backend.log, new_stream()
    read_block = getattr(log, "read_block", None)
    assert (read_block is not None) == (backend.kind in BLOCK_READS)
    if read_block is None:
        return  # it reads records only, which the tests above cover; a delivery reads so too
    first = log.put(name, [Entry(f"a{i}".encode(), f"k{i}") for i in range(4)])
    boundary = next_second()
    second = log.put(name, [Entry(f"b{i}".encode(), f"key {i}") for i in range(3)])
    at = lambda ms: Position(Start.AT_TIMESTAMP, timestamp_ms=ms)  # noqa: E731
    positions = {
        "trim horizon": (TRIM_HORIZON, 0),
        "at a1": (Position.at(first[1].sequence), 1),
        "after a1": (Position.after(first[1].sequence), 2),
        "at b2": (Position.at(second[-1].sequence), 6),
        "after b2": (Position.after(second[-1].sequence), 7),
        "at the boundary": (at(boundary), 4),
        "at 0": (at(0), 0),
        "in a minute": (at(now_ms() + 60_000), 7),
    }
    everything = read_all(log, name, SHARD0)
    assert data(everything) == [f"a{i}".encode() for i in range(4)] + [
        f"b{i}".encode() for i in range(3)
    ]
    for label, (position, skipped) in positions.items():
        for limit in (1, 2, 100):
            got: list[Record] = []
            start = position
            while True:
                block = read_block(name, SHARD0, start, limit)
                assert block.next.start is not Start.LATEST, label
                assert len(block) <= limit and block.behind_ms >= 0, label
                assert block.data_bytes == sum(len(r.data) for r in block.records()), label
                if not len(block):
                    break
                got += block.records()
                start = block.next
            assert got == everything[skipped:], (label, limit)

    latest = read_block(name, SHARD0, LATEST, 10)
    assert len(latest) == 0 and latest.behind_ms == 0
    putter = threading.Timer(0.3, lambda: log.put(name, [Entry(b"meanwhile", "late")]))
    putter.start()
    try:
        waited = read_block(name, SHARD0, latest.next, 10, wait=10)
    finally:
        putter.join()
    [record] = waited.records()
    assert (record.data, record.partition_key, record.shard) == (b"meanwhile", "late", SHARD0)
    assert int(record.sequence) > int(second[-1].sequence)
    assert waited.behind_ms == 0


# -- de-duplication -------------------------------------------------------------------------


def test_a_second_put_of_an_id(backend: Backend, new_stream: Callable[..., str]) -> None:
    log, name = backend.log, new_stream(2)
    first = log.put(name, [Entry(b"a", "k1", id="evt-1"), Entry(b"b", "k2", id="evt-2")])
    again = log.put(name, [Entry(b"a", "k1", id="evt-1"), Entry(b"c", "k3", id="evt-3")])
    within = log.put(name, [Entry(b"d", "k4", id="twice"), Entry(b"d", "k4", id="twice")])
    stored = sorted(r.data for s in even_shards(2) for r in read_all(log, name, s.id))
    assert not any(p.duplicate for p in first)
    if backend.dedup:
        assert [p.duplicate for p in again] == [True, False]
        assert again[0] == Put(shard=first[0].shard, sequence=first[0].sequence, duplicate=True)
        assert [p.duplicate for p in within] == [False, True]
        assert (within[1].shard, within[1].sequence) == (within[0].shard, within[0].sequence)
        assert stored == [b"a", b"b", b"c", b"d"]
    else:  # documented: Kinesis has no record ids; every put is stored
        assert not any(p.duplicate for p in [*again, *within])
        assert again[0].sequence != first[0].sequence
        assert within[1].sequence != within[0].sequence
        assert stored == [b"a", b"a", b"b", b"c", b"d", b"d"]
