"""Benchmark: picking up the rows appended since the last load, as whole processes.

Setup (untimed): ``hw_bench_inc.events`` with ``--rows`` rows in MariaDB and PostgreSQL (see
bench/_common.py; reused when it already holds them, earlier appends trimmed), then one
initial full load per tool, whose wall time and peak RSS are reported too.

Then ``--repeat`` rounds: append ``--new-rows`` rows (ids above the maximum, ``updated_at``
later than all) and run each tool once as a fresh process that picks up exactly those rows:

- ``headwater (cursor id|updated_at)``: ``headwater run p --project DIR``, a SQL source on the
  table with ``load: {strategy: incremental, cursor: …}``, into an Iceberg table; the lake
  table's row count is checked after each run (``headwater query``, untimed);
- ``hand-written cx``: a ten-line script, ConnectorX ``read_sql(… WHERE id > :last,
  return_type="arrow")`` → ``pyarrow.parquet.write_table``, the last id kept in a JSON file;
- ``dlt (connectorx|pyarrow)``: ``sql_table(incremental=dlt.sources.incremental("id"),
  backend=…)`` → ``filesystem`` destination, ``loader_file_format="parquet"`` (the dlt
  destination closest to "write Parquet files").

and, unless ``--no-warm``, the same loads in a process that stays up between rounds (as the
scheduler and ``headwater serve`` run them), timed in process (bench/incremental_resident.py):

- ``headwater warm (cursor id|updated_at)``: ``Workspace.open(...).run("p")``;
- ``hand-written cx warm``: the hand-written read above, as a function.

Every tool's output is checked to have grown by exactly ``--new-rows``. A last round appends
nothing, to show each tool's fixed cost.

    .venv/bin/python bench/incremental.py                      # 5M rows, both databases
    .venv/bin/python bench/incremental.py --rows 1000000 --db mysql --repeat 3

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    BENCH_DIR,
    DIALECTS,
    HEADWATER_ENV,
    Run,
    Series,
    append_rows,
    count_and_max,
    ensure_events,
    headwater_count,
    headwater_run,
    measure,
    print_environment,
    urls,
    write_project,
)
from extract_report import headwater_commit
from rich.console import Console
from rich.table import Table

PYTHON = sys.executable
RESIDENT = Path(__file__).resolve().parent / "incremental_resident.py"

# The hand-written baseline, as a user would write it: no framework, one file.
CX_SCRIPT = """\
import json, sys
import connectorx as cx
import pyarrow.compute as pc
import pyarrow.parquet as pq

url, state_file, out_dir = sys.argv[1:4]
with open(state_file) as f:
    state = json.load(f)
last = state["last"]
table = cx.read_sql(url, f"SELECT * FROM events WHERE id > {int(last)}", return_type="arrow")
if table.num_rows:
    pq.write_table(table, f"{out_dir}/events-{state['files']:05d}.parquet")
    state = {"last": pc.max(table["id"]).as_py(), "files": state["files"] + 1}
    with open(state_file, "w") as f:
        json.dump(state, f)
print(json.dumps({"rows": table.num_rows}))
"""

DLT_SCRIPT = """\
import json, os, sys
from pathlib import Path

os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
import dlt
from dlt.sources.sql_database import sql_table

