"""Benchmark: a full load into Headwater with and without ``partition``, per reader.

Loads ``hw_bench_inc.events`` (``--rows`` rows, see bench/_common.py; the table
bench/incremental.py appends to, trimmed back to ``--rows``) from MariaDB and PostgreSQL with
``load: {strategy: full}`` and

- no ``partition``,
- ``partition: {column: id, count: N}`` for each N of ``--counts`` (default 1 and 2),

for each reader of ``--readers`` the dialect supports (``connectorx`` and ``sqlalchemy``;
``duckdb`` on PostgreSQL). Each load is ``headwater run p --project DIR --full-refresh`` as a
fresh process; the lake table must then hold exactly ``--rows`` rows (``headwater query``,
untimed).

    .venv/bin/python bench/partitions.py
    .venv/bin/python bench/partitions.py --db postgres --readers duckdb --counts 2,4 --repeat 3

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    BENCH_DIR,
    DIALECTS,
    Series,
    ensure_events,
    headwater_count,
    headwater_run,
    measure,
    print_environment,
    write_project,
)
from extract_report import headwater_commit
from rich.console import Console
from rich.table import Table

READERS = {
    "mysql": ("connectorx", "sqlalchemy"),
    "postgres": ("connectorx", "sqlalchemy", "duckdb"),
}


@dataclass(frozen=True)
class Options:
    dialects: tuple[str, ...]
    rows: int
    readers: tuple[str, ...]
    counts: tuple[int, ...]
    repeat: int
    work_dir: Path


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="both", choices=("mysql", "postgres", "both"))
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=5_000_000)
    parser.add_argument("--readers", default="connectorx,sqlalchemy,duckdb")
    parser.add_argument("--counts", default="1,2", help="partition counts besides none")
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting (median kept)")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work" / "partitions")
    args = parser.parse_args(argv)
    return Options(
        dialects=DIALECTS if args.db == "both" else (args.db,),
        rows=args.rows,
        readers=_csv(args.readers),
        counts=tuple(int(c) for c in _csv(args.counts)),
        repeat=max(1, args.repeat),
        work_dir=args.work_dir.resolve(),
    )


@dataclass
class Setting:
    dialect: str
    reader: str
    count: int | None  # None: no partition
    project: Path
    series: Series = field(default_factory=Series)
    failures: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "none" if self.count is None else f"id, count {self.count}"


def settings_for(options: Options, dialect: str) -> list[Setting]:
    base = options.work_dir / dialect
    shutil.rmtree(base, ignore_errors=True)
    out = []
    for reader in (r for r in options.readers if r in READERS[dialect]):
        for count in (None, *options.counts):
            name = f"{reader}-{'none' if count is None else count}"
            table = "      - name: events\n        load: {strategy: full}\n"
            if count is not None:
                table += f"        partition: {{column: id, count: {count}}}\n"
            project = write_project(base / name, dialect, table, reader=reader)
            out.append(Setting(dialect, reader, count, project))
    return out


def bench_dialect(options: Options, dialect: str, console: Console) -> list[Setting]:
    console.print(f"[bold]{dialect}[/bold]: {ensure_events(dialect, options.rows)}")
    settings = settings_for(options, dialect)
    logs = options.work_dir / dialect / "logs"
    for attempt in range(options.repeat):  # in rounds, so load spikes hit all settings alike
        for s in settings:
            log = logs / f"{s.project.name}-{attempt}.log"
            run = measure(headwater_run(s.project, full_refresh=True), log)
            if run.ok:
                held = headwater_count(s.project, "events", logs / f"count-{s.project.name}.log")
                if held != options.rows:
                    s.failures.append(f"{log.name}: lake holds {held:,}, expected {options.rows:,}")
                    run.returncode = -1
            else:
                s.failures.append(f"exit {run.returncode}, see {log}")
            s.series.runs.append(run)
            status = f"{run.seconds:.2f} s, {run.peak_mb:,.0f} MB" if run.ok else "FAILED"
            console.print(
                f"  [{attempt + 1}/{options.repeat}] {s.reader}, partition {s.label}: {status}"
            )
    return settings


def print_table(console: Console, options: Options, results: dict[str, list[Setting]]) -> None:
    table = Table(
        title=f"Headwater full load of {options.rows:,} rows, `headwater run --full-refresh` "
        f"(median of {options.repeat}; speed-up = no-partition time / this time, same reader)"
    )
    for header in (
        "database",
        "reader",
        "partition",
        "wall s",
        "min–max s",
        "rows/s",
        "peak RSS MB",
        "speed-up",
    ):
        table.add_column(
            header, justify="left" if header in ("database", "reader", "partition") else "right"
        )
    for dialect, settings in results.items():
        for s in settings:
            plain = next(x for x in settings if x.reader == s.reader and x.count is None)
            sec, base = s.series.median_s, plain.series.median_s
            ok = sec == sec
            table.add_row(
                dialect,
                s.reader,
                s.label,
                f"{sec:.2f}" if ok else "failed",
                s.series.spread(),
                f"{options.rows / sec:,.0f}" if ok else "—",
                f"{s.series.peak_mb:,.0f}" if ok else "—",
                f"{base / sec:.2f}x" if ok and base == base else "—",
            )
    console.print(table)
    for settings in results.values():
        for s in settings:
            for failure in s.failures:
                console.print(f"[red]{s.dialect} {s.reader} {s.label}[/red]: {failure}")


def main(argv: list[str]) -> int:
    options = parse(argv)
    console = Console(width=160)
    commit_at_start = headwater_commit()
    results = {d: bench_dialect(options, d, console) for d in options.dialects}
    print_table(console, options, results)
    print_environment(console, options.dialects, commit_at_start)
    return 1 if any(s.failures for ss in results.values() for s in ss) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
