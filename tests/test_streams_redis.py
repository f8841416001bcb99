"""The Redis Streams backend against the local Redis (keys under a prefix of each test's own,
deleted afterwards), and against a private server restarted mid-stream."""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from headwater.errors import (
    RecordRefused,
    StreamError,
    StreamExists,
    StreamNotFound,
    StreamUnavailable,
)
from headwater.project import load_project
from headwater.streams.backends import open_backend
from headwater.streams.hub import Streams
from headwater.streams.log import Retention
from headwater.streams.records import (
    LATEST,
    MAX_RECORD_BYTES,
    TRIM_HORIZON,
    Batch,
    Entry,
    Position,
    Put,
    Record,
    Start,
)
from headwater.streams.redis_log import SEQ_BITS, RedisLog, to_entry_id, to_sequence
from headwater.streams.sharding import Router, even_shards
from tests import services
from tests.private_brokers import REDIS_SERVER, PrivateRedis, require_binary


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from services.redis_prefix("hw_test_streams")


@pytest.fixture
def log(prefix: str) -> Iterator[RedisLog]:
    backend = RedisLog(services.REDIS_URL, prefix=prefix)
    yield backend
    backend.close()


def read_all(log: RedisLog, name: str, shard: str, limit: int = 10_000) -> list[Record]:
    out: list[Record] = []
    position = TRIM_HORIZON
    while True:
        batch = log.read(name, shard, position, limit)
        if not batch.records:
            return out
        out += batch.records
        position = batch.next


def test_sequence_numbers_map_entry_ids_both_ways() -> None:
    assert to_sequence("1700000000123-5") == (1700000000123 << SEQ_BITS) + 5
    assert to_entry_id(to_sequence(b"1700000000123-5")) == "1700000000123-5"
    assert to_sequence("1-0") > to_sequence("0-1048575")


def test_records_go_to_the_shard_their_key_picks_and_keep_their_order(log: RedisLog) -> None:
    log.create("clicks", 4, Retention())
    entries = [Entry(f"event {i}".encode(), f"user-{i % 37}") for i in range(2_000)]
    puts: list[Put] = []
    for start in range(0, len(entries), 300):
        puts += log.put("clicks", entries[start : start + 300])

    router = Router(even_shards(4))
    assert [p.shard for p in puts] == [router.shard_for(e.partition_key).id for e in entries]
    assert all(p.ok and not p.duplicate for p in puts)
    for shard in even_shards(4):
        expected = [e for e, p in zip(entries, puts, strict=True) if p.shard == shard.id]
        records = read_all(log, "clicks", shard.id, limit=128)
        assert [r.data for r in records] == [e.data for e in expected]
        assert [r.partition_key for r in records] == [e.partition_key for e in expected]
        sequences = [int(r.sequence) for r in records]
        assert sequences == sorted(set(sequences))
        assert [r.sequence for r in records] == [p.sequence for p in puts if p.shard == shard.id]
        assert all(r.arrived_ms == int(r.sequence) >> SEQ_BITS for r in records)
    assert {p.shard for p in puts} == {s.id for s in even_shards(4)}


def test_an_explicit_hash_key_overrides_the_partition_key(log: RedisLog) -> None:
    log.create("explicit", 2, Retention())
    [put] = log.put("explicit", [Entry(b"x", "whatever", explicit_hash_key=(1 << 128) - 1)])
    assert put.shard == "shardId-000000000001"


