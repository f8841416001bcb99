"""The embedded durable log: Kinesis sharding and positions, de-duplication, retention, torn
writes, concurrent writers, and the stream commands."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.cli import app
from headwater.errors import StreamError
from headwater.streams.embedded import EmbeddedLog
from headwater.streams.log import Retention
from headwater.streams.records import (
    LATEST,
    TRIM_HORIZON,
    Entry,
    Position,
    Record,
    Start,
)
from headwater.streams.sharding import HASH_MAX, Router, even_shards, hash_key

runner = CliRunner()


def read_all(
    log: EmbeddedLog, name: str, shard: str, position: Position = TRIM_HORIZON
) -> list[Record]:
    out: list[Record] = []
    while True:
        batch = log.read(name, shard, position, 1000)
        if not batch.records:
            return out
        out.extend(batch.records)
        position = batch.next


@pytest.fixture
def log(tmp_path: Path) -> EmbeddedLog:
    log = EmbeddedLog(tmp_path / "streams")
    yield log
    log.close()


def test_shards_split_the_md5_hash_space_as_kinesis_does() -> None:
    shards = even_shards(4)
    assert shards[0].start_hash == 0 and shards[-1].end_hash == HASH_MAX
    assert all(a.end_hash + 1 == b.start_hash for a, b in itertools.pairwise(shards))
    # md5("a") = 0cc175b9…: the first quarter of the hash space
    assert hash_key("a") == int("0cc175b9c0f1b6a831c399e269772661", 16)
    router = Router(shards)
    assert router.shard_for("a").id == "shardId-000000000000"
    assert router.shard_for("x", explicit_hash_key=HASH_MAX).id == "shardId-000000000003"


@pytest.mark.parametrize("count", [1, 3, 4, 7])
def test_a_batch_is_split_over_the_shards_as_each_record_is_routed(count: int) -> None:
    shards = even_shards(count)
    bounds = [h for s in shards for h in (s.start_hash, s.end_hash)] + [0, HASH_MAX]
    entries = [Entry(b"x", f"user-{i}") for i in range(500)]
    entries += [Entry(b"x", "k", explicit_hash_key=h) for h in bounds]
    entries += [Entry(b"x", "\u00e9t\u00e9-\U0001f600")]  # a key of several UTF-8 bytes
    router = Router(shards)
    split = router.split(entries)
    picked = [router.shard_for(e.partition_key, e.explicit_hash_key) for e in entries]
    expected = {shard: [i for i, p in enumerate(picked) if p == shard] for shard in shards}
    assert split == [(shard, expected[shard]) for shard in shards if expected[shard]]
    plain = [e for e in entries if e.explicit_hash_key is None]
    assert router.split(plain) == [
        (shard, [i for i, e in enumerate(plain) if router.shard_for(e.partition_key) == shard])
        for shard in shards
        if any(router.shard_for(e.partition_key) == shard for e in plain)
    ]
    assert router.split([]) == []
    with pytest.raises(ValueError, match=r"hash key -1 is outside 0"):
        router.split([Entry(b"x", "k"), Entry(b"x", "k", explicit_hash_key=-1)])


def test_a_put_mixing_ids_and_none_over_shards_answers_in_the_order_put(
    log: EmbeddedLog,
) -> None:
    log.create("s", 3, Retention())
    earlier = log.put("s", [Entry(b"e", "k0", id="early")])[0]
    entries = [
        Entry(f"r{i}".encode(), f"key-{i % 7}", id=None if i % 3 else f"id-{i}") for i in range(60)
    ]
    entries.insert(10, Entry(b"again", "k0", id="early"))  # put before: dropped
    entries.insert(40, Entry(b"twice", "key-3", id="id-3"))  # earlier in this put: dropped
    puts = log.put("s", entries)
    router = Router(even_shards(3))
    assert [p.duplicate for p in puts] == [i in (10, 40) for i in range(len(entries))]
    assert puts[10] == earlier._replace(duplicate=True)
    first = puts[entries.index(Entry(b"r3", "key-3", id="id-3"))]
    assert puts[40] == first._replace(duplicate=True)
    kept = [(e, p) for e, p in zip(entries, puts, strict=True) if not p.duplicate]
    for shard in even_shards(3):
        mine = [(e, p) for e, p in kept if router.shard_for(e.partition_key) == shard]
        records = read_all(log, "s", shard.id)
        if shard.id == earlier.shard:
            records = records[1:]
        assert [r.data for r in records] == [e.data for e, _ in mine]
        assert [r.sequence for r in records] == [p.sequence for _, p in mine]
        assert all(p.shard == shard.id for _, p in mine)


def test_a_record_is_framed_on_disk_as_the_module_docstring_says(log: EmbeddedLog) -> None:
    import struct
    import zlib

    from headwater.streams.records import FRAME

    log.create("s", 1, Retention())
    log.put("s", [Entry(b'{"a": 1}', "key", id="rid"), Entry(b"xy", "k")])
    raw = next((log.root / "s" / "shardId-000000000000").glob("*.log")).read_bytes()
    frames, at = [], 0
    while at < len(raw):
        crc, length, seq, _arrived, klen, ilen = FRAME.unpack_from(raw, at)
        end = at + FRAME.size + klen + ilen + length
        assert crc == zlib.crc32(raw[at + 4 : end])  # the CRC covers all after it
        key = raw[at + FRAME.size : at + FRAME.size + klen]
        frames.append((seq, key, raw[end - length - ilen : end - length], raw[end - length : end]))
        at = end
    assert frames == [(0, b"key", b"rid", b'{"a": 1}'), (1, b"k", b"", b"xy")]
    assert struct.calcsize(FRAME.format) == 28


def test_what_is_put_and_what_a_put_answers_are_values(log: EmbeddedLog) -> None:
    import pickle

    log.create("s", 1, Retention())
    entry = Entry(b"x", "k", id="i")
    (put,) = log.put("s", [entry])
    assert (put.shard, put.sequence, put.ok, put.duplicate) == (
        "shardId-000000000000",
        "0",
        True,
        False,
    )
    for value in (entry, put):
        assert pickle.loads(pickle.dumps(value)) == value
        assert hash(value) == hash(pickle.loads(pickle.dumps(value)))
    with pytest.raises(AttributeError, match="can't set attribute"):
        put.sequence = "1"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="can't set attribute"):
        entry.data = b"y"  # type: ignore[misc]


def test_records_keep_their_order_per_shard_and_go_where_their_key_says(log: EmbeddedLog) -> None:
    log.create("clicks", 3, Retention())
    entries = [Entry(json.dumps({"id": i}).encode(), f"user-{i % 300}") for i in range(3000)]
    results = log.put("clicks", entries)
    router = Router(even_shards(3))
    assert [r.shard for r in results] == [router.shard_for(e.partition_key).id for e in entries]
    seen = []
    for shard in (s.id for s in even_shards(3)):
        records = read_all(log, "clicks", shard)
        ids = [json.loads(r.data)["id"] for r in records]
        assert ids == sorted(ids)  # put order within the shard
        assert [int(r.sequence) for r in records] == list(range(len(records)))
        assert {router.shard_for(r.partition_key).id for r in records} == {shard}
        seen += ids
    assert sorted(seen) == list(range(3000))
    assert log.describe("clicks").records == 3000


def test_the_five_starting_positions(log: EmbeddedLog) -> None:
    log.create("s", 1, Retention())
    shard = "shardId-000000000000"
    log.put("s", [Entry(b"0", "k"), Entry(b"1", "k")])
    time.sleep(0.01)
    middle = int(time.time() * 1000)
    time.sleep(0.01)
    log.put("s", [Entry(b"2", "k"), Entry(b"3", "k")])
    data = lambda records: [r.data for r in records]  # noqa: E731
    assert data(read_all(log, "s", shard)) == [b"0", b"1", b"2", b"3"]
    assert data(read_all(log, "s", shard, Position.at("1"))) == [b"1", b"2", b"3"]
    assert data(read_all(log, "s", shard, Position.after("1"))) == [b"2", b"3"]
    stamp = Position(Start.AT_TIMESTAMP, timestamp_ms=middle)
    assert data(read_all(log, "s", shard, stamp)) == [b"2", b"3"]
    latest = log.read("s", shard, LATEST, 10)
    assert latest.records == () and latest.next == Position.at("4")
    log.put("s", [Entry(b"4", "k")])  # put after LATEST was resolved: not skipped
    assert data(log.read("s", shard, latest.next, 10).records) == [b"4"]


def test_a_second_put_of_the_same_id_is_dropped(log: EmbeddedLog) -> None:
    log.create("s", 2, Retention())
    first = log.put("s", [Entry(b"a", "k", id="evt-1"), Entry(b"b", "k", id="evt-2")])
    again = log.put("s", [Entry(b"a", "k", id="evt-1"), Entry(b"c", "k", id="evt-3")])
    assert again[0].duplicate and again[0].sequence == first[0].sequence
    assert not again[1].duplicate
    # a new process knows the ids already in the log
    fresh = EmbeddedLog(log.root)
    assert fresh.put("s", [Entry(b"b", "k", id="evt-2")])[0].duplicate
    fresh.close()
    assert [r.data for r in read_all(log, "s", first[0].shard)] == [b"a", b"b", b"c"]


def test_a_torn_write_of_a_killed_writer_is_cut_off(log: EmbeddedLog) -> None:
    log.create("s", 1, Retention())
    log.put("s", [Entry(b"whole", "k")])
    segment = next((log.root / "s" / "shardId-000000000000").glob("*.log"))
    with open(segment, "ab") as f:  # what a write cut short by kill -9 leaves
        f.write(b"\x01\x02\x03 half a record")
    fresh = EmbeddedLog(log.root)
    assert [r.data for r in read_all(fresh, "s", "shardId-000000000000")] == [b"whole"]
    fresh.put("s", [Entry(b"next", "k")])
    assert [r.data for r in read_all(fresh, "s", "shardId-000000000000")] == [b"whole", b"next"]
    assert [r.sequence for r in read_all(fresh, "s", "shardId-000000000000")] == ["0", "1"]
    fresh.close()


def test_damage_inside_a_segment_is_reported(log: EmbeddedLog) -> None:
    log.create("s", 1, Retention())
    log.put("s", [Entry(b"first", "k"), Entry(b"second", "k")])
    segment = next((log.root / "s" / "shardId-000000000000").glob("*.log"))
    raw = bytearray(segment.read_bytes())
    raw[30] ^= 0xFF  # a byte of the first record
    segment.write_bytes(bytes(raw))
    with pytest.raises(StreamError, match="is damaged \\(bad checksum\\)"):
        EmbeddedLog(log.root).read("s", "shardId-000000000000", TRIM_HORIZON, 10)


def test_segments_roll_and_retention_drops_the_oldest(tmp_path: Path) -> None:
    log = EmbeddedLog(tmp_path, segment_bytes=10_000)
    log.create("s", 1, Retention(hours=24, bytes=30_000))
    shard = "shardId-000000000000"
    for i in range(100):
        log.put("s", [Entry(json.dumps({"i": i, "pad": "x" * 900}).encode(), "k")])
        log._files("s", shard).checked_retention = 0  # look at retention at every put
    records = read_all(log, "s", shard)
    kept = [json.loads(r.data)["i"] for r in records]
    assert kept == list(range(kept[0], 100)) and kept[0] > 0  # the oldest went, in order
    info = log.describe("s")
    assert info.bytes is not None and info.bytes <= 30_000 + 10_000
    assert info.shards[0].first == records[0].sequence
    log.close()


def test_concurrent_writer_processes_get_distinct_sequences(tmp_path: Path) -> None:
    log = EmbeddedLog(tmp_path)
    log.create("s", 2, Retention())
    code = (
        "import sys; from pathlib import Path\n"
        "from headwater.streams.embedded import EmbeddedLog\n"
        "from headwater.streams.records import Entry\n"
        "log = EmbeddedLog(Path(sys.argv[1]))\n"
        "for b in range(20):\n"
        "    log.put('s', [Entry(f'{sys.argv[2]}-{b}-{i}'.encode(), f'k{i}') for i in range(100)])\n"
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(w)]) for w in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    records = [r for s in even_shards(2) for r in read_all(log, "s", s.id)]
    assert len(records) == len({r.data for r in records}) == 8000
    for shard in even_shards(2):
        sequences = [int(r.sequence) for r in read_all(log, "s", shard.id)]
        assert sequences == list(range(len(sequences)))
    log.close()


@pytest.mark.faults
def test_an_acknowledged_put_survives_kill_9(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from headwater.streams.embedded import EmbeddedLog\n"
        "from headwater.streams.log import Retention\n"
        "from headwater.streams.records import Entry\n"
        "log = EmbeddedLog(Path(sys.argv[1]))\n"
        "log.create('s', 2, Retention())\n"
        "n = 0\n"
        "while True:\n"
        "    log.put('s', [Entry(str(n + i).encode(), str(n + i)) for i in range(50)])\n"
        "    n += 50\n"
        "    print(n, flush=True)\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None
    acknowledged = 0
    for line in writer.stdout:
        acknowledged = int(line)
        if acknowledged >= 20_000:
            break
    os.kill(writer.pid, 9)
    writer.wait()
    writer.stdout.close()
    log = EmbeddedLog(tmp_path)
    records = [r for s in even_shards(2) for r in read_all(log, "s", s.id)]
    numbers = sorted(int(r.data) for r in records)
    assert len(numbers) == len(set(numbers))  # nothing twice
    whole = len(numbers) - len(numbers) % 50
    while whole and numbers[whole - 1] != whole - 1:
        whole -= 50
    # every acknowledged put is there; past the last whole batch, only the records of the one
    # put in flight at the kill (a put spans shards: each shard's part is all or nothing)
    assert whole >= acknowledged and numbers[:whole] == list(range(whole))
    assert all(whole <= n < whole + 50 for n in numbers[whole:])
    log.put("s", [Entry(b"after", "k")])  # the log goes on after the crash
    log.close()


def test_the_stream_commands(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text("name: p\nstreams:\n  clicks:\n    shards: 2\n")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({"id": i, "user": f"u{i % 3}"}) + "\n" for i in range(10)))
    invoke = lambda *args: runner.invoke(app, [*args, "-p", str(tmp_path)])  # noqa: E731
    result = invoke("stream", "put", "clicks", "--key", "user", "--file", str(events))
    assert result.exit_code == 0, result.output
    assert "put 10 records into clicks" in result.stdout
    result = invoke("stream", "list")
    assert "clicks" in result.stdout and "embedded" in result.stdout
    result = invoke("stream", "tail", "clicks", "--limit", "100")
    shown = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["data"]["id"] for r in shown) == list(range(10))
    assert {r["key"] for r in shown} == {"u0", "u1", "u2"}
    result = invoke("stream", "tail", "clicks", "--from", "yesterday")
    assert (
        result.exit_code == 1 and "--from `yesterday` is not a place in a stream" in result.stderr
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"user": "a"}\n{"id": 2}\n')
    result = invoke("stream", "put", "clicks", "--key", "user", "--file", str(bad))
    assert result.exit_code == 1 and f"{bad}:2: the record has no `user`" in result.stderr
    late = tmp_path / "late.jsonl"  # a bad line after a first batch was put
    late.write_text("".join(json.dumps({"user": "a"}) + "\n" for _ in range(600)) + "{}\n")
    result = invoke("stream", "put", "clicks", "--key", "user", "--file", str(late))
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert f"{late}:601: the record has no `user`" in said
    assert f"the first 500 records of {late} were put into clicks before it" in said
    assert "put only the records after the first 500 again" in said
    result = invoke("stream", "create", "orders", "--shards", "3", "--retention", "2h")
    assert "created stream orders on the embedded backend: 3 shards, records kept 2 h" in (
        result.stdout
    )
    result = invoke("stream", "delete", "orders", "--yes")
    assert result.exit_code == 0 and "deleted stream orders" in result.stdout
    result = invoke("stream", "describe", "orders")
    assert result.exit_code == 1 and "no stream `orders`" in result.stderr


def test_a_put_the_disk_refuses_keeps_nothing_and_a_retry_puts_it_once(tmp_path: Path) -> None:
    # a file size limit stands in for a full disk: write(2) fails part-way with EFBIG
    code = (
        "import resource, signal, sys; from pathlib import Path\n"
        "from headwater.errors import StreamError\n"
        "from headwater.streams.embedded import EmbeddedLog\n"
        "from headwater.streams.log import Retention\n"
        "from headwater.streams.records import Entry, TRIM_HORIZON\n"
        "log = EmbeddedLog(Path(sys.argv[1]))\n"
        "log.create('s', 1, Retention())\n"
        "log.put('s', [Entry(b'first', 'k', id='a')])\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "batch = [Entry(b'x' * 1000, 'k', id=f'b{i}') for i in range(50)]\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    log.put('s', batch)\n"
        "except StreamError as exc:\n"
        "    print(exc.message.split(': ', 1)[1])\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)\n"
        "again = log.put('s', batch)\n"
        "print(sum(p.duplicate for p in again))\n"
        "got = log.read('s', 'shardId-000000000000', TRIM_HORIZON, 1000).records\n"
        "print(len(got), len({r.data + r.sequence.encode() for r in got}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    refused, duplicates, counts = done.stdout.splitlines()
    assert refused == "File too large"
    assert duplicates == "0"  # the failed put left no id behind to drop the retry as a duplicate
    assert counts == "51 51"  # the first record and the batch once: nothing of the failed put


def test_fsync_is_taken_from_each_streams_settings_and_a_damaged_manifest_is_named(
    tmp_path: Path,
) -> None:
    from headwater import Workspace

    (tmp_path / "headwater.yaml").write_text(
        "name: p\nstreams:\n  safe: {fsync: true}\n  quick: {}\n"
    )
    with Workspace.open(tmp_path) as ws:
        for name in ("safe", "quick"):
            ws.streams.put(name, [Entry(b"x", "k")])
        log = ws.streams.backend("safe")
        assert isinstance(log, EmbeddedLog)
        synced = {n: log._files(n, "shardId-000000000000").fsync for n in ("safe", "quick")}
        assert synced == {"safe": True, "quick": False}
    manifest = tmp_path / ".headwater" / "streams" / "quick" / "stream.json"
    manifest.write_text('{"shards": [')  # cut short
    with pytest.raises(StreamError, match=r"quick/stream.json is damaged .*cannot be read"):
        EmbeddedLog(tmp_path / ".headwater" / "streams").put("quick", [Entry(b"x", "k")])
