"""Benchmark: compacting a table of many small files, and what it does to queries over it.

Setup (untimed): ``raw.events(id, customer_id, amount, status, updated_at)`` in a fresh local
lake, ``--files`` Parquet data files of ``--rows`` rows each (1,000 × 1,000 by default),
written by Headwater's DataFileWriter and published in ``--commits`` appends (default 1: the
files many small appends leave behind, without the minutes of metadata rewriting that 1,000
separate commits take; more commits also leave one manifest each, which planning reads).

Measured, in this process:

- ``query before`` / ``query after``: an aggregate through ``headwater.sql.Session``, as
  ``headwater query`` runs it (mapping the table to its data files, then DuckDB), median of
  ``--repeat`` runs, each in a fresh session;
- ``compaction``: ``headwater.lake.maintenance.compact`` into files of the lake's target size
  (128 MB), median over ``--compactions`` tables built alike;
- ``expiry`` and ``orphan removal`` right after it (one run each).

The query's result is checked to be the same before and after.

    .venv/bin/python bench/compaction.py
    .venv/bin/python bench/compaction.py --commits 100   # 10 files per append

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import decimal
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from extract_report import headwater_commit, machine
from pyiceberg.manifest import DataFile
from pyiceberg.table import Transaction
from rich.console import Console
from rich.table import Table

from headwater.lake import Lake
from headwater.lake.maintenance import compact, expire_snapshots, remove_orphan_files
from headwater.lake.writer import DataFileWriter, commit_files
from headwater.sql import Session

TABLE = "raw.events"
QUERY = f"""
SELECT status, count(*) AS orders, sum(amount) AS amount, max(updated_at) AS last
FROM {TABLE} GROUP BY status ORDER BY status
"""
START = datetime(2024, 1, 1, tzinfo=UTC)
STATUSES = pa.array(["cancelled", "disputed", "in process", "on hold", "shipped"])


def batch(file: int, rows: int) -> pa.RecordBatch:
    ids = range(file * rows, (file + 1) * rows)
    return pa.record_batch(
        {
            "id": pa.array(ids, pa.int64()),
            "customer_id": pa.array([i % 4096 for i in ids], pa.int32()),
            "amount": pa.array(
                [decimal.Decimal(i * 37 % 10_000_000) / 100 for i in ids], pa.decimal128(12, 2)
            ),
            "status": STATUSES.take(pa.array([i % 5 for i in ids])),
            "updated_at": pa.array(
                [START + timedelta(seconds=i) for i in ids], pa.timestamp("us", tz="UTC")
            ),
        }
    )


def build(root: Path, files: int, rows: int, commits: int) -> Lake:
    """A lake whose table holds ``files`` small files, published in ``commits`` appends."""
    lake = Lake.local(root / ".headwater")
    schema = batch(0, 1).schema
    per_commit = -(-files // commits)
    for first in range(0, files, per_commit):
        numbers = range(first, min(first + per_commit, files))

        def produce(
            txn: Transaction, commit_uuid: uuid.UUID, numbers: range = numbers
        ) -> Iterator[DataFile]:
            writer = DataFileWriter(txn, schema, str(commit_uuid), target=1)  # a file per batch
            try:
                for i in numbers:
                    yield from writer.write(batch(i, rows))
                yield from writer.close()
            finally:
                writer.abort()

        cursor = {"headwater.cursor": str(numbers[-1] * rows)}
        assert commit_files(lake, TABLE, schema, produce, cursor).files == len(numbers)
    return lake


def query(lake: Lake) -> pa.Table:
    with Session(lake) as session:
        return session.query(QUERY).read_all()


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def median_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    runs = [timed(work) for _ in range(repeat)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1_000, help="small files in the table")
    parser.add_argument("--rows", type=int, default=1_000, help="rows per file")
    parser.add_argument(
        "--commits", type=int, default=1, help="appends that publish the files (each is slower)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of each query")
    parser.add_argument("--compactions", type=int, default=3, help="tables built and compacted")
    args = parser.parse_args()
    console = Console(width=130)

    compactions = []
    with tempfile.TemporaryDirectory(prefix="hw-bench-compaction-") as scratch:
        for n in range(args.compactions):
            root = Path(scratch) / f"lake{n}"
            built, lake = timed(lambda root=root: build(root, args.files, args.rows, args.commits))
            if n == 0:
                console.print(
                    f"built {TABLE}: {args.files:,} files × {args.rows:,} rows in "
                    f"{args.commits:,} commit(s), {built:.1f}s",
                    highlight=False,
                )
                before, expected = median_of(args.repeat, lambda lake=lake: query(lake))
                planned, _ = median_of(args.repeat, lambda lake=lake: lake.data_files(TABLE))
            seconds, report = timed(lambda lake=lake: compact(lake, TABLE))
            compactions.append((seconds, report))
            if n == 0:
                after, got = median_of(args.repeat, lambda lake=lake: query(lake))
                planned_after, _ = median_of(args.repeat, lambda lake=lake: lake.data_files(TABLE))
                assert got.equals(expected), "the query's result changed"
                expired, expiry = timed(
                    lambda lake=lake: expire_snapshots(lake, TABLE, keep_last=1)
                )
                removed, orphans = timed(
                    lambda lake=lake: remove_orphan_files(lake, TABLE, older_than=timedelta(0))
                )

    seconds = statistics.median(t for t, _ in compactions)
    report = compactions[0][1]
    view = Table("step", "seconds", "what", header_style="bold", title_justify="left")
    view.add_row(
        "query before",
        f"{before:.3f}",
        f"{report.files_before:,} data files; planning them (Lake.data_files) {planned:.3f}s",
    )
    view.add_row(
        "compaction",
        f"{seconds:.2f}",
        f"{report.rewritten:,} files ({report.rewritten_bytes / 2**20:.1f} MB) → "
        f"{report.written} ({report.bytes_after / 2**20:.1f} MB), {report.rows:,} rows; "
        f"median of {len(compactions)}",
    )
    view.add_row(
        "query after",
        f"{after:.3f}",
        f"{report.files_after:,} data file(s); planning {planned_after:.3f}s",
    )
    view.add_row(
        "expiry",
        f"{expired:.2f}",
        f"{len(expiry.expired)} snapshot(s), {expiry.deleted_files:,} files deleted",
    )
    view.add_row("orphan removal", f"{removed:.2f}", f"{orphans.scanned:,} files listed")
    console.print(view)
    console.print(
        f"query: {before / after:.1f}× faster after compaction (median of {args.repeat} runs)"
    )
    console.print("Machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()))
    console.print(f"Headwater commit: {headwater_commit()}")


if __name__ == "__main__":
    main()