def test_all_five_start_positions(log: RedisLog) -> None:
    log.create("positions", 1, Retention())
    shard = "shardId-000000000000"
    empty = log.read("positions", shard, LATEST, 10)
    assert empty.records == () and empty.behind_ms == 0
    first = log.put("positions", [Entry(f"a{i}".encode(), "k") for i in range(5)])
    time.sleep(0.01)  # the second batch arrives in a later millisecond
    second = log.put("positions", [Entry(f"b{i}".encode(), "k") for i in range(5)])
    everything = [f"a{i}".encode() for i in range(5)] + [f"b{i}".encode() for i in range(5)]

    def data(position: Position, limit: int = 100) -> list[bytes]:
        return [r.data for r in log.read("positions", shard, position, limit).records]

    assert data(TRIM_HORIZON) == everything
    assert data(Position.at(first[3].sequence)) == everything[3:]
    assert data(Position.after(first[3].sequence)) == everything[4:]
    assert data(Position.after(second[-1].sequence)) == []
    arrived = int(second[0].sequence) >> SEQ_BITS
    assert arrived > int(first[-1].sequence) >> SEQ_BITS
    assert data(Position(Start.AT_TIMESTAMP, timestamp_ms=arrived)) == everything[5:]
    assert data(Position(Start.AT_TIMESTAMP, timestamp_ms=0)) == everything

    # LATEST: nothing now, and its next position picks up what is put after the read
    latest = log.read("positions", shard, LATEST, 100)
    assert latest.records == ()
    assert latest.next.start is not Start.LATEST
    log.put("positions", [Entry(b"c0", "k")])
    assert data(latest.next) == [b"c0"]
    # an empty read from the empty stream's LATEST also leads to everything put later
    assert data(empty.next) == [*everything, b"c0"]

    # next continues where the last read stopped; behind_ms is how far its last record is
    # behind the shard's newest one, 0 once caught up
    head = log.read("positions", shard, TRIM_HORIZON, 3)
    assert [r.data for r in head.records] == everything[:3]
    newest = int(log.describe("positions").shards[0].last or 0) >> SEQ_BITS
    assert head.behind_ms == newest - head.records[-1].arrived_ms
    rest = log.read("positions", shard, head.next, 100)
    assert [r.data for r in rest.records] == [*everything[3:], b"c0"]
    assert rest.behind_ms == 0


def test_a_repeated_record_id_is_dropped_and_answers_with_the_original(log: RedisLog) -> None:
    log.create("orders", 3, Retention())
    first = log.put("orders", [Entry(b"o1", "customer-1", id="order-1"), Entry(b"o2", "c2")])
    again = log.put(
        "orders",
        [
            Entry(b"o1 again", "customer-1", id="order-1"),
            Entry(b"o1 under another key", "customer-9", id="order-1"),
            Entry(b"o3", "customer-3", id="order-3"),
        ],
    )
    assert [p.duplicate for p in first] == [False, False]
    assert [p.duplicate for p in again] == [True, True, False]
    assert (again[0].shard, again[0].sequence) == (first[0].shard, first[0].sequence)
    assert (again[1].shard, again[1].sequence) == (first[0].shard, first[0].sequence)
    kept = [r.data for s in even_shards(3) for r in read_all(log, "orders", s.id)]
    assert sorted(kept) == [b"o1", b"o2", b"o3"]

    # a stream created again under the same name has forgotten the old ids
    log.delete("orders")
    log.create("orders", 3, Retention())
    [fresh] = log.put("orders", [Entry(b"o1", "customer-1", id="order-1")])
    assert not fresh.duplicate


def test_describe_counts_each_shard_and_knows_its_layout(log: RedisLog) -> None:
    log.create("metrics", 2, Retention(hours=6, bytes=5 << 20))
    puts = log.put("metrics", [Entry(b"m", f"device-{i}") for i in range(500)])
    info = log.describe("metrics")
    assert info.backend == "redis" and info.name == "metrics"
    assert info.retention == Retention(hours=6, bytes=5 << 20)
    assert [s.shard for s in info.shards] == list(even_shards(2))
    assert info.records == 500
    for state in info.shards:
        mine = [p.sequence for p in puts if p.shard == state.shard.id]
        assert state.records == len(mine)
        assert (state.first, state.last) == (mine[0], mine[-1])
    assert log.names() == ["metrics"]


def test_create_twice_delete_and_missing_streams(log: RedisLog, prefix: str) -> None:
    log.create("temp", 2, Retention())
    with pytest.raises(StreamExists, match="stream `temp` exists already on Redis at redis://"):
        log.create("temp", 1, Retention())
    log.put("temp", [Entry(b"x", f"k{i}", id=f"i{i}") for i in range(20)])
    log.delete("temp")
    assert log.names() == []
    client = redis.Redis.from_url(services.REDIS_URL)
    try:
        assert list(client.scan_iter(match=prefix + "*")) == []
    finally:
        client.close()
    with pytest.raises(StreamNotFound, match="no stream `temp` on Redis at redis://"):
        log.put("temp", [Entry(b"x", "k")])
    with pytest.raises(StreamNotFound, match="no stream `temp`"):
        log.read("temp", "shardId-000000000000", TRIM_HORIZON, 10)
    with pytest.raises(StreamNotFound, match="no stream `temp`"):
        log.describe("temp")
    with pytest.raises(StreamNotFound, match="no stream `temp`"):
        log.delete("temp")
    log.create("kept", 1, Retention())
    with pytest.raises(StreamNotFound, match="has no shard `shardId-000000000007`"):
        log.read("kept", "shardId-000000000007", TRIM_HORIZON, 10)


