"""Deliveries into files: prefixes with a timestamp and a field of the record, gzip JSON Lines,
Parquet, errors under their own prefix, a replay rewriting the same files, and S3 (moto)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from headwater.streams.delivery import DeliveryWorker
from headwater.workspace import Workspace
from tests.delivery_support import event, make_project, put_events, put_raw
from tests.services import S3Server

PREFIX = "firehose/!{timestamp:yyyy/MM/dd/HH}/!{partitionKeyFromQuery:country}/"


def files(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "stream": "events",
        "files": {"url": url, "prefix": PREFIX, "compression": "gzip", **extra},
        "buffer": {"seconds": 0},
    }


def read_jsonl(paths: list[Path]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in paths
        for line in gzip.decompress(path.read_bytes()).splitlines()
    ]


def test_gzip_json_lines_under_time_and_key_prefixes(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": files("out")}, shards=2)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(1000)))
        put_raw(ws, [b"{oops", b'{"id": 5000}'])  # the second has no country for the prefix
        report = ws.run_delivery("d")
    hour = datetime.now(UTC).strftime("%Y/%m/%d/%H")
    out = tmp_path / "p" / "out"
    usa = sorted((out / "firehose").glob("*/*/*/*/USA/*.jsonl.gz"))
    france = sorted((out / "firehose").glob("*/*/*/*/France/*.jsonl.gz"))
    assert usa and france
    assert all(hour in str(p) or p.parent.parent.name != hour[-2:] for p in usa)
    assert {r["id"] for r in read_jsonl(usa)} == {i for i in range(1000) if i % 3 == 0}
    assert {r["id"] for r in read_jsonl(france)} == {i for i in range(1000) if i % 3}
    errors = read_jsonl(sorted((out / "errors").glob("*.jsonl.gz")))
    assert sorted((e["error_type"], e["raw"]) for e in errors) == [
        ("MalformedJSON", "{oops"),
        ("PartitionKeyMissing", '{"id": 5000}'),
    ]
    assert report.records_written == 1000 and report.errors == 2
    assert not list(out.rglob(".*.tmp"))  # every file was renamed into place


def test_a_replay_of_an_unfinished_flush_rewrites_the_same_files(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": files("out", format="parquet")}, shards=1)
    out = tmp_path / "p" / "out" / "firehose"
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(300)))
        first = DeliveryWorker(ws.project, ws.streams, ws.lake, ws.store, "d", read_limit=200)
        first.claim()
        first.read_round()
        # the files of the flush are written, and the process dies before its checkpoint
        first.sink.flush({s: r for s, r in first.buffer.items()})
        first.release()
        written = sorted(p.name for p in out.rglob("*.parquet"))
        put_events(ws, (event(i) for i in range(300, 400)))
        ws.run_delivery("d")
    paths = sorted(out.rglob("*.parquet"))
    ids = [i for p in paths for i in pq.read_table(p).column("id").to_pylist()]
    assert sorted(ids) == list(range(400))  # none twice
    assert set(written) <= {p.name for p in paths}


def test_files_on_s3(tmp_path: Path, s3_bucket: str, s3_server: S3Server) -> None:
    url = f"s3://{s3_bucket}/landing"
    root = make_project(tmp_path / "p", {"d": files(url)}, shards=2)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(500)))
        report = ws.run_delivery("d")
    s3 = s3_server.client()
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
        for o in page.get("Contents", [])
    ]
    data = [k for k in keys if k.startswith("landing/firehose/")]
    assert data and all(k.endswith(".jsonl.gz") for k in data)
    ids = [
        json.loads(line)["id"]
        for k in data
        for line in gzip.decompress(
            s3.get_object(Bucket=s3_bucket, Key=k)["Body"].read()
        ).splitlines()
    ]
    assert sorted(ids) == list(range(500)) and report.records_written == 500
    assert any("/USA/" in k for k in data) and any("/France/" in k for k in data)
    assert pafs  # the S3 file system is pyarrow's


def test_a_place_that_cannot_be_written_fails_clearly_and_a_rerun_delivers_once(
    tmp_path: Path,
) -> None:
    import pytest

    from headwater.errors import StreamError

    root = make_project(tmp_path / "p", {"d": files("out")}, shards=1)
    (root / "out").write_text("a file where the delivery's folder should be")
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(50)))
        with pytest.raises(StreamError, match=r"delivery `d` cannot write .*out/"):
            ws.run_delivery("d")
        (root / "out").unlink()
        report = ws.run_delivery("d")
    written = read_jsonl(sorted((root / "out" / "firehose").rglob("*.jsonl.gz")))
    assert report.records_written == 50
    assert sorted(r["id"] for r in written) == list(range(50))
    assert not list((root / "out").rglob("*.tmp"))
