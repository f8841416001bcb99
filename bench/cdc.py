"""Benchmark: reading a PostgreSQL logical replication slot, Headwater's capture against a
consume-only loop of the same client and against the streaming replication protocol.

A private PostgreSQL 15 (tests/private_postgres.py: ``wal_level = logical``, ``fsync`` off,
a free port) holds ``events(id bigint primary key, customer_id int, amount numeric(12,2),
status varchar(16), updated_at timestamp, note text)``. Each round creates one slot per
contender at the same position, then writes ``--changes`` changes in transactions of
``--txn`` changes (60 % inserts, 30 % updates, 10 % deletes, generated on the server), then
lets every contender drain its own slot, in an order that rotates from round to round:

- ``headwater``: ``PostgresCapture.read(after, max_changes=--block)`` then ``acknowledge``
  of each block, until a block is empty: pgoutput decoded, typed Arrow ``TableChanges``;
- ``sql-consume``: the hand-written consume-only loop of the same client (psycopg 3, the same
  SQL interface): ``pg_logical_slot_get_binary_changes`` in bounded calls, rows fetched
  through a server-side cursor and dropped;
- ``sql-decode``: the same loop, each message decoded by headwater.cdc.pgoutput (no Arrow);
- ``psycopg-stream``: the consume-only loop of the same client on the streaming replication
  protocol: ``START_REPLICATION`` on a replication connection (psycopg 3.3 runs it; the
  stream is read with libpq's ``PQgetCopyData`` through ``psycopg.pq``), messages counted
  and dropped;
- ``pg_recvlogical``: PostgreSQL's own C client on the streaming replication protocol, to
  ``/dev/null``, up to the position after the changes (``--endpos``), timed as a process.

In-process contenders are timed warm (one untimed round first); the process is timed whole.
Medians of changes per second are reported, with the ratio to ``sql-consume``, and the
client's CPU time per change (this process's, or pg_recvlogical's), which a machine shared
with other work disturbs less than the wall clock.

    .venv/bin/python bench/cdc.py
    .venv/bin/python bench/cdc.py --changes 200000 --rounds 3

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from headwater.cdc.pgoutput import decode
from headwater.cdc.postgres import PostgresCapture
from tests.private_postgres import BIN, PrivatePostgres, require_binaries

DATABASE = "bench"
PUBLICATION = "bench_pub"
OPTIONS = "'proto_version', '1', 'publication_names', 'bench_pub'"


def generate(conn: psycopg.Connection[Any], changes: int, txn: int, first_id: int) -> int:
    """Write ``changes`` changes in transactions of ``txn``; the next free id."""
    inserts, updates = txn * 6 // 10, txn * 3 // 10
    deletes = txn - inserts - updates
    next_id = first_id
    for _ in range(changes // txn):
        with conn.transaction():
            conn.execute(
                "INSERT INTO events SELECT n, n %% 1000, (n %% 100000) / 100.0, "
                "CASE n %% 3 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' ELSE 'shipped' END, "
                "timestamp '2024-01-01' + n * interval '1 second', 'note ' || n "
                "FROM generate_series(%s::bigint, %s::bigint) n",
                (next_id, next_id + inserts - 1),
            )
            conn.execute(
                "UPDATE events SET status = 'paid', amount = amount + 1 WHERE id BETWEEN %s AND %s",
                (next_id, next_id + updates - 1),
            )
            conn.execute(
                "DELETE FROM events WHERE id BETWEEN %s AND %s",
                (next_id + inserts - deletes, next_id + inserts - 1),
            )
        next_id += inserts
    return next_id


def headwater(capture: PostgresCapture, block: int) -> int:
    count, after = 0, None
    while True:
        read = capture.read(after, max_changes=block, wait=0)
        if not read.changes:
            return count
        count += read.count
        capture.acknowledge(read.end)
        after = read.end


def sql_loop(conninfo: str, slot: str, decode_each: bool) -> int:
    """Changes (Insert, Update, Delete messages) drained from ``slot``."""
    count = 0
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while True:
            rows = 0
            with (
                conn.transaction(),
                conn.cursor(name="drain", binary=True) as cursor,
            ):
                cursor.execute(
                    f"SELECT data FROM pg_logical_slot_get_binary_changes(%s, NULL, 150016, "
                    f"{OPTIONS})",
                    (slot,),
                )
                while batch := cursor.fetchmany(2000):
                    rows += len(batch)
                    for (data,) in batch:
                        if decode_each:
                            decode(data)
                        if data[:1] in (b"I", b"U", b"D"):
                            count += 1
            if rows == 0:
                return count


def stream_loop(conninfo: str, slot: str, changes: int) -> int:
    """Changes read from ``slot`` over the streaming protocol, stopping at ``changes``."""
    count = 0
    # closed, not left by `with`: its exit would send COMMIT into the open stream
    conn = psycopg.connect(conninfo, replication="database", autocommit=True)
    try:
        conn.execute(
            f"START_REPLICATION SLOT {slot} LOGICAL 0/0 "
            f"(proto_version '1', publication_names '{PUBLICATION}')"
        )
        pgconn = conn.pgconn
        while count < changes:
            size, data = pgconn.get_copy_data(0)  # blocks until a message arrives
            if size < 0:
                raise RuntimeError(f"the stream ended after {count} changes")
            # XLogData: 'w', three 8-byte positions and times, then one pgoutput message
            if data[0] == 119 and data[25] in (73, 85, 68):  # I, U, D
                count += 1
    finally:
        conn.close()
    return count


def recvlogical(port: int, database: str, slot: str, endpos: str) -> tuple[float, float]:
    """Seconds, and CPU seconds of the process."""
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [
            str(BIN / "pg_recvlogical"),
            *("-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database),
            *("--slot", slot, "--start", "--endpos", endpos, "-f", "/dev/null"),
            *("-o", "proto_version=1", "-o", f"publication_names={PUBLICATION}"),
            "--no-loop",
        ],
        check=True,
    )
    return time.perf_counter() - started, _children_cpu() - cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=200_000)
    parser.add_argument("--txn", type=int, default=1_000)
    parser.add_argument("--block", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    require_binaries()
    server = PrivatePostgres({"max_replication_slots": "20", "max_wal_senders": "20"})
    server.start()
    try:
        run(server, args)
    finally:
        server.remove()


def run(server: PrivatePostgres, args: argparse.Namespace) -> None:
    database = DATABASE
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    conninfo = server.conninfo(database)
    conn = psycopg.connect(conninfo, autocommit=True)
    conn.execute(
        "CREATE TABLE events (id bigint PRIMARY KEY, customer_id int, amount numeric(12,2), "
        "status varchar(16), updated_at timestamp, note text)"
    )
    conn.execute(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE events")
    names = ["headwater", "sql-consume", "sql-decode", "psycopg-stream", "pg_recvlogical"]
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    next_id = 1
    for round_ in range(args.rounds + 1):  # round 0 warms up, untimed
        capture = PostgresCapture(server.url(database), ["public.events"], "hw_slot", PUBLICATION)
        capture.ensure()
        with capture.snapshot():
            pass
        for name in names[1:]:
            slot = name.replace("-", "_")
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
        next_id = generate(conn, args.changes, args.txn, next_id)
        endpos = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]  # type: ignore[index]
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            count, seconds, cpu = contend(name, capture, args, server, endpos)
            assert count == args.changes, (name, count)
            if round_:
                rates[name].append(count / seconds)
                cpus[name].append(cpu / count * 1e6)
                print(
                    f"round {round_} {name:15} {seconds:7.3f} s {count / seconds:10,.0f}/s "
                    f"{cpu / count * 1e6:6.2f} µs CPU/change"
                )
        capture.drop()
        capture.close()
        for name in names[1:]:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (name.replace("-", "_"),))
        conn.execute("TRUNCATE events")
    base = statistics.median(rates["sql-consume"])
    print(f"\n{args.changes:,} changes, transactions of {args.txn:,}, median of {args.rounds}")
    print("| contender | changes/s | ratio to sql-consume | client CPU µs/change |")
    print("|---|---:|---:|---:|")
    for name in names:
        rate = statistics.median(rates[name])
        cpu = statistics.median(cpus[name])
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f} | {cpu:.1f} |")
    conn.close()


def contend(
    name: str,
    capture: PostgresCapture,
    args: argparse.Namespace,
    server: PrivatePostgres,
    endpos: str,
) -> tuple[int, float, float]:
    """Changes the contender read, its seconds and its CPU seconds."""
    if name == "pg_recvlogical":
        return args.changes, *recvlogical(server.port, DATABASE, "pg_recvlogical", endpos)
    if name == "headwater":
        return _timed(lambda: headwater(capture, args.block))
    conninfo = server.conninfo(DATABASE)
    if name == "psycopg-stream":
        return _timed(lambda: stream_loop(conninfo, "psycopg_stream", args.changes))
    return _timed(lambda: sql_loop(conninfo, name.replace("-", "_"), name == "sql-decode"))


def _timed(work: Callable[[], int]) -> tuple[int, float, float]:
    cpu, started = time.process_time(), time.perf_counter()
    count = work()
    return count, time.perf_counter() - started, time.process_time() - cpu


if __name__ == "__main__":
    main()
