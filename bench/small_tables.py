"""Benchmark: which reader reads a PostgreSQL table fastest, by the table's size.

DuckDB's postgres scanner is the fastest reader of a big PostgreSQL table, but every read
pays a fixed cost first (ATTACH, its catalog queries, setting up the parallel scan). This
times a full read to an Arrow table through Headwater's own readers (``READERS[name](db,
ReadRequest(table=...)).read_all()``) of tables of 10 to 1,000,000 rows, to find the size
where the scanner starts to win.

- **Tables**: ``t_<rows>`` in the PostgreSQL database ``hw_bench_small``: ``id BIGINT``,
  ``customer_id INT``, ``amount NUMERIC(12,2)``, ``status VARCHAR(16)``,
  ``updated_at TIMESTAMP``, generated on the server (``generate_series``), reused when they
  hold the asked row count, then ``VACUUM ANALYZE``d.
- **Warm** (the scheduler's and ``headwater serve``'s case): one process, one
  ``SqlDatabase`` (its engine's pool shared between reads), every reader run once untimed on
  every table first; then ``--repeat`` rounds, in each of which every size is read by every
  reader, the readers' order rotating from round to round. The row count of every read is
  checked.
- **Cold**: a fresh process per read that times its imports of the reader and the read
  (interpreter start excluded), ``--cold-repeat`` rounds, interleaved the same way.
- ``auto``: what ``reader: auto`` picks for the table (``reader_for``: one catalog query
  for the table's estimated size), then that reader; the catalog query is timed with it.

Medians are reported, with the ratio to the fastest contender of the same size.

    .venv/bin/python bench/small_tables.py
    .venv/bin/python bench/small_tables.py --rows 10,1000,10000 --repeat 9 --cold-repeat 3

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import sqlalchemy as sa
from extract_report import headwater_commit, machine
from rich.console import Console
from rich.table import Table

DATABASE = "hw_bench_small"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
READER_NAMES = ("duckdb", "connectorx", "sqlalchemy")

_DDL = """
CREATE TABLE {table} (
    id BIGINT PRIMARY KEY,
    customer_id INT,
    amount NUMERIC(12,2),
    status VARCHAR(16),
    updated_at TIMESTAMP
)"""

_INSERT = """
INSERT INTO {table}
SELECT id,
       1 + MOD(id * 31337, 100000),
       (MOD(id * 104729, 10000000)::numeric / 100)::numeric(12,2),
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + MOD(id, 5)],
       TIMESTAMP '2020-01-01 00:00:00' + id * INTERVAL '1 second'
