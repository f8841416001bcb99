"""Benchmark: PutRecords throughput with boto3 against `headwater serve`'s Kinesis-compatible
API (embedded log) and against moto's Kinesis server, in the same run on the same machine.

Each server runs as its own process on 127.0.0.1; one boto3 client puts batches of 500
records of 200 bytes (JSON events with random partition keys) into a stream of 4 shards.
A warm-up batch is not counted; the measured figure is records put per second over
``--batches`` batches, each PutRecords call waited for before the next (one producer).

    .venv/bin/python bench/kinesis_api.py --batches 100

Not a test: nothing asserts on timings. See docs/benchmarks.md for recorded results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

BIN = Path(sys.executable).parent
RECORD_BYTES = 200
BATCH = 500
SHARDS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server at {url} did not start")


@contextmanager
def running(command: list[str], url: str, cwd: Path | None = None) -> Iterator[str]:
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def headwater_serve(folder: Path) -> Iterator[str]:
    root = folder / "bench"
    root.mkdir()
    (root / "headwater.yaml").write_text("name: bench\n")
    port = free_port()
    command = [str(BIN / "headwater"), "serve", "--project", str(root), "--port", str(port)]
    with running(command, f"http://127.0.0.1:{port}") as url:
        yield url


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    command = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with running(command, f"http://127.0.0.1:{port}") as url:
        yield url


def events(count: int) -> list[dict[str, Any]]:
    """``count`` PutRecords entries of ``RECORD_BYTES`` of JSON each."""
    out = []
    for i in range(count):
        key = uuid.uuid4().hex
        event = {"session_id": key, "n": i, "pad": ""}
        pad = RECORD_BYTES - len(json.dumps(event))
        event["pad"] = "x" * pad
        out.append({"Data": json.dumps(event).encode(), "PartitionKey": key})
    return out


def measure(url: str, batches: int) -> dict[str, float]:
    client = boto3.client(
        "kinesis",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}),
    )
    stream = "bench"
    client.create_stream(StreamName=stream, ShardCount=SHARDS)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 1})
    payload = [events(BATCH) for _ in range(batches + 1)]
    assert all(len(r["Data"]) == RECORD_BYTES for r in payload[0])
    client.put_records(StreamName=stream, Records=payload[0])  # warm-up
    failed = 0
    started = time.perf_counter()
    for records in payload[1:]:
        failed += client.put_records(StreamName=stream, Records=records)["FailedRecordCount"]
    seconds = time.perf_counter() - started
    put = batches * BATCH - failed
    return {"records": put, "failed": failed, "seconds": seconds, "records_per_s": put / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100, help="measured batches of 500")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        with headwater_serve(Path(folder)) as url:
            results["headwater serve (embedded log)"] = measure(url, args.batches)
        with moto_server() as url:
            results["moto server"] = measure(url, args.batches)
    print(f"PutRecords, {BATCH} × {RECORD_BYTES}-byte records per call, one boto3 producer")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, boto3 {boto3.__version__}"
    )
    for name, r in results.items():
        print(
            f"  {name:32} {r['records_per_s']:>10,.0f} records/s  "
            f"({r['records']:,} in {r['seconds']:.2f} s, {r['failed']:,} failed)"
        )
    hw, moto = results.values()
    print(f"  headwater / moto: {hw['records_per_s'] / moto['records_per_s']:.2f}×")


if __name__ == "__main__":
    main()
