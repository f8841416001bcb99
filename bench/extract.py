"""Benchmark: full load of a large mixed-type table from MariaDB and PostgreSQL, side by side.

Measures, for each reader ("contender"), the seconds to read all of ``hw_bench.events``
(BIGINT, INT, DECIMAL(12,2), VARCHAR(40) with NULLs, DATETIME/TIMESTAMP, DOUBLE) and write
it to local disk (Parquet, or an Iceberg table for Headwater), the rows/s, and the peak RSS
of the contender's own fresh process. Raw readers (ConnectorX, DuckDB's scanners, ADBC) are
the yardstick; dlt, pandas and Headwater are compared against the fastest of them.

    make bench BENCH_ARGS="--rows 5000000"
    .venv/bin/python bench/extract.py --rows 2000000,5000000 --only cx_stream,duckdb_stream

Not a test: nothing asserts on timings. See docs/benchmarks.md for recorded results.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import sqlalchemy as sa
from extract_contenders import BY_NAME, CONTENDERS, Contender, Job, prepare_duckdb_extensions
from extract_data import ensure_events, server_version
from extract_report import (
    Results,
    headwater_commit,
    machine,
    markdown,
    print_table,
    versions,
)
from extract_runner import Measurement, run_child
from rich.console import Console

BENCH_DIR = Path(__file__).resolve().parent
DIALECTS = ("mysql", "postgres")
SLOW_LIMIT = 1_000_000  # the per-row SQLAlchemy reader only runs at or below this, or --slow


@dataclass(frozen=True)
class Options:
    """The parsed command line."""

    dialects: tuple[str, ...]
    sizes: tuple[int, ...]
    only: tuple[str, ...]
    repeat: int
    slow: bool
    batch_size: int
    timeout: float
    work_dir: Path


def _csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", default="mysql,postgres", help="mysql,postgres")
    parser.add_argument(
        "--rows", default="5000000", help="table size; a comma list runs each size in turn"
    )
    parser.add_argument("--only", default="", help="comma list of contenders; default all")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender; best kept")
    parser.add_argument("--slow", action="store_true", help="also run hw_sqlalchemy above 1M")
    parser.add_argument("--batch-size", type=int, default=100_000, help="rows per batch")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work")
    args = parser.parse_args(argv)
    only = _csv(args.only)
    dialects = _csv(args.dialect)
    if not dialects or set(dialects) - set(DIALECTS):
        parser.error(f"--dialect takes a comma list of {', '.join(DIALECTS)}")
    unknown = [name for name in only if name not in BY_NAME]
    if unknown:
        parser.error(f"unknown contender(s) {unknown}; choose from {list(BY_NAME)}")
    return Options(
        dialects=dialects,
        sizes=tuple(sorted(int(r.replace("_", "")) for r in _csv(args.rows))),
        only=only,
        repeat=max(1, args.repeat),
        slow=args.slow,
        batch_size=args.batch_size,
        timeout=args.timeout,
        work_dir=args.work_dir.resolve(),
    )


def headwater_available() -> bool:
    """Whether ``from headwater import Workspace`` works now (checked in a throwaway process)."""
    probe = [sys.executable, "-c", "from headwater import Workspace"]
    return subprocess.run(probe, capture_output=True, timeout=120, check=False).returncode == 0


def selected(options: Options, dialect: str, rows: int, console: Console) -> list[Contender]:
    """The contenders to run for one dialect and size, saying why any is left out."""
    chosen = []
    have_headwater = headwater_available()
    for contender in CONTENDERS:
        if options.only and contender.name not in options.only:
            continue
        if dialect not in contender.dialects:
            continue
        if contender.kind == "headwater" and not have_headwater:
            console.print(f"{contender.name}: headwater: not available yet")
            continue
        if contender.name == "hw_sqlalchemy" and rows > SLOW_LIMIT and not options.slow:
            console.print("hw_sqlalchemy: skipped above 1M rows (per-row fallback); use --slow")
            continue
        chosen.append(contender)
    return chosen


def run_once(
    options: Options, contender: Contender, dialect: str, rows: int, attempt: int
) -> Measurement:
    """One fresh child process for one contender."""
    job = Job(
        contender=contender.name,
        dialect=dialect,
        rows=rows,
        batch_size=options.batch_size,
        out_dir=str(options.work_dir / "out" / f"{dialect}-{contender.name}"),
        result_file=str(options.work_dir / "result.json"),
        duckdb_extensions=str(options.work_dir / "duckdb_extensions"),
    )
    log = options.work_dir / "logs" / f"{dialect}-{rows}-{contender.name}-{attempt}.log"
    return run_child(job, options.timeout, log)


def best_of(runs: list[Measurement]) -> Measurement:
    """The fastest successful run, carrying the highest peak RSS seen in any of them."""
    good = [m for m in runs if m.ok]
    if not good:
        return runs[-1]
    best = min(good, key=lambda m: m.seconds)
    return replace(best, peak_mb=max(m.peak_mb for m in good))


def run_size(options: Options, dialect: str, rows: int, console: Console) -> list[Measurement]:
    """All contenders for one dialect and size, in rounds so that load spikes hit all alike."""
    try:
        prepared = ensure_events(dialect, rows)
    except sa.exc.OperationalError as exc:
        console.print(f"[red]{dialect}: cannot prepare hw_bench.events, skipped[/red]: {exc.orig}")
        return []
    console.print(f"[bold]{dialect}[/bold]: {prepared} in hw_bench.events")
    contenders = selected(options, dialect, rows, console)
    runs: dict[str, list[Measurement]] = {c.name: [] for c in contenders}
    for attempt in range(options.repeat):
        for contender in contenders:
            m = run_once(options, contender, dialect, rows, attempt)
            status = f"{m.seconds:.2f} s, {m.peak_mb:,.0f} MB" if m.ok else f"FAILED: {m.error}"
            console.print(f"  [{attempt + 1}/{options.repeat}] {contender.name}: {status}")
            runs[contender.name].append(m)
    measurements = [best_of(runs[c.name]) for c in contenders]
    print_table(console, rows, dialect, measurements)
    return measurements


def save_json(path: Path, command: str, results: Results) -> None:
    """Keep the raw measurements next to the report, for later comparison."""
    rows = [asdict(m) for measurements in results.values() for m in measurements]
    path.write_text(json.dumps({"command": command, "measurements": rows}, indent=1))


def main(argv: list[str]) -> int:
    options = parse(argv)
    console = Console()
    (options.work_dir / "logs").mkdir(parents=True, exist_ok=True)
    prepare_duckdb_extensions(options.work_dir / "duckdb_extensions")
    commit_at_start = headwater_commit()
    results: Results = {}
    for rows in options.sizes:
        for dialect in options.dialects:
            measurements = run_size(options, dialect, rows, console)
            if measurements:
                results[(rows, dialect)] = measurements
    if not results:
        console.print("[red]nothing was measured[/red]")
        return 1
    servers = {d: server_version(d) for d in sorted({d for _, d in results})}
    command = "make bench BENCH_ARGS=" + shlex.quote(shlex.join(argv)) if argv else "make bench"
    report = markdown(command, results, machine(), versions(servers, commit_at_start))
    report_path = options.work_dir / "report.md"
    report_path.write_text(report)
    save_json(options.work_dir / "results.json", command, results)
    console.print(f"\nMarkdown for docs/benchmarks.md (also in {report_path}):\n")
    console.print(report, markup=False, highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