def test_a_writer_holding_an_old_layout_follows_a_re_created_stream(prefix: str) -> None:
    a = RedisLog(services.REDIS_URL, prefix=prefix)
    b = RedisLog(services.REDIS_URL, prefix=prefix)
    try:
        a.create("moving", 1, Retention())
        a.put("moving", [Entry(b"old", "k")])  # a holds the one-shard layout
        b.delete("moving")
        b.create("moving", 4, Retention())
        puts = a.put("moving", [Entry(b"new", f"k{i}") for i in range(40)])
        router = Router(even_shards(4))
        assert [p.shard for p in puts] == [router.shard_for(f"k{i}").id for i in range(40)]
        assert b.describe("moving").records == 40
    finally:
        a.close()
        b.close()


def test_a_record_over_1_mib_or_without_a_key_is_refused_and_nothing_is_put(
    log: RedisLog,
) -> None:
    log.create("big", 1, Retention())
    with pytest.raises(RecordRefused, match=r"1,048,577 bytes; a record takes at most"):
        log.put("big", [Entry(b"ok", "k"), Entry(b"x" * (MAX_RECORD_BYTES + 1), "k")])
    with pytest.raises(RecordRefused, match="partition key of 0 characters"):
        log.put("big", [Entry(b"x", "")])
    assert log.describe("big").records == 0
    [put] = log.put("big", [Entry(b"x" * MAX_RECORD_BYTES, "k")])
    [record] = log.read("big", put.shard, TRIM_HORIZON, 10).records
    assert len(record.data) == MAX_RECORD_BYTES


def test_a_waiting_read_longer_than_the_socket_timeout_still_gets_the_record(
    prefix: str,
) -> None:
    log = RedisLog(services.REDIS_URL, prefix=prefix, timeout=1.5)
    try:
        log.create("slow", 1, Retention())
        putter = threading.Timer(2.0, lambda: log.put("slow", [Entry(b"late", "k")]))
        putter.start()
        try:
            batch = log.read("slow", "shardId-000000000000", TRIM_HORIZON, 10, wait=30)
        finally:
            putter.join()
        assert [r.data for r in batch.records] == [b"late"]
    finally:
        log.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_both_protocols_read_the_same_records_and_blocks(prefix: str, protocol: int) -> None:
    # RESP2 and RESP3 shape an XREAD reply differently (a list of streams, a map)
    url = f"{services.REDIS_URL}{'&' if '?' in services.REDIS_URL else '?'}protocol={protocol}"
    log = RedisLog(url, prefix=prefix)
    shard = "shardId-000000000000"
    try:
        log.create("resp", 1, Retention())
        puts = log.put("resp", [Entry(f"r{i}".encode(), f"key-{i}") for i in range(5)])
        batch = log.read("resp", shard, TRIM_HORIZON, 3)
        block = log.read_block("resp", shard, TRIM_HORIZON, 3)
        assert [r.data for r in batch.records] == [b"r0", b"r1", b"r2"]
        assert block.records() == batch.records
        assert [r.sequence for r in block.records()] == [p.sequence for p in puts[:3]]
        assert block.behind_ms == batch.behind_ms >= 0
        for read in (log.read, log.read_block):
            waiting = read("resp", shard, Position.after(puts[-1].sequence), 10, wait=0.2)
            timer = threading.Timer(0.3, lambda: log.put("resp", [Entry(b"late", "k")]))
            timer.start()
            try:
                late = read("resp", shard, waiting.next, 10, wait=10)
            finally:
                timer.join()
            got = late.records if isinstance(late, Batch) else late.records()
            assert [(r.data, r.partition_key) for r in got] == [(b"late", "k")]
    finally:
        log.delete("resp")
        log.close()


