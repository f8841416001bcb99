"""The embedded log's batch-shaped read: the same records as ``read``, kept as frames and
handed to the JSON reader whole; and the delivery buffer built from it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from headwater.streams.delivery_buffer import Buffered, upto
from headwater.streams.delivery_parse import parse
from headwater.streams.embedded import EmbeddedLog
from headwater.streams.log import Retention
from headwater.streams.records import TRIM_HORIZON, Block, Entry, Position, Record


def blocks(log: EmbeddedLog, name: str, shard: str, limit: int) -> list[Block]:
    out, position = [], TRIM_HORIZON
    while True:
        block = log.read_block(name, shard, position, limit)
        if not len(block):
            return out
        out.append(block)
        position = block.next


def records(log: EmbeddedLog, name: str, shard: str) -> list[Record]:
    out, position = [], TRIM_HORIZON
    while True:
        batch = log.read(name, shard, position, 1000)
        if not batch.records:
            return out
        out.extend(batch.records)
        position = batch.next


@pytest.fixture
def log(tmp_path: Path) -> Iterator[EmbeddedLog]:
    # small segments: reads cross from one segment file to the next
    log = EmbeddedLog(tmp_path / "streams", segment_bytes=4096)
    log.create("s", 1, Retention())
    entries = [
        Entry(
            json.dumps({"i": i, "pad": "x" * (i % 50)}).encode(),
            partition_key=f"k{i}" * (1 + i % 3),
            id=f"id{i}" if i % 2 else None,
        )
        for i in range(500)
    ]
    for first in range(0, 500, 37):
        log.put("s", entries[first : first + 37])
    yield log
    log.close()


@pytest.mark.parametrize("limit", [1, 7, 64, 1000])
def test_a_block_read_holds_the_records_a_read_returns(log: EmbeddedLog, limit: int) -> None:
    shard = log.describe("s").shards[0].shard.id
    read = blocks(log, "s", shard, limit)
    assert all(len(b) <= limit for b in read)
    assert [r for b in read for r in b.records()] == records(log, "s", shard)
    assert sum(b.data_bytes for b in read) == sum(len(r.data) for r in records(log, "s", shard))
    middle = log.read_block("s", shard, Position.after("249"), 3)
    assert [r.sequence for r in middle.records()] == ["250", "251", "252"]
    assert middle.next == Position.at("253")


def test_a_buffer_of_blocks_parses_as_the_records_do(log: EmbeddedLog) -> None:
    shard = log.describe("s").shards[0].shard.id
    buffered = Buffered(blocks(log, "s", shard, 64))
    table, kept, failed = parse(buffered, None)
    assert kept is buffered and not failed
    assert table.column("i").to_pylist() == list(range(500))
    assert buffered.last_sequence == "499" and buffered[-1].sequence == "499"
    assert [r.sequence for r in buffered[10:13]] == ["10", "11", "12"]
    cut = upto(buffered.parts[1], "100")
    assert isinstance(cut, Block)
    assert [r.sequence for r in cut.records()] == [str(i) for i in range(64, 101)]


def test_a_record_with_a_line_break_or_no_data_falls_back_to_one_by_one(tmp_path: Path) -> None:
    log = EmbeddedLog(tmp_path / "streams")
    log.create("s", 1, Retention())
    log.put(
        "s",
        [
            Entry(b'{"i": 0}', "a"),
            Entry(b'{"i":\n 1}', "b"),
            Entry(b"", "c"),
            Entry(b"[3]", "d"),
            Entry(b'{"i": 4}', "e\n"),
        ],
    )
    shard = log.describe("s").shards[0].shard.id
    buffered = Buffered(blocks(log, "s", shard, 100))
    table, kept, failed = parse(buffered, None)
    assert table.column("i").to_pylist() == [0, 1, 4]
    assert [r.partition_key for r in kept] == ["a", "b", "e\n"]
    assert [(f.record.partition_key, f.kind) for f in failed] == [
        ("c", "MalformedJSON"),
        ("d", "NotAnObject"),
    ]
    log.close()