FROM generate_series(1::bigint, {rows}::bigint) AS g(id)
"""


def table_name(rows: int) -> str:
    return f"t_{rows}"


def ensure_tables(sizes: list[int]) -> None:
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": DATABASE}
        ).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    admin.dispose()
    engine = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for rows in sizes:
            table = table_name(rows)
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_class WHERE relname = %(t)s", {"t": table}
            ).first()
            if exists and conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == rows:
                continue
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
            conn.exec_driver_sql(_DDL.format(table=table))
            conn.exec_driver_sql(_INSERT.format(table=table, rows=rows))
            conn.exec_driver_sql(f"VACUUM (FREEZE, ANALYZE) {table}")
    engine.dispose()


def reading(name: str) -> Callable[[object, str], int]:
    """A function reading a whole table with reader ``name`` (or ``auto``), returning rows."""
    from headwater.connect.sql import READERS, ReadRequest, SqlDatabase, reader_for

    def read(db: object, table: str) -> int:
        assert isinstance(db, SqlDatabase)
        request = ReadRequest(table=table)
        chosen = name
        if name == "auto":
            chosen = reader_for(db, request)
        return READERS[chosen](db, request).read_all().num_rows  # type: ignore[index]

    return read


def child(name: str, table: str) -> None:
    """One cold read: imports and the read, timed in this fresh process."""
    started = time.perf_counter()
    from headwater.connect.sql import SqlDatabase

    db = SqlDatabase(URL, name="bench")
    rows = reading(name)(db, table)
    seconds = time.perf_counter() - started
    db.dispose()
    print(json.dumps({"seconds": seconds, "rows": rows}))


def warm(
    sizes: list[int], contenders: list[str], repeat: int
) -> dict[tuple[str, int], list[float]]:
    from headwater.connect.sql import SqlDatabase

    db = SqlDatabase(URL, name="bench")
    reads = {name: reading(name) for name in contenders}
    for rows in sizes:  # untimed: imports, DuckDB's extension, the engine's pool
        for name in contenders:
            reads[name](db, table_name(rows))
    times: dict[tuple[str, int], list[float]] = {}
    for round_ in range(repeat):
        order = contenders[round_ % len(contenders) :] + contenders[: round_ % len(contenders)]
        for rows in sizes:
            for name in order:
                started = time.perf_counter()
                got = reads[name](db, table_name(rows))
                times.setdefault((name, rows), []).append(time.perf_counter() - started)
                if got != rows:
                    raise RuntimeError(f"{name} read {got} rows of {table_name(rows)}, not {rows}")
    db.dispose()
    return times


def cold(
    sizes: list[int], contenders: list[str], repeat: int
) -> dict[tuple[str, int], list[float]]:
    times: dict[tuple[str, int], list[float]] = {}
    for round_ in range(repeat):
        order = contenders[round_ % len(contenders) :] + contenders[: round_ % len(contenders)]
        for rows in sizes:
            for name in order:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", name, table_name(rows)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                result = json.loads(out.splitlines()[-1])
                if result["rows"] != rows:
                    raise RuntimeError(f"{name} read {result['rows']} rows, not {rows}")
                times.setdefault((name, rows), []).append(result["seconds"])
    return times


def report(
    console: Console,
    title: str,
    times: dict[tuple[str, int], list[float]],
    sizes: list[int],
    contenders: list[str],
) -> None:
    table = Table(title=title)
    table.add_column("rows", justify="right")
    for name in contenders:
        table.add_column(name, justify="right")
    lines = ["| rows | " + " | ".join(contenders) + " |", "|---:|" + "---:|" * len(contenders)]
    for rows in sizes:
        medians = {name: statistics.median(times[(name, rows)]) for name in contenders}
        best = min(medians.values())
        cells = [f"{medians[n] * 1000:,.1f} ms ({medians[n] / best:.2f}x)" for n in contenders]
        table.add_row(f"{rows:,}", *cells)
        lines.append(f"| {rows:,} | " + " | ".join(cells) + " |")
    console.print(table)
    print("\n".join(lines) + "\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10,1000,10000,100000,1000000")
    parser.add_argument("--contenders", default=",".join(READER_NAMES) + ",auto")
    parser.add_argument("--repeat", type=int, default=7, help="warm rounds (median kept)")
    parser.add_argument("--cold-repeat", type=int, default=3, help="cold rounds, 0 for none")
    parser.add_argument("--child", nargs=2, metavar=("READER", "TABLE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    sizes = [int(s.replace("_", "")) for s in args.rows.split(",") if s]
    contenders = [c for c in args.contenders.split(",") if c]
    console = Console()
    commit = headwater_commit()
    ensure_tables(sizes)
    console.print(
        f"Headwater {commit}; machine: " + "; ".join(f"{k} {v}" for k, v in machine().items())
    )
    console.print(f"`{' '.join(['python', 'bench/small_tables.py', *argv])}`")
    report(
        console,
        f"warm, in process: median of {args.repeat} (x = against the fastest)",
        warm(sizes, contenders, args.repeat),
        sizes,
        contenders,
    )
    if args.cold_repeat:
        report(
            console,
            f"cold, imports + read in a fresh process: median of {args.cold_repeat}",
            cold(sizes, contenders, args.cold_repeat),
            sizes,
            contenders,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