def test_entries_added_by_another_writer_are_read_by_field_name(log: RedisLog, prefix: str) -> None:
    log.create("foreign", 1, Retention())
    shard = "shardId-000000000000"
    [ours] = log.put("foreign", [Entry(b'{"n": 1}', "k1")])
    client = redis.Redis.from_url(services.REDIS_URL)
    try:
        key = f"{prefix}stream:foreign:0"
        # the fields in another order, one more, the key left out: taken by name
        client.xadd(key, {"key": "k2", "extra": "x", "data": b'{"n": 2}'})
        client.xadd(key, {"data": b'{"n": 3}', "source": "elsewhere"})
        expected = [(b'{"n": 1}', "k1"), (b'{"n": 2}', "k2"), (b'{"n": 3}', "")]
        batch = log.read("foreign", shard, TRIM_HORIZON, 10)
        assert [(r.data, r.partition_key) for r in batch.records] == expected
        block = log.read_block("foreign", shard, TRIM_HORIZON, 10)
        assert block.records() == batch.records
        assert block.records()[0].sequence == ours.sequence
        assert block.frames == b'\n{"n": 1}\n{"n": 2}\n{"n": 3}'
        # no data at all: not a record of a stream
        stray = client.xadd(key, {"payload": "?"}).decode()
        after = Position.after(batch.records[-1].sequence)
        for read in (log.read, log.read_block):
            with pytest.raises(StreamError, match=f"entry {stray} of shard {shard} has no `data`"):
                read("foreign", shard, after, 10)
    finally:
        client.close()


def test_a_read_does_not_set_off_the_garbage_collector(log: RedisLog) -> None:
    # a reply of many entries is many lists: made while the collector runs, they set it off
    # time and again (see headwater.streams.redis_entries)
    log.create("collected", 1, Retention())
    for start in range(0, 20_000, 5_000):
        log.put("collected", [Entry(b"{}", f"k{i}") for i in range(start, start + 5_000)])
    shard = "shardId-000000000000"
    runs: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            runs.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        block = log.read_block("collected", shard, TRIM_HORIZON, 20_000)
        assert gc.isenabled()
        paused = len(runs)
        gc.disable()  # a process that switched the collector off keeps it off
        try:
            batch = log.read("collected", shard, TRIM_HORIZON, 20_000)
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(count)
    assert len(block) == len(batch.records) == 20_000
    assert paused == 0, runs
    # the same reply, taken by redis-py's client as it comes: the collector runs meanwhile
    client = redis.Redis.from_url(services.REDIS_URL)
    gc.callbacks.append(count)
    try:
        rows = client.xrange(f"{log.prefix}stream:collected:0", "-", "+", count=20_000)
    finally:
        gc.callbacks.remove(count)
        client.close()
    assert len(rows) == 20_000 and len(runs) > 0


def test_retention_by_size_trims_the_oldest_records(log: RedisLog) -> None:
    log.create("small", 1, Retention(bytes=200_000))
    for _ in range(20):
        log.put("small", [Entry(b"x" * 1000, "k") for _ in range(100)])  # 2 MB in all
    info = log.describe("small")
    kept = info.records or 0
    assert 150 <= kept < 1000  # about 190 of them; Redis trims whole nodes (MAXLEN ~)
    records = read_all(log, "small", "shardId-000000000000")
    assert len(records) == kept and records[-1].sequence == info.shards[0].last