url, cx_url, backend, cursor, work = sys.argv[1:6]
work = Path(work)
kwargs = {"backend_kwargs": {"conn": cx_url}} if backend == "connectorx" else {}
events = sql_table(
    credentials=url,
    table="events",
    incremental=dlt.sources.incremental(cursor),
    backend=backend,
    chunk_size=100_000,
    **kwargs,
)
pipeline = dlt.pipeline(
    pipeline_name="bench",
    pipelines_dir=str(work / "pipelines"),
    destination=dlt.destinations.filesystem(bucket_url=(work / "lake").as_uri()),
    dataset_name="bench",
)
pipeline.run(events, loader_file_format="parquet")
counts = pipeline.last_trace.last_normalize_info.row_counts
print(json.dumps({"rows": counts.get("events", 0)}))
"""


@dataclass(frozen=True)
class Options:
    dialects: tuple[str, ...]
    rows: int
    new_rows: int
    repeat: int
    cursors: tuple[str, ...]
    dlt_backends: tuple[str, ...]
    warm: bool
    work_dir: Path


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="both", choices=("mysql", "postgres", "both"))
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=5_000_000)
    parser.add_argument("--new-rows", type=lambda s: int(s.replace("_", "")), default=50_000)
    parser.add_argument("--repeat", type=int, default=5, help="measured rounds (median kept)")
    parser.add_argument("--cursors", default="id,updated_at", help="Headwater cursor columns")
    parser.add_argument("--dlt-backends", default="connectorx,pyarrow", help="'' for no dlt")
    parser.add_argument(
        "--no-warm", action="store_true", help="leave out the resident (warm process) contenders"
    )
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work" / "incremental")
    args = parser.parse_args(argv)
    return Options(
        dialects=DIALECTS if args.db == "both" else (args.db,),
        rows=args.rows,
        new_rows=args.new_rows,
        repeat=max(1, args.repeat),
        cursors=_csv(args.cursors),
        dlt_backends=_csv(args.dlt_backends),
        warm=not args.no_warm,
        work_dir=args.work_dir.resolve(),
    )


# ---------------------------------------------------------------- tools


@dataclass
class Tool:
    """One contender against one database: how to run it and how many rows it holds."""

    name: str
    kind: str  # headwater | cx | dlt
    folder: Path
    command: list[str]
    initial: list[str]  # the first, full load
    count: Callable[[], int]  # rows held so far, checked between rounds
    setup: Run | None = None
    rounds: Series = field(default_factory=Series)
    idle: Run | None = None
    failures: list[str] = field(default_factory=list)
    resident: Resident | None = None  # runs in a process that stays up; commands are lines


class Resident:
    """A process that stays up and loads once per line it is sent (incremental_resident.py)."""

    def __init__(self, command: list[str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        self._err = log.open("w")
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True
        )

    def run(self, line: str) -> Run:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline()
        if not answer:
            return Run(float("nan"), float("nan"), self._proc.wait())
        data = json.loads(answer)
        if "error" in data:
            return Run(float("nan"), data["peak_mb"], 1, data["error"])
        return Run(data["seconds"], data["peak_mb"], 0)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=60)
        self._err.close()


def headwater_tool(dialect: str, base: Path, cursor: str) -> Tool:
    folder = base / f"hw_{cursor}"
    tables = f"      - name: events\n        load: {{strategy: incremental, cursor: {cursor}}}\n"
    write_project(folder, dialect, tables)
    logs = base / "logs"
    return Tool(
        name=f"headwater (cursor {cursor})",
        kind="headwater",
        folder=folder,
        command=headwater_run(folder),
        initial=headwater_run(folder, full_refresh=True),
        count=lambda: headwater_count(folder, "events", logs / f"count-{folder.name}.log"),
    )


def headwater_warm_tool(dialect: str, base: Path, cursor: str) -> Tool:
    tool = headwater_tool(dialect, base, cursor)
    tool.folder = tool.folder.with_name(f"{tool.folder.name}_warm")
    # the project file only: a copied lake would be refused as a copy (headwater relocate)
    shutil.copytree(base / f"hw_{cursor}", tool.folder, ignore=shutil.ignore_patterns(".headwater"))
    folder = tool.folder
    python = str(HEADWATER_ENV / "bin" / "python")
    command = [python, str(RESIDENT), "headwater", str(folder)]
    tool.name = f"headwater warm (cursor {cursor})"
    tool.resident = Resident(command, base / "logs" / f"{folder.name}-resident.log")
    tool.command, tool.initial = ["run"], ["full"]
    tool.count = lambda: headwater_count(
        folder, "events", base / "logs" / f"count-{folder.name}.log"
    )
    return tool


def cx_warm_tool(dialect: str, base: Path) -> Tool:
    tool = cx_tool(dialect, base, "cx_warm")
    command = [PYTHON, str(RESIDENT), "cx", *tool.command[2:]]
    tool.name = "hand-written cx warm"
    tool.resident = Resident(command, base / "logs" / "cx_warm-resident.log")
    tool.command = tool.initial = ["run"]
    return tool


def cx_tool(dialect: str, base: Path, name: str = "cx") -> Tool:
    folder = base / name
    (folder / "out").mkdir(parents=True)
    script = folder / "cx_incremental.py"
    script.write_text(CX_SCRIPT)
    state = folder / "state.json"
    state.write_text(json.dumps({"last": 0, "files": 0}))
    command = [PYTHON, str(script), urls(dialect).connectorx, str(state), str(folder / "out")]

    def count() -> int:
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(p).metadata.num_rows for p in (folder / "out").glob("*"))

    return Tool("hand-written cx", "cx", folder, command, command, count)


def dlt_tool(dialect: str, base: Path, backend: str) -> Tool:
    folder = base / f"dlt_{backend}"
    folder.mkdir(parents=True)
    script = folder / "dlt_incremental.py"
    script.write_text(DLT_SCRIPT)
    u = urls(dialect)
    command = [PYTHON, str(script), u.sqlalchemy, u.connectorx, backend, "id", str(folder)]

    def count() -> int:
        import pyarrow.parquet as pq

        files = (folder / "lake" / "bench" / "events").glob("*.parquet")
        return sum(pq.ParquetFile(p).metadata.num_rows for p in files)

    return Tool(f"dlt ({backend})", "dlt", folder, command, command, count)


def tools_for(options: Options, dialect: str) -> list[Tool]:
    base = options.work_dir / dialect
    shutil.rmtree(base, ignore_errors=True)
    (base / "logs").mkdir(parents=True)
    tools = [headwater_tool(dialect, base, c) for c in options.cursors]
    tools.append(cx_tool(dialect, base))
    tools += [dlt_tool(dialect, base, b) for b in options.dlt_backends]
    if options.warm:
        tools += [headwater_warm_tool(dialect, base, c) for c in options.cursors]
        tools.append(cx_warm_tool(dialect, base))
    return tools


# ---------------------------------------------------------------- rounds


def _run(tool: Tool, command: list[str], log: Path, expected: int, before: int) -> Run:
    """Run once, then check the tool's output grew by exactly ``expected`` rows."""
    run = tool.resident.run(command[0]) if tool.resident else measure(command, log)
    if not run.ok:
        tool.failures.append(f"exit {run.returncode}, see {log}")
        return run
    after = tool.count()
    if after - before != expected:
        tool.failures.append(f"{log.name}: grew by {after - before:,}, expected {expected:,}")
        run.returncode = -1
    return run


