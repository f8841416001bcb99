"""The NATS JetStream stream backend against the local nats-server (127.0.0.1:4222), and a
private nats-server restarted mid-stream for the fault test."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.errors import RecordRefused, StreamExists, StreamNotFound, StreamUnavailable
from headwater.streams.log import Retention
from headwater.streams.nats_log import NatsLog, stream_name, subject
from headwater.streams.records import (
    LATEST,
    MAX_RECORD_BYTES,
    TRIM_HORIZON,
    Entry,
    Position,
    Record,
    Start,
)
from headwater.streams.sharding import Router, even_shards
from tests.private_brokers import NATS_SERVER, PrivateNats, require_binary
from tests.stream_support import NATS_URL, require_nats


@pytest.fixture(scope="module")
def log() -> Iterator[NatsLog]:
    require_nats()
    backend = NatsLog(NATS_URL, dedup_window=60)
    yield backend
    backend.close()


@pytest.fixture
def new_stream(log: NatsLog) -> Iterator[list[str]]:
    """Names of streams a test creates; every one is deleted afterwards."""
    created: list[str] = []
    yield created
    for name in created:
        if name in log.names():
            log.delete(name)


def _name(new_stream: list[str], prefix: str = "hw-test") -> str:
    name = f"{prefix}.{uuid.uuid4().hex[:10]}"
    new_stream.append(name)
    return name


def _read_all(log: NatsLog, name: str, shard: str, limit: int = 5000) -> list[Record]:
    out: list[Record] = []
    position = TRIM_HORIZON
    while True:
        batch = log.read(name, shard, position, limit)
        out += batch.records
        position = batch.next
        if not batch.records:
            return out


def test_put_and_read_in_order_per_shard_routed_as_the_router_does(
    log: NatsLog, new_stream: list[str]
) -> None:
    name = _name(new_stream)
    log.create(name, 4, Retention(hours=1))
    entries = [Entry(f"e{i}".encode(), partition_key=f"user-{i % 37}") for i in range(400)]
    puts = log.put(name, entries)

    router = Router(even_shards(4))
    assert [p.shard for p in puts] == [router.shard_for(e.partition_key).id for e in entries]
    assert all(p.ok and not p.duplicate for p in puts)
    total = 0
    for shard in [s.id for s in even_shards(4)]:
        records = _read_all(log, name, shard, limit=33)
        expected = [e for e, p in zip(entries, puts, strict=True) if p.shard == shard]
        assert [r.data for r in records] == [e.data for e in expected]
        assert [r.partition_key for r in records] == [e.partition_key for e in expected]
        sequences = [int(r.sequence) for r in records]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
        assert [r.sequence for r in records] == [p.sequence for p in puts if p.shard == shard]
        assert all(r.shard == shard for r in records)
        total += len(records)
    assert total == 400


def test_explicit_hash_key_and_unusual_partition_keys(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 2, Retention(hours=1))
    keys = ["  padded ", "ünïcödé-ключ", "line\nbreak", "a: b", "x" * 256]
    puts = log.put(name, [Entry(k.encode(), partition_key=k) for k in keys])
    forced = log.put(name, [Entry(b"forced", partition_key="k", explicit_hash_key=0)])
    assert forced[0].shard == "shardId-000000000000"
    read = {
        r.data: r.partition_key
        for s in ("shardId-000000000000", "shardId-000000000001")
        for r in _read_all(log, name, s)
    }
    assert {k.encode(): k for k in keys} | {b"forced": "k"} == read
    assert len(puts) == len(keys)


def test_the_five_start_positions(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 1, Retention(hours=1))
    shard = "shardId-000000000000"
    first = log.put(name, [Entry(f"a{i}".encode(), "k") for i in range(5)])
    time.sleep(0.05)  # the second put arrives in a later millisecond than the first
    boundary_ms = int(time.time() * 1000)
    time.sleep(0.05)
    second = log.put(name, [Entry(f"b{i}".encode(), "k") for i in range(5)])

    def data(position: Position, limit: int = 100) -> list[bytes]:
        return [r.data for r in log.read(name, shard, position, limit).records]

    everything = [f"a{i}".encode() for i in range(5)] + [f"b{i}".encode() for i in range(5)]
    assert data(TRIM_HORIZON) == everything
    assert data(Position.at(first[2].sequence)) == everything[2:]
    assert data(Position.after(first[2].sequence)) == everything[3:]
    assert data(Position(Start.AT_TIMESTAMP, timestamp_ms=boundary_ms)) == everything[5:]
    assert data(Position(Start.AT_TIMESTAMP, timestamp_ms=0)) == everything

    latest = log.read(name, shard, LATEST, 100)
    assert latest.records == ()
    assert latest.next.start is Start.AT_SEQUENCE_NUMBER  # concrete: nothing put later is lost
    third = log.put(name, [Entry(b"c0", "k")])
    after = log.read(name, shard, latest.next, 100)
    assert [r.data for r in after.records] == [b"c0"]
    assert after.records[0].sequence == third[0].sequence
    assert int(third[0].sequence) > int(second[-1].sequence)
    with pytest.raises(ValueError, match="needs a sequence number"):
        Position(Start.AT_SEQUENCE_NUMBER)


def test_sequential_reads_reuse_one_consumer(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 1, Retention(hours=1))
    shard = "shardId-000000000000"
    log.put(name, [Entry(str(i).encode(), "k") for i in range(50)])
    position, seen, consumers = TRIM_HORIZON, [], set()
    for _ in range(6):
        batch = log.read(name, shard, position, 10)
        seen += [int(r.data) for r in batch.records]
        position = batch.next
        consumers |= {r.consumer for r in log._readers.values() if r.stream == name}
    assert seen == list(range(50))
    assert len(consumers) == 1


def test_wait_returns_a_record_put_while_waiting(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 1, Retention(hours=1))
    shard = "shardId-000000000000"
    empty = log.read(name, shard, TRIM_HORIZON, 10, wait=0.2)
    assert empty.records == ()
    putter = threading.Timer(0.3, lambda: log.put(name, [Entry(b"late", "k")]))
    putter.start()
    try:
        batch = log.read(name, shard, empty.next, 10, wait=20)
    finally:
        putter.join()
    assert [r.data for r in batch.records] == [b"late"]


def test_behind_ms_counts_to_the_newest_record(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 1, Retention(hours=1))
    shard = "shardId-000000000000"
    log.put(name, [Entry(b"old", "k")])
    time.sleep(0.1)
    log.put(name, [Entry(b"new", "k")])
    first = log.read(name, shard, TRIM_HORIZON, 1)
    assert [r.data for r in first.records] == [b"old"]
    assert first.behind_ms >= 100
    rest = log.read(name, shard, first.next, 10)
    assert [r.data for r in rest.records] == [b"new"]
    assert rest.behind_ms == 0


def test_a_second_put_of_an_id_is_a_duplicate_of_the_first(
    log: NatsLog, new_stream: list[str]
) -> None:
    name = _name(new_stream)
    log.create(name, 2, Retention(hours=1))
    entries = [Entry(f"r{i}".encode(), f"k{i}", id=f"id-{i}") for i in range(20)]
    first = log.put(name, entries)
    again = log.put(name, [*entries[5:10], Entry(b"fresh", "k", id="id-new")])
    assert [p.duplicate for p in again] == [True] * 5 + [False]
    assert [p.sequence for p in again[:5]] == [p.sequence for p in first[5:10]]
    within = log.put(name, [Entry(b"x", "k", id="twice"), Entry(b"x", "k", id="twice")])
    assert [p.duplicate for p in within] == [False, True]
    assert within[0].sequence == within[1].sequence
    info = log.describe(name)
    assert info.records == 22


def test_describe_names_and_delete(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 3, Retention(hours=2, bytes=1 << 20))
    with pytest.raises(StreamExists, match="exists already"):
        log.create(name, 3, Retention(hours=2))
    puts = log.put(name, [Entry(b"d" * 10, f"key-{i}") for i in range(90)])
    info = log.describe(name)
    assert info.backend == "nats"
    assert [s.shard for s in info.shards] == list(even_shards(3))
    counts = {s.shard.id: s.records for s in info.shards}
    assert counts == {shard.id: sum(p.shard == shard.id for p in puts) for shard in even_shards(3)}
    for state in info.shards:
        mine = [int(p.sequence) for p in puts if p.shard == state.shard.id]
        if mine:
            assert (state.first, state.last) == (str(min(mine)), str(max(mine)))
    assert info.records == 90
    assert info.retention == Retention(hours=2, bytes=1 << 20)
    assert info.bytes is not None and info.bytes > 900
    assert name in log.names()

    log.delete(name)
    assert name not in log.names()
    with pytest.raises(StreamNotFound, match=f"no stream `{name}`"):
        log.describe(name)
    with pytest.raises(StreamNotFound, match=f"no stream `{name}`"):
        log.put(name, [Entry(b"x", "k")])
    with pytest.raises(StreamNotFound, match=f"no stream `{name}`"):
        log.read(name, "shardId-000000000000", TRIM_HORIZON, 10)
    with pytest.raises(StreamNotFound, match=f"no stream `{name}`"):
        log.delete(name)


def test_names_map_one_to_one_onto_jetstream(log: NatsLog, new_stream: list[str]) -> None:
    token = uuid.uuid4().hex[:8]
    dotted, underscored = f"a.{token}", f"a_{token}"
    new_stream += [dotted, underscored]
    log.create(dotted, 1, Retention(hours=1))
    log.create(underscored, 1, Retention(hours=1))
    assert stream_name(dotted) != stream_name(underscored)
    assert subject(dotted, 0) != subject(underscored, 0)
    log.put(dotted, [Entry(b"dot", "k")])
    assert {dotted, underscored} <= set(log.names())
    assert log.describe(dotted).records == 1
    assert log.describe(underscored).records == 0


def test_records_over_1_mib_are_refused_before_sending(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 1, Retention(hours=1))
    with pytest.raises(RecordRefused, match=r"1,048,577 bytes; a record takes at most"):
        log.put(name, [Entry(b"ok", "k"), Entry(b"x" * (MAX_RECORD_BYTES + 1), "k")])
    assert log.describe(name).records == 0  # nothing of the refused batch was sent
    with pytest.raises(RecordRefused, match="max_payload"):
        log.put(name, [Entry(b"x" * MAX_RECORD_BYTES, "k")])  # the server's default is 1 MiB
    big = log.put(name, [Entry(b"y" * 1_000_000, "k")])
    assert big[0].ok
    (record,) = log.read(name, "shardId-000000000000", TRIM_HORIZON, 10).records
    assert len(record.data) == 1_000_000


def test_an_unreachable_server_is_unavailable_and_says_where() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = NatsLog(f"nats://127.0.0.1:{port}")
    try:
        with pytest.raises(StreamUnavailable, match=f"nats://127.0.0.1:{port}") as caught:
            backend.names()
        assert caught.value.retryable
        assert "nats-server" in (caught.value.hint or "")
    finally:
        backend.close()


def test_open_backend_builds_it_from_a_nats_connection(tmp_path: Path) -> None:
    from headwater.project import load_project
    from headwater.streams.backends import open_backend

    (tmp_path / "headwater.yaml").write_text(
        "name: demo\n"
        "connections:\n"
        "  bus:\n"
        "    type: nats\n"
        f"    url: {NATS_URL}\n"
        "    dedup_window: 90s\n"
        "streams:\n"
        "  clicks:\n"
        "    connection: bus\n"
    )
    backend = open_backend(load_project(tmp_path, environ={}), "bus")
    try:
        assert isinstance(backend, NatsLog)
        assert (backend.url, backend.dedup_window) == (NATS_URL, 90.0)
    finally:
        backend.close()


@pytest.mark.slow
def test_a_large_batch_is_read_back_exactly(log: NatsLog, new_stream: list[str]) -> None:
    name = _name(new_stream)
    log.create(name, 4, Retention(hours=1))
    count = 100_000
    entries = [
        Entry(json.dumps({"id": i, "pad": "p" * 180}).encode(), f"k{i}", id=f"e{i}")
        for i in range(count)
    ]
    for start in range(0, count, 20_000):
        puts = log.put(name, entries[start : start + 20_000])
        assert all(p.ok and not p.duplicate for p in puts)
    ids: list[int] = []
    for state in log.describe(name).shards:
        ids += [json.loads(r.data)["id"] for r in _read_all(log, name, state.shard.id, 10_000)]
    assert len(ids) == count
    assert len(set(ids)) == count


# -- faults: a private nats-server, restarted mid-stream ----------------------------------


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    require_binary(NATS_SERVER, "nats-server")
    server = PrivateNats(tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.faults
@pytest.mark.slow
def test_a_server_restarted_mid_stream_loses_and_duplicates_nothing(
    private_nats: PrivateNats,
) -> None:
    """The server is killed while records are put and comes back after the puts time out:
    the client still holds publishes of the failed puts and sends them once it reconnects,
    while the producer retries the same records — only their ids keep them single."""
    backend = NatsLog(private_nats.url, dedup_window=300, timeout=1.0)
    try:
        name = "faults"
        backend.create(name, 2, Retention(hours=1))
        count, batch = 100_000, 2_000
        acked = 0
        acked_at_kill: list[int] = []

        def restart_mid_stream() -> None:
            while acked < count * 2 // 5:
                time.sleep(0.005)
            private_nats.kill()
            acked_at_kill.append(acked)
            time.sleep(3.0)  # longer than a put waits for its acks
            private_nats.start()

        restarter = threading.Thread(target=restart_mid_stream)
        restarter.start()
        failed_puts = 0
        for start in range(0, count, batch):
            todo = [
                Entry(json.dumps({"id": i}).encode(), f"k{i}", id=f"e{i}")
                for i in range(start, min(start + batch, count))
            ]
            deadline = time.monotonic() + 120
            while todo:
                assert time.monotonic() < deadline, "the restarted server never took the puts"
                try:
                    puts = backend.put(name, todo)
                except StreamUnavailable:
                    failed_puts += 1
                    time.sleep(0.2)
                    continue
                failed = [e for e, p in zip(todo, puts, strict=True) if not p.ok]
                acked += len(todo) - len(failed)
                if failed:
                    failed_puts += 1
                    time.sleep(0.2)
                todo = failed
        restarter.join(60)
        assert acked_at_kill and acked_at_kill[0] < count  # killed while records were put
        assert failed_puts > 0  # the outage outlasted a put, so records were retried

        ids: list[int] = []
        for state in backend.describe(name).shards:
            records = _read_all(backend, name, state.shard.id, 10_000)
            ids += [json.loads(r.data)["id"] for r in records]
        assert len(set(ids)) == count  # 0 lost
        assert len(ids) == count  # 0 duplicated
    finally:
        backend.close()