def test_an_unreachable_server_is_reported_with_its_address(prefix: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = RedisLog(f"redis://127.0.0.1:{port}/0", prefix=prefix, timeout=2)
    with pytest.raises(StreamUnavailable, match=f"cannot reach Redis at redis://127.0.0.1:{port}"):
        log.create("s", 1, Retention())
    with pytest.raises(StreamUnavailable, match="is the server running"):
        log.names()
    assert StreamUnavailable.retryable


def test_100_000_records_are_put_and_read_back_exactly(log: RedisLog) -> None:
    total = 100_000
    log.create("many", 4, Retention())
    pad = "x" * 150
    for start in range(0, total, 2_000):
        entries = [
            Entry(f'{{"n": {i}, "pad": "{pad}"}}'.encode(), f"session-{i % 1013}", id=f"e{i}")
            for i in range(start, start + 2_000)
        ]
        puts = log.put("many", entries)
        assert all(p.ok and not p.duplicate for p in puts)
    seen: list[bytes] = []
    for shard in even_shards(4):
        seen += [r.data for r in read_all(log, "many", shard.id, limit=5_000)]
    assert len(seen) == total
    assert len(set(seen)) == total
    assert log.describe("many").records == total


def test_a_project_stream_on_a_redis_connection(tmp_path: Path, prefix: str) -> None:
    name = prefix.rstrip(":").replace(":", "_")  # unique per test, removed below
    (tmp_path / "headwater.yaml").write_text(
        f"""\
name: demo
connections:
  cache: {{type: redis, url: "{services.REDIS_URL}"}}
streams:
  {name}: {{connection: cache, shards: 2, retention: 2h}}
"""
    )
    project = load_project(tmp_path, environ={})
    assert isinstance(open_backend(project, "cache"), RedisLog)
    streams = Streams(project)
    try:
        puts = streams.put(name, [Entry(b"hello", "k1", id="a"), Entry(b"hello", "k1", id="a")])
        assert [p.duplicate for p in puts] == [False, True]
        info = streams.describe(name)
        assert (info.backend, len(info.shards), info.records) == ("redis", 2, 1)
        assert info.retention.hours == 2
        assert name in streams.names()
    finally:
        streams.delete(name)
        streams.close()


class ReplyDropper:
    """A TCP proxy to the local Redis that, once armed, lets a request through and cuts the
    connection when the reply comes back: the put happened, its caller never heard of it."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.armed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, replies: bool) -> None:
        try:
            while data := source.recv(65536):
                if replies and self.armed.is_set():
                    self.armed.clear()
                    for sock in (source, target):  # shutdown wakes the other pump's recv
                        sock.shutdown(socket.SHUT_RDWR)
                    return
                target.sendall(data)
        except OSError:
            pass  # the other pump closed both ends
        finally:
            target.close()

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_a_put_whose_reply_was_lost_is_put_again_once_by_its_ids(prefix: str) -> None:
    kwargs = redis.Redis.from_url(services.REDIS_URL).connection_pool.connection_kwargs
    proxy = ReplyDropper(kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379))
    db = kwargs.get("db", 0)
    log = RedisLog(f"redis://127.0.0.1:{proxy.port}/{db}", prefix=prefix, timeout=5)
    try:
        log.create("lossy", 4, Retention())
        log.put("lossy", [Entry(b"warm-up", "k", id="w")])
        entries = [Entry(f"r{i}".encode(), f"k{i}", id=f"r{i}") for i in range(5_000)]
        proxy.armed.set()
        with pytest.raises(StreamUnavailable, match="cannot reach Redis at redis://127.0.0.1"):
            log.put("lossy", entries)
        again = log.put("lossy", entries)
        assert all(p.ok for p in again)
        assert any(p.duplicate for p in again)  # the server had run the put it never answered
        seen = [r.data for s in even_shards(4) for r in read_all(log, "lossy", s.id)]
        assert sorted(seen) == sorted([b"warm-up", *(e.data for e in entries)])
    finally:
        log.close()
        proxy.close()


# -- a private server restarted mid-stream ------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    require_binary(REDIS_SERVER, "redis-server")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.mark.faults
def test_a_server_killed_and_restarted_mid_stream_loses_and_repeats_nothing(
    private_redis: PrivateRedis,
) -> None:
    total, size = 100_000, 2_000
    log = RedisLog(private_redis.url, timeout=5)
    log.create("events", 4, Retention())
    halfway = threading.Event()
    restarted = threading.Event()

    def restart() -> None:
        halfway.wait(timeout=120)
        private_redis.kill()
        time.sleep(0.5)
        private_redis.start()
        restarted.set()

    restarter = threading.Thread(target=restart)
    restarter.start()
    failures: list[str] = []
    duplicates = 0
    try:
        for start in range(0, total, size):
            entries = [
                Entry(f"event {i}".encode(), f"device-{i % 101}", id=f"ev-{i}")
                for i in range(start, start + size)
            ]
            if start >= total // 3:
                halfway.set()
            while True:  # the producer's retry: the same records with the same ids
                try:
                    puts = log.put("events", entries)
                    break
                except StreamUnavailable as exc:
                    failures.append(str(exc))
                    if len(failures) > 2_000:
                        raise
                    time.sleep(0.05)
            assert all(p.ok for p in puts)
            duplicates += sum(p.duplicate for p in puts)
    finally:
        halfway.set()
        restarter.join(timeout=120)
    assert restarted.is_set()
    assert (
        failures
        and f"cannot reach Redis at redis://127.0.0.1:{private_redis.port}" in (failures[0])
    )

    seen: list[bytes] = []
    for shard in even_shards(4):
        seen += [r.data for r in read_all(log, "events", shard.id)]
    log.close()
    assert len(set(seen)) == total  # nothing lost
    assert len(seen) == total  # nothing twice
    assert duplicates <= size  # at most the put that was cut off came back as duplicates