def bench_dialect(options: Options, dialect: str, console: Console) -> list[Tool]:
    console.print(f"[bold]{dialect}[/bold]: {ensure_events(dialect, options.rows)}")
    tools = tools_for(options, dialect)
    logs = options.work_dir / dialect / "logs"
    for tool in tools:
        tool.setup = _run(
            tool, tool.initial, logs / f"{tool.folder.name}-initial.log", options.rows, 0
        )
        status = f"{tool.setup.seconds:.1f} s, {tool.setup.peak_mb:,.0f} MB"
        console.print(
            f"  initial full load, {tool.name}: {status if tool.setup.ok else tool.failures}"
        )
    held = {tool.name: options.rows for tool in tools}
    for attempt in range(options.repeat + 1):
        idle = attempt == options.repeat
        new = 0 if idle else options.new_rows
        if new:
            first, last = append_rows(dialect, new)
            label = f"round {attempt + 1}/{options.repeat}: ids {first:,}..{last:,}"
        else:
            label = "idle round (nothing new)"
        console.print(f"  {label}")
        for tool in tools:
            log = logs / f"{tool.folder.name}-{'idle' if idle else attempt}.log"
            run = _run(tool, tool.command, log, new, held[tool.name])
            held[tool.name] += new if run.ok else 0
            if idle:
                tool.idle = run
            else:
                tool.rounds.runs.append(run)
            status = f"{run.seconds:.2f} s, {run.peak_mb:,.0f} MB" if run.ok else "FAILED"
            console.print(f"    {tool.name}: {status}")
            if not run.ok:  # a failed check leaves the tool's count unknown: recount
                held[tool.name] = tool.count()
    for tool in tools:
        if tool.resident is not None:
            tool.resident.close()
    count, _ = count_and_max(dialect)
    console.print(f"  source now holds {count:,} rows")
    return tools


