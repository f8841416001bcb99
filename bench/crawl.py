"""Benchmark: crawl 10 000 small files into external tables, then recrawl and query them.

The tree has three datasets of small files (``--files`` in all, default 10 000):

- ``sales/year=Y/month=M/part-N.csv``: 60 %, CSV with a header, 20 rows each, 24 partitions;
- ``events/day=D/part-N.jsonl[.gz]``: 30 %, JSON Lines (every other file gzip), 30 partitions;
- ``customers/batch=B/part-N.parquet``: 10 %, Parquet, 10 partitions.

Measured, in one process (the lake and DuckDB warm after the first step):

1. ``crawl``: the first crawl (list, detect, sample, group, register), in files/s;
2. ``recrawl``: the same crawl again (every file looked at again, nothing changes);
3. ``new folders``: ``--recrawl new-folders-only`` after one new partition of 20 files;
4. ``query``: ``count(*)`` over every sales file, and one partition's through pruning.

With ``--s3`` the files are put into a moto S3 server (real HTTP on 127.0.0.1, in this
process) and crawled from there; the upload is not timed.

    .venv/bin/python bench/crawl.py
    .venv/bin/python bench/crawl.py --files 2000 --s3

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from headwater import Workspace  # noqa: E402
from headwater.lake.crawl import CrawlOptions  # noqa: E402

ROWS_PER_FILE = 20


def tree(files: int) -> Iterator[tuple[str, bytes]]:
    """(relative path, content) of every file, deterministic."""
    sales, events = int(files * 0.6), int(files * 0.3)
    customers = files - sales - events
    for i in range(sales):
        year, month = 2023 + (i % 24) // 12, (i % 12) + 1
        body = "id,amount,day\n" + "".join(
            f"{i * ROWS_PER_FILE + r},{r * 1.25:.2f},{year}-{month:02d}-{r % 28 + 1:02d}\n"
            for r in range(ROWS_PER_FILE)
        )
        yield f"sales/year={year}/month={month:02d}/part-{i:05d}.csv", body.encode()
    for i in range(events):
        day = f"2024-01-{i % 30 + 1:02d}"
        lines = "".join(
            f'{{"event_id": {i * ROWS_PER_FILE + r}, "kind": "k{r % 4}", "ms": {r * 3}}}\n'
            for r in range(ROWS_PER_FILE)
        ).encode()
        if i % 2:
            yield f"events/day={day}/part-{i:05d}.jsonl.gz", gzip.compress(lines)
        else:
            yield f"events/day={day}/part-{i:05d}.jsonl", lines
    for i in range(customers):
        table = pa.table(
            {
                "customer_id": pa.array(range(i * ROWS_PER_FILE, (i + 1) * ROWS_PER_FILE)),
                "name": [f"c{r}" for r in range(ROWS_PER_FILE)],
            }
        )
        sink = io.BytesIO()
        pq.write_table(table, sink)
        yield f"customers/batch={i % 10}/part-{i:05d}.parquet", sink.getvalue()


def timed(label: str, results: list[tuple[str, float, str]], fn: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - started
    results.append((label, seconds, ""))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--s3", action="store_true", help="crawl from a moto S3 server")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="headwater-bench-crawl-"))
    project = work / "project"
    project.mkdir()
    (project / "headwater.yaml").write_text("name: bench_crawl\n")
    server = None
    try:
        if args.s3:
            server, url = _s3(tree(args.files))
        else:
            data = work / "data"
            for path, content in tree(args.files):
                target = data / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            url = str(data)
        ws = Workspace.open(project)
        results: list[tuple[str, float, str]] = []
        report = timed("crawl", results, lambda: ws.crawl(url, "landing"))
        results[-1] = (*results[-1][:2], f"{report.files_seen / results[-1][1]:,.0f} files/s")
        again = timed("recrawl (nothing new)", results, lambda: ws.crawl(url, "landing"))
        results[-1] = (*results[-1][:2], f"{again.files_seen / results[-1][1]:,.0f} files/s")
        assert {t.action for t in again.tables} == {"unchanged"}, again.tables
        _add_partition(args.s3, server, url)
        fresh = timed(
            "recrawl new-folders-only (+1 partition)",
            results,
            lambda: ws.crawl(url, "landing", CrawlOptions(recrawl="new-folders-only")),
        )
        assert fresh.table("sales").partitions_added == 1, fresh.tables
        count = timed(
            "query: count(*) over every sales file",
            results,
            lambda: ws.query("SELECT count(*) AS n FROM landing.sales").to_pylist(),
        )
        results[-1] = (*results[-1][:2], f"{count[0]['n']:,} rows")
        pruned = timed(
            "query: one partition (pruned)",
            results,
            lambda: ws.query(
                "SELECT count(*) AS n FROM landing.sales WHERE year = 2024 AND month = 3"
            ).to_pylist(),
        )
        results[-1] = (*results[-1][:2], f"{pruned[0]['n']:,} rows")
        ws.close()
        _print(args, report, results)
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"work folder: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _add_partition(on_s3: bool, server: Any, url: str) -> None:
    files = [
        (f"sales/year=2025/month=01/part-{i:05d}.csv", b"id,amount,day\n1,1.5,2025-01-01\n")
        for i in range(20)
    ]
    if on_s3:
        bucket, prefix = url.removeprefix("s3://").split("/", 1)
        client = server.client()
        for path, content in files:
            client.put_object(Bucket=bucket, Key=f"{prefix}/{path}", Body=content)
        return
    for path, content in files:
        target = Path(url) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


class _Moto:
    """A moto S3 server on a free loopback port, in this process."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )

    def stop(self) -> None:
        self._server.stop()


def _s3(files: Iterator[tuple[str, bytes]]) -> tuple[_Moto, str]:
    from concurrent.futures import ThreadPoolExecutor

    server = _Moto()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=server.endpoint,
    )
    client = server.client()
    client.create_bucket(Bucket="bench")
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda item: client.put_object(Bucket="bench", Key=f"data/{item[0]}", Body=item[1]),
                files,
            )
        )
    return server, "s3://bench/data"


def _print(args: argparse.Namespace, report: Any, results: list[tuple[str, float, str]]) -> None:
    import duckdb
    import pyiceberg

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}")
    print(
        f"python {platform.python_version()}, duckdb {duckdb.__version__}, "
        f"pyarrow {pa.__version__}, pyiceberg {pyiceberg.__version__}"
    )
    source = "moto S3 server (127.0.0.1)" if args.s3 else "local folder"
    print(f"{args.files:,} files from a {source}: {report.summary()}")
    for table in report.tables:
        print(
            f"  {table.name}: {table.format}, {table.files:,} files, {table.partitions} partitions"
        )
    width = max(len(label) for label, _, _ in results)
    for label, seconds, note in results:
        print(f"{label:<{width}}  {seconds:8.2f} s  {note}")


if __name__ == "__main__":
    main()
