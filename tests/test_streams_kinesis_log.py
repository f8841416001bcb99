"""Streams on Amazon Kinesis through boto3, against moto's Kinesis in server mode (real HTTP on
127.0.0.1); and the Kinesis-compatible API of `headwater serve` over such a stream."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from headwater import Workspace
from headwater.errors import (
    MissingDependency,
    StreamError,
    StreamExists,
    StreamNotFound,
    StreamUnavailable,
)
from headwater.project.streams import KinesisConnection
from headwater.streams.kinesis_log import KinesisLog, _batches
from headwater.streams.log import Retention
from headwater.streams.records import LATEST, TRIM_HORIZON, Entry, Position, Start
from headwater.web import create_app
from tests import services
from tests.test_serve_support import serving

pytestmark = pytest.mark.slow


def project(root: Path, endpoint: str) -> Path:
    root.mkdir()
    (root / "headwater.yaml").write_text(
        f"""\
name: aws
connections:
  aws:
    type: kinesis
    endpoint_url: {endpoint}
    region: us-east-1
    access_key_id: testing
    secret_access_key: testing
streams:
  events: {{connection: aws, shards: 3}}
  sized: {{connection: aws, retention_mb: 10}}
"""
    )
    return root


@pytest.fixture
def ws(tmp_path: Path, s3_server: services.S3Server) -> Iterator[Workspace]:
    ws = Workspace.open(project(tmp_path / "aws", s3_server.endpoint))
    yield ws
    for name in ws.streams.backend("events").names():
        ws.streams.backend("events").delete(name)
    ws.close()


def read_all(ws: Workspace, stream: str, shard: str, position: Position) -> list[Any]:
    records = []
    while True:
        batch = ws.streams.read(stream, shard, position, 300)
        assert batch.next.start is not Start.LATEST
        records += batch.records
        position = batch.next
        if not batch.records:
            return records


def test_create_describe_and_names(ws: Workspace) -> None:
    info = ws.streams.create("events")
    assert info.backend == "kinesis"
    assert [s.shard.id for s in info.shards] == [f"shardId-00000000000{i}" for i in range(3)]
    assert info.shards[0].shard.start_hash == 0
    assert info.shards[-1].shard.end_hash == 2**128 - 1
    assert info.retention == Retention(hours=24.0)
    assert ws.streams.names() == ["events"]
    with pytest.raises(StreamExists, match="`events` exists already"):
        ws.streams.create("events")


def test_puts_in_batches_and_reads_every_shard_in_order(ws: Workspace) -> None:
    entries = [
        Entry(data=json.dumps({"n": i}).encode(), partition_key=f"user-{i % 40}")
        for i in range(1_200)  # three PutRecords calls
    ]
    puts = ws.streams.put("events", entries)

    assert all(p.ok for p in puts)
    put_order: dict[str, list[str]] = {}
    for put in puts:
        put_order.setdefault(put.shard, []).append(put.sequence)
    read: dict[str, list[str]] = {}
    numbers: list[int] = []
    for shard in ws.streams.shards("events"):
        for record in read_all(ws, "events", shard, TRIM_HORIZON):
            read.setdefault(shard, []).append(record.sequence)
            numbers.append(json.loads(record.data)["n"])
            assert record.partition_key == f"user-{json.loads(record.data)['n'] % 40}"
            assert record.shard == shard
    assert read == put_order
    assert sorted(numbers) == list(range(1_200))


def test_latest_and_sequence_positions(ws: Workspace) -> None:
    first = ws.streams.put("events", [Entry(f"a{i}".encode(), "k") for i in range(3)])
    shard = first[0].shard
    empty = ws.streams.read("events", shard, LATEST, 10)
    ws.streams.put("events", [Entry(b"b0", "k"), Entry(b"b1", "k")])

    assert empty.records == ()
    assert empty.next.start is Start.AT_TIMESTAMP
    assert [r.data for r in ws.streams.read("events", shard, empty.next, 10).records] == [
        b"b0",
        b"b1",
    ]
    at = ws.streams.read("events", shard, Position.at(first[1].sequence), 10).records
    after = ws.streams.read("events", shard, Position.after(first[1].sequence), 10).records
    assert [r.data for r in at] == [b"a1", b"a2", b"b0", b"b1"]
    assert [r.data for r in after] == [b"a2", b"b0", b"b1"]


def test_reads_follow_on_from_where_they_stopped(ws: Workspace) -> None:
    puts = ws.streams.put("events", [Entry(f"r{i}".encode(), "same") for i in range(7)])
    shard = puts[0].shard
    position, pages = TRIM_HORIZON, []
    for _ in range(4):
        batch = ws.streams.read("events", shard, position, 3)
        pages.append([r.data.decode() for r in batch.records])
        position = batch.next
    assert pages == [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"], []]
    assert position == Position.after(puts[-1].sequence)
    ws.streams.put("events", [Entry(b"late", "same")])
    assert [r.data for r in ws.streams.read("events", shard, position, 10).records] == [b"late"]


def test_delete_and_unknown_streams(ws: Workspace) -> None:
    ws.streams.create("events")
    ws.streams.delete("events")
    backend = ws.streams.backend("events")
    with pytest.raises(StreamNotFound, match="no stream `gone` on http://127.0.0.1"):
        backend.describe("gone")
    with pytest.raises(StreamNotFound, match="no stream `gone`"):
        backend.put("gone", [Entry(b"x", "k")])
    with pytest.raises(StreamNotFound, match="no stream `gone`"):
        backend.delete("gone")


def test_what_kinesis_cannot_keep(ws: Workspace) -> None:
    with pytest.raises(StreamError, match="by age only, not by size"):
        ws.streams.create("sized")
    with pytest.raises(StreamError, match="from 24 hours to 365 days, not 2 hours"):
        ws.streams.backend("events").create("short", 1, Retention(hours=2))
    assert "sized" not in ws.streams.backend("events").names()


def test_longer_retention_is_set(ws: Workspace) -> None:
    ws.streams.backend("events").create("week", 1, Retention(hours=168))
    assert ws.streams.backend("events").describe("week").retention.hours == 168


def test_a_missing_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingDependency, match=r"pip install 'headwater\[kinesis\]'"):
        KinesisLog(KinesisConnection(), "aws")


def test_an_unreachable_endpoint_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = KinesisLog(
        KinesisConnection(
            endpoint_url=f"http://127.0.0.1:{port}",
            access_key_id="a",  # type: ignore[arg-type]
            secret_access_key="b",  # type: ignore[arg-type]
        ),
        "aws",
    )
    with pytest.raises(StreamUnavailable, match=f"cannot reach http://127.0.0.1:{port}") as info:
        log.names()
    assert info.value.retryable is True
    log.close()


def test_batches_keep_within_put_records_limits() -> None:
    small = [Entry(b"x", "k")] * 1_001
    big = [Entry(b"x" * (1 << 20), "k")] * 11
    assert [len(b) for b in _batches(small)] == [500, 500, 1]
    assert [len(b) for b in _batches(big)] == [4, 4, 3]  # 5 MiB holds four 1 MiB records
    assert [len(b) for b in _batches([])] == [0]


def test_the_kinesis_api_over_a_kinesis_stream(ws: Workspace) -> None:
    """boto3 → headwater serve → boto3 → Kinesis: the lab's consumer reads what was put."""
    with serving(create_app(ws)) as url:
        client = boto3.client(
            "kinesis",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="any",
            aws_secret_access_key="x",
        )
        for i in range(30):
            client.put_record(StreamName="events", Data=json.dumps({"n": i}), PartitionKey=f"s{i}")
        received = []
        for shard in client.list_shards(StreamName="events")["Shards"]:
            iterator = client.get_shard_iterator(
                StreamName="events", ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while True:
                answer = client.get_records(ShardIterator=iterator, Limit=7)
                received += [json.loads(r["Data"])["n"] for r in answer["Records"]]
                if not answer["Records"] and answer["MillisBehindLatest"] == 0:
                    break
                iterator = answer["NextShardIterator"]
    assert sorted(received) == list(range(30))
