"""Change data capture from a MariaDB binary log: Headwater's capture against a hand-written
consume-only loop of the same client (pymysqlreplication), on the same binary log.

A private MariaDB with a row-based binary log (tests/private_mariadb.py) gets a table
``events`` and, after a recorded position, ``--rows`` inserts in transactions of ``--txn-rows``
rows, then an update of every row (its before and after image) and a delete of every tenth:
``rows × 2.1`` changes in all. Each contender then reads all of them from that position, in
its own fresh process, timed from before its first connect to its last change (imports
excluded), and by the CPU time its process used (less swayed by other work on the machine):

- ``raw``: ``BinLogStreamReader`` (non-blocking) over the row events of the table, touching
  every row's values (``event.rows``) and counting them: the least a consumer of the client
  does;
- ``headwater``: :class:`headwater.cdc.mysql.MysqlCapture` ``read`` in blocks of
  ``--block-changes``: whole transactions, per-column values, Arrow tables typed from the
  table, positions and commit times.

``--latency-seconds S`` also measures how long a change takes from its commit to a capture's
``read`` returning it, with a writer committing one row every 20 ms for S seconds (the row
holds its commit's wall time) and the capture reading with ``wait`` 0.2 s.

    .venv/bin/python bench/cdc_mysql.py --rows 200000 --repeat 3 --latency-seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pymysql

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.private_mariadb import PrivateMariaDB  # noqa: E402

DDL = """
CREATE TABLE bench.events (
    id BIGINT PRIMARY KEY,
    customer_id INT,
    amount DECIMAL(12,2),
    status VARCHAR(16),
    updated_at DATETIME(6),
    score DOUBLE
)
"""


def fill(port: int, rows: int, txn_rows: int) -> tuple[str, int]:
    """Create the table, record the position, write the changes; (position, changes)."""
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE bench")
        cur.execute(DDL)
        cur.execute("USE bench")
        cur.execute("SHOW MASTER STATUS")
        name, offset = cur.fetchone()[:2]
        for start in range(1, rows + 1, txn_rows):
            end = min(rows, start + txn_rows - 1)
            cur.execute(
                "INSERT INTO bench.events SELECT seq, seq % 1000, seq * 0.37, "
                "ELT(1 + seq % 3, 'new', 'paid', 'shipped'), "
                "TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, seq / 7 "
                f"FROM seq_{start}_to_{end}"
            )
        for start in range(1, rows + 1, txn_rows):
            end = min(rows, start + txn_rows - 1)
            cur.execute(
                "UPDATE bench.events SET status = 'done', amount = amount + 1 "
                f"WHERE id BETWEEN {start} AND {end}"
            )
        for start in range(1, rows + 1, txn_rows):
            end = min(rows, start + txn_rows - 1)
            cur.execute(
                f"DELETE FROM bench.events WHERE id BETWEEN {start} AND {end} AND id % 10 = 0"
            )
    conn.close()
    return f"{name}:{offset}", rows + rows + rows // 10


def child_raw(port: int, position: str, expected: int) -> dict[str, float]:
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

    from headwater.cdc.mysql import server

    name, _, offset = position.rpartition(":")
    started, cpu = time.perf_counter(), time.process_time()
    stream = BinLogStreamReader(
        connection_settings={"host": "127.0.0.1", "port": port, "user": "root"},
        server_id=201,
        resume_stream=True,
        blocking=False,
        log_file=name,
        log_pos=int(offset),
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
        only_schemas=["bench"],
        only_tables=["events"],
        enable_logging=False,
        pymysql_wrapper=server.replication_connect,
    )
    changes = 0
    for event in stream:
        for row in event.rows:
            changes += 1 if row else 0
        if changes >= expected:
            break
    stream.close()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "changes": changes,
    }


def child_headwater(port: int, position: str, expected: int, block: int) -> dict[str, float]:
    from headwater.cdc.mysql import MysqlCapture

    started, cpu = time.perf_counter(), time.process_time()
    capture = MysqlCapture(f"mysql+pymysql://root@127.0.0.1:{port}/bench", ["events"], 202)
    changes, after, blocks = 0, position, 0
    while changes < expected:
        got = capture.read(after, max_changes=block, wait=1.0)
        changes += got.count
        blocks += 1
        after = got.end
    capture.close()
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "changes": changes,
        "blocks": blocks,
    }


def latency(port: int, seconds: float) -> dict[str, float]:
    """Commit → returned by ``read``, per change, with one commit every 20 ms."""
    from headwater.cdc.mysql import MysqlCapture

    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE bench.pulse (id INT PRIMARY KEY, at DATETIME(6))")
        cur.execute("SHOW MASTER STATUS")
        name, offset = cur.fetchone()[:2]
    capture = MysqlCapture(f"mysql+pymysql://root@127.0.0.1:{port}/bench", ["pulse"], 203)
    stop = threading.Event()

    def write() -> None:
        i = 0
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            while not stop.is_set():
                i += 1
                cur.execute("INSERT INTO bench.pulse VALUES (%s, UTC_TIMESTAMP(6))", (i,))
                time.sleep(0.02)

    writer = threading.Thread(target=write)
    writer.start()
    delays: list[float] = []
    after = f"{name}:{offset}"
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        block = capture.read(after, max_changes=100_000, wait=0.2)
        now = datetime.now(UTC).replace(tzinfo=None)
        after = block.end
        for change in block.changes:
            delays += [(now - at).total_seconds() for at in change.rows.column("at").to_pylist()]
    stop.set()
    writer.join()
    capture.close()
    delays.sort()
    return {
        "changes": len(delays),
        "p50": delays[len(delays) // 2],
        "p99": delays[int(len(delays) * 0.99)],
        "max": delays[-1],
    }


def run_child(kind: str, args: argparse.Namespace, port: int, position: str, expected: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--port",
        str(port),
        "--position",
        position,
        "--expected",
        str(expected),
        "--block-changes",
        str(args.block_changes),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--txn-rows", type=int, default=100)
    parser.add_argument("--block-changes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency-seconds", type=float, default=0)
    parser.add_argument("--child", choices=["raw", "headwater"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--position")
    parser.add_argument("--expected", type=int)
    args = parser.parse_args()
    if args.child:
        if args.child == "raw":
            result = child_raw(args.port, args.position, args.expected)
        else:
            result = child_headwater(args.port, args.position, args.expected, args.block_changes)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="hw-cdc-bench-") as folder:
        mariadb = PrivateMariaDB(
            Path(folder),
            binlog=True,
            options=["--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0"],
        )
        mariadb.start()
        try:
            filled = time.perf_counter()
            position, expected = fill(mariadb.port, args.rows, args.txn_rows)
            print(f"wrote {expected:,} changes in {time.perf_counter() - filled:.1f} s")
            results: dict[str, list[dict]] = {"raw": [], "headwater": []}
            for _ in range(args.repeat):
                for kind in results:  # interleaved, so that both see the same machine
                    result = run_child(kind, args, mariadb.port, position, expected)
                    assert result["changes"] == expected, (kind, result, expected)
                    results[kind].append(result)
            rates = {
                kind: statistics.median(expected / r["seconds"] for r in runs)
                for kind, runs in results.items()
            }
            print(
                f"\nMariaDB {mariadb_version(mariadb.port)}, {os.cpu_count()} cores, "
                f"{args.rows:,} rows in transactions of {args.txn_rows}, "
                f"{expected:,} changes, median of {args.repeat}"
            )
            cpu_rates = {
                kind: statistics.median(expected / r["cpu"] for r in runs)
                for kind, runs in results.items()
            }
            print(
                "| contender | seconds (median) | changes/s | vs raw | client CPU s | "
                "changes per CPU s | vs raw |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|")
            for kind, runs in results.items():
                seconds = statistics.median(r["seconds"] for r in runs)
                cpu = statistics.median(r["cpu"] for r in runs)
                print(
                    f"| {kind} | {seconds:.2f} | {rates[kind]:,.0f} | "
                    f"{rates[kind] / rates['raw']:.2f}× | {cpu:.2f} | {cpu_rates[kind]:,.0f} | "
                    f"{cpu_rates[kind] / cpu_rates['raw']:.2f}× |"
                )
            print("load average after:", os.getloadavg())
            if args.latency_seconds:
                found = latency(mariadb.port, args.latency_seconds)
                print(
                    f"\nlatency, commit → read returned ({found['changes']:,} changes): "
                    f"p50 {found['p50']:.3f} s, p99 {found['p99']:.3f} s, max {found['max']:.3f} s"
                )
        finally:
            mariadb.stop()


def mariadb_version(port: int) -> str:
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root")
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = str(cur.fetchone()[0])
    conn.close()
    return version


if __name__ == "__main__":
    main()
