"""The batch-shaped reads of the embedded log and of Redis Streams (``read_block``, what a
delivery uses): the same records as ``read``, kept as a block and handed to the JSON reader
whole; and the delivery buffer built from them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from headwater.streams.delivery_buffer import Buffered, upto
from headwater.streams.delivery_parse import parse
from headwater.streams.embedded import EmbeddedLog
from headwater.streams.log import Retention, StreamLog
from headwater.streams.records import TRIM_HORIZON, Block, Entry, Position, Record, Start
from tests import services


class BlockLog(StreamLog, Protocol):
    def read_block(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> Block: ...


def blocks(log: BlockLog, name: str, shard: str, limit: int) -> list[Block]:
    out, position = [], TRIM_HORIZON
    while True:
        block = log.read_block(name, shard, position, limit)
        assert block.next.start is not Start.LATEST
        if not len(block):
            return out
        out.append(block)
        position = block.next


def records(log: StreamLog, name: str, shard: str) -> list[Record]:
    out, position = [], TRIM_HORIZON
    while True:
        batch = log.read(name, shard, position, 1000)
        if not batch.records:
            return out
        out.extend(batch.records)
        position = batch.next


@pytest.fixture(params=["embedded", "redis"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlockLog]:
    """A log of each kind that reads blocks; the embedded one with small segments, so that
    reads cross from one segment file to the next."""
    if request.param == "embedded":
        embedded = EmbeddedLog(tmp_path / "streams", segment_bytes=4096)
        yield embedded
        embedded.close()
        return
    from headwater.streams.redis_log import RedisLog

    prefixes = services.redis_prefix("hw_test_block")
    redis_log = RedisLog(services.REDIS_URL, prefix=next(prefixes))
    yield redis_log
    redis_log.close()
    prefixes.close()  # deletes the keys under the prefix


@pytest.fixture
def log(empty: BlockLog) -> BlockLog:
    empty.create("s", 1, Retention())
    entries = [
        Entry(
            json.dumps({"i": i, "pad": "x" * (i % 50)}).encode(),
            partition_key=f"k{i}" * (1 + i % 3),
            id=f"id{i}" if i % 2 else None,
        )
        for i in range(500)
    ]
    for first in range(0, 500, 37):
        empty.put("s", entries[first : first + 37])
    return empty


def shard_of(log: StreamLog) -> str:
    return log.describe("s").shards[0].shard.id


@pytest.mark.parametrize("limit", [1, 7, 64, 1000])
def test_a_block_read_holds_the_records_a_read_returns(log: BlockLog, limit: int) -> None:
    shard = shard_of(log)
    read = blocks(log, "s", shard, limit)
    expected = records(log, "s", shard)
    assert [json.loads(r.data)["i"] for r in expected] == list(range(500))
    assert all(len(b) <= limit for b in read)
    assert len(read) == -(-500 // limit)
    got = [r for b in read for r in b.records()]
    assert got == expected  # data, key, sequence, arrival and shard of each
    assert [r.partition_key for r in got] == [f"k{i}" * (1 + i % 3) for i in range(500)]
    assert sum(b.data_bytes for b in read) == sum(len(r.data) for r in expected)
    assert [b.last_sequence for b in read] == [b.records()[-1].sequence for b in read]
    assert [b.last_arrived_ms for b in read] == [b.records()[-1].arrived_ms for b in read]
    assert [b.sequence(0) for b in read] == [int(b.records()[0].sequence) for b in read]
    assert all(b.behind_ms >= 0 for b in read)
    assert read[-1].behind_ms == 0  # the last block reaches the newest record


def test_a_block_read_from_each_kind_of_position(log: BlockLog) -> None:
    shard = shard_of(log)
    every = records(log, "s", shard)

    def read(position: Position, limit: int = 3) -> Block:
        return log.read_block("s", shard, position, limit)

    middle = read(Position.after(every[249].sequence))
    assert middle.records() == tuple(every[250:253])
    assert read(middle.next).records() == tuple(every[253:256])
    assert read(Position.at(every[249].sequence)).records() == tuple(every[249:252])
    assert read(TRIM_HORIZON).records() == tuple(every[:3])
    assert read(Position(Start.AT_TIMESTAMP, timestamp_ms=0)).records() == tuple(every[:3])
    newest = every[-1]
    late = read(Position(Start.AT_TIMESTAMP, timestamp_ms=newest.arrived_ms + 60_000))
    assert len(late) == 0 and late.records() == ()
    at_last = read(Position.at(newest.sequence))
    assert at_last.records() == (newest,) and at_last.behind_ms == 0
    past = read(Position.after(newest.sequence))
    assert len(past) == 0 and past.data_bytes == 0 and past.frames == b""
    # LATEST: nothing now; its next position is concrete and sees what is put afterwards
    latest = read(Position(Start.LATEST))
    assert len(latest) == 0 and latest.behind_ms == 0
    assert latest.next.start is not Start.LATEST
    [put] = log.put("s", [Entry(b'{"i": 500}', "after")])
    [after] = read(latest.next).records()
    assert (after.data, after.partition_key, after.sequence) == (
        b'{"i": 500}',
        "after",
        put.sequence,
    )


def test_a_block_read_that_stops_short_of_the_newest_record_is_behind(log: BlockLog) -> None:
    shard = shard_of(log)
    every = records(log, "s", shard)
    first = log.read_block("s", shard, TRIM_HORIZON, 10)
    assert first.behind_ms == every[-1].arrived_ms - every[9].arrived_ms


def test_a_block_cut_at_a_sequence_keeps_the_records_up_to_it(log: BlockLog) -> None:
    shard = shard_of(log)
    every = records(log, "s", shard)
    block = log.read_block("s", shard, TRIM_HORIZON, 64)
    for n in (0, 1, 17, 63, 64):
        head = block.head(n)
        assert head.records() == tuple(every[:n])
        assert head.data_bytes == sum(len(r.data) for r in every[:n])
        assert [head.record(i) for i in range(n)] == every[:n]
    cut = upto(block, every[40].sequence)
    assert isinstance(cut, Block)
    assert cut.records() == tuple(every[:41])
    assert upto(block, every[63].sequence) is block


def test_a_buffer_of_blocks_parses_as_the_records_do(log: BlockLog) -> None:
    shard = shard_of(log)
    every = records(log, "s", shard)
    buffered = Buffered(blocks(log, "s", shard, 64))
    table, kept, failed = parse(buffered, None)
    assert kept is buffered and not failed
    assert table.column("i").to_pylist() == list(range(500))
    assert table.column("pad").to_pylist() == ["x" * (i % 50) for i in range(500)]
    assert buffered.last_sequence == every[-1].sequence and buffered[-1] == every[-1]
    assert list(buffered[10:13]) == every[10:13]
    assert list(buffered) == every
    cut = upto(buffered.parts[1], every[100].sequence)
    assert isinstance(cut, Block)
    assert cut.records() == tuple(every[64:101])


def test_a_record_with_a_line_break_or_no_data_falls_back_to_one_by_one(
    empty: BlockLog,
) -> None:
    empty.create("s", 1, Retention())
    empty.put(
        "s",
        [
            Entry(b'{"i": 0}', "a"),
            Entry(b'{"i":\n 1}', "b"),
            Entry(b"", "c"),
            Entry(b"[3]", "d"),
            Entry(b'{"i": 4}', "e\n"),
        ],
    )
    buffered = Buffered(blocks(empty, "s", shard_of(empty), 100))
    table, kept, failed = parse(buffered, None)
    assert table.column("i").to_pylist() == [0, 1, 4]
    assert [r.partition_key for r in kept] == ["a", "b", "e\n"]
    assert [(f.record.partition_key, f.kind) for f in failed] == [
        ("c", "MalformedJSON"),
        ("d", "NotAnObject"),
    ]