# ---------------------------------------------------------------- report


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if a == a and b == b and b > 0 else "—"  # nan-safe


def print_tables(console: Console, options: Options, results: dict[str, list[Tool]]) -> None:
    table = Table(
        title=f"Picking up {options.new_rows:,} new rows of {options.rows:,} "
        f"(median of {options.repeat}; ratio = wall time / the other's wall time)"
    )
    for header in (
        "tool",
        "database",
        "median wall s",
        "min–max s",
        "peak RSS MB",
        "vs hand-written cx (warm: warm)",
        "vs dlt (connectorx)",
        "idle run s",
        "idle MB",
    ):
        table.add_column(header, justify="left" if header in ("tool", "database") else "right")
    for dialect, tools in results.items():
        cx = next((t for t in tools if t.kind == "cx" and not t.resident), None)
        cx_warm = next((t for t in tools if t.kind == "cx" and t.resident), None)
        dlt = next((t for t in tools if t.name == "dlt (connectorx)"), None)
        dlt_s = dlt.rounds.median_s if dlt else float("nan")
        for tool in tools:
            # a warm contender against the warm hand-written read, a whole process against one
            baseline = cx_warm if tool.resident else cx
            cx_s = baseline.rounds.median_s if baseline else float("nan")
            s = tool.rounds.median_s
            idle = tool.idle
            table.add_row(
                tool.name,
                dialect,
                f"{s:.2f}" if s == s else "failed",
                tool.rounds.spread(),
                f"{tool.rounds.peak_mb:,.0f}",
                _ratio(s, cx_s),
                _ratio(s, dlt_s),
                f"{idle.seconds:.2f}" if idle and idle.ok else "—",
                f"{idle.peak_mb:,.0f}" if idle and idle.ok else "—",
            )
    console.print(table)
    setup = Table(title=f"Initial full load of {options.rows:,} rows (setup, not in the ratios)")
    for header in ("tool", "database", "wall s", "rows/s", "peak RSS MB"):
        setup.add_column(header, justify="left" if header in ("tool", "database") else "right")
    for dialect, tools in results.items():
        for tool in tools:
            run = tool.setup
            ok = run is not None and run.ok
            setup.add_row(
                tool.name,
                dialect,
                f"{run.seconds:.2f}" if ok and run else "failed",
                f"{options.rows / run.seconds:,.0f}" if ok and run else "—",
                f"{run.peak_mb:,.0f}" if run else "—",
            )
    console.print(setup)
    for dialect, tools in results.items():
        for tool in tools:
            for failure in tool.failures:
                console.print(f"[red]{dialect} {tool.name}[/red]: {failure}")


def main(argv: list[str]) -> int:
    options = parse(argv)
    console = Console(width=160)
    commit_at_start = headwater_commit()
    results = {d: bench_dialect(options, d, console) for d in options.dialects}
    print_tables(console, options, results)
    print_environment(console, options.dialects, commit_at_start)
    failed = any(t.failures for tools in results.values() for t in tools)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
