"""Benchmark: eight typical data-quality checks on one table, Headwater against its peers.

The table ``events(id, customer_id, status, amount, code)`` (``--rows`` rows, 5M by default)
is generated once by DuckDB from a formula of the row number, with failures planted at known
rows, and kept as one Parquet file (for the peers) and as an Iceberg table (for Headwater).
The checks, with the failing rows each must report:

    id_not_null, status_not_null, id_unique, amount_between (0..100000),
    status_accepted (5 statuses), code_length (= 7), row_count (>= 1), customer_id_not_null

Contenders, each a fresh process timed whole (interpreter start and imports included):

    headwater           `headwater check quality --project DIR --format json` (the CLI, on the
                        Iceberg table; an environment with the main dependencies only)
    headwater_counts    the same with `--samples 0`: failure counts only, as the peers report them
    duckdb_sql          one hand-written DuckDB query over the Parquet file: the baseline
    great_expectations  GX 1.x, pandas DataFrame (pd.read_parquet), one suite, one validation
    pandera_polars      pandera.polars on a polars DataFrame, lazy=True (every failure)
    soda_core           Soda Core 4 + soda-duckdb, a data contract on a DuckDB view of the file

Wall time is the median of ``--repeat`` runs (in rounds, so load spikes hit all alike); peak
RSS is the highest sum over the process tree (bench/_common.py). Every contender's counts are
compared with the planted ones; a contender that counts differently fails the comparison.

    .venv/bin/python bench/quality.py
    .venv/bin/python bench/quality.py --rows 1000000 --only headwater,duckdb_sql --repeat 5

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from _common import BENCH_DIR, Run, headwater_bin, measure
from extract_report import headwater_commit, machine
from quality_contenders import AMOUNT, CHECKS, CODE_LENGTH, STATUSES
from rich.console import Console
from rich.table import Table

CONTENDERS = (
    "headwater",
    "headwater_counts",
    "duckdb_sql",
    "great_expectations",
    "pandera_polars",
    "soda_core",
)
BASELINE = "duckdb_sql"
GX = "great_expectations"
PACKAGES = (
    "duckdb",
    "pyarrow",
    "pyiceberg",
    "pandas",
    "polars",
    "pandera",
    "great-expectations",
    "soda-core",
    "soda-duckdb",
)
# From the issue, measured on a 2-core machine: (seconds, peak MB or None)
REFERENCE = {
    "duckdb_sql": (1.14, 283),
    "soda_core": (1.40, 370),
    "pandera_polars": (2.38, 971),
    "great_expectations": (42.5, 3400),
}
REFERENCE_NOTE = "Soda Core 3 (not measured here): 1.96 s"


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class Plan:
    """Where failures are planted: every ``m``-th row from residue ``r`` (sizes scale with rows)."""

    rows: int

    def step(self, per_table: int) -> int:
        return max(self.rows // per_table, 2)

    def at(self, per_table: int, residue: int) -> set[int]:
        return set(range(residue, self.rows, self.step(per_table)))

    @property
    def duplicates(self) -> set[int]:  # id = row - 1: the previous row's id again
        return {i for i in self.at(20, 0) if i > 0}

    @property
    def customer_nulls(self) -> set[int]:
        return self.at(50, 7)

    @property
    def status_nulls(self) -> set[int]:
        return self.at(5, 13)

    @property
    def unknown_status(self) -> set[int]:
        return self.at(10, 3) - self.status_nulls

    @property
    def negative_amounts(self) -> set[int]:
        return self.at(5, 11)

    @property
    def short_codes(self) -> set[int]:
        return self.at(13, 5)

    def expected(self, unique: str) -> dict[str, int]:
        """The failing rows each check must report; ``unique`` as the tool counts it."""
        duplicates = len(self.duplicates)
        return {
            "id_not_null": 0,
            "status_not_null": len(self.status_nulls),
            "id_unique": duplicates * 2 if unique == "all" else duplicates,
            "amount_between": len(self.negative_amounts),
            "status_accepted": len(self.unknown_status),
            "code_length": len(self.short_codes),
            "row_count": self.rows,
            "customer_id_not_null": len(self.customer_nulls),
        }

    def sql(self) -> str:
        s = self.step
        statuses = ", ".join(f"'{x}'" for x in STATUSES)
        return f"""
        SELECT CAST(CASE WHEN i > 0 AND i % {s(20)} = 0 THEN i - 1 ELSE i END AS BIGINT) AS id,
               CAST(CASE WHEN i % {s(50)} = 7 THEN NULL
                         ELSE 1 + (i * 31337) % 100000 END AS INTEGER) AS customer_id,
               CASE WHEN i % {s(5)} = 13 THEN NULL
                    WHEN i % {s(10)} = 3 THEN 'unknown'
                    ELSE [{statuses}][1 + i % 5] END AS status,
               CAST(CASE WHEN i % {s(5)} = 11 THEN -1
                         ELSE ((i * 104729) % 10000000) / 100 END AS DOUBLE) AS amount,
               CASE WHEN i % {s(13)} = 5 THEN 'C-1'
                    ELSE 'C-' || lpad(CAST(i % 100000 AS VARCHAR), 5, '0') END AS code
        FROM range({self.rows}) AS t(i)
        """


def make_data(plan: Plan, folder: Path, console: Console) -> tuple[Path, Path]:
    """The Parquet file and the Headwater project holding the same rows (reused when there)."""
    import duckdb

    parquet = folder / f"events_{plan.rows}.parquet"
    project = folder / f"headwater_{plan.rows}"
    if not parquet.exists():
        tmp = parquet.with_suffix(".tmp")
        duckdb.sql(f"COPY ({plan.sql()}) TO '{tmp}' (FORMAT parquet)")
        tmp.rename(parquet)
        console.print(f"wrote {parquet} ({parquet.stat().st_size / 2**20:,.0f} MB)")
    if not (project / ".headwater").exists():
        shutil.rmtree(project, ignore_errors=True)
        (project / "checks").mkdir(parents=True)
        (project / "headwater.yaml").write_text("name: quality_bench\n")
        (project / "checks" / "quality.yaml").write_text(SUITE)
        # untimed, in the Headwater environment: the Parquet file into bench.events
        load = (
            "import sys, pyarrow.parquet as pq; from headwater import Workspace; "
            "from headwater.lake import replace_table; "
            "ws = Workspace.open(sys.argv[1]); f = pq.ParquetFile(sys.argv[2]); "
            "import pyarrow as pa; "
            "replace_table(ws.lake, 'bench.events', "
            "pa.RecordBatchReader.from_batches(f.schema_arrow, f.iter_batches(1_000_000))); "
            "ws.close()"
        )
        python = headwater_bin().parent / "python"
        subprocess.run([str(python), "-c", load, str(project), str(parquet)], check=True)
        console.print(f"wrote bench.events in {project}")
    shutil.rmtree(folder / "soda", ignore_errors=True)
    return parquet, project


SUITE = f"""\
bench.events:
  - {{not_null: id, name: id_not_null}}
  - {{not_null: status, name: status_not_null}}
  - {{unique: id, name: id_unique}}
  - {{between: {{column: amount, min: {AMOUNT[0]}, max: {AMOUNT[1]}}}, name: amount_between}}
  - {{accepted_values: {{column: status, values: {json.dumps(STATUSES)}}}, name: status_accepted}}
  - {{length: {{column: code, min: {CODE_LENGTH}, max: {CODE_LENGTH}}}, name: code_length}}
  - {{row_count: {{min: 1}}, name: row_count}}
  - {{not_null: customer_id, name: customer_id_not_null}}
"""


# ---------------------------------------------------------------- running


@dataclass
class Outcome:
    """Every run of one contender, and the counts it reported."""

    name: str
    runs: list[Run] = field(default_factory=list)
    counts: dict[str, int] | None = None
    unique: str = "extra"
    error: str = ""

    @property
    def good(self) -> list[Run]:
        return [r for r in self.runs if r.returncode in self.exits]

    @property
    def exits(self) -> tuple[int, ...]:
        return (
            (0, 1) if self.name.startswith("headwater") else (0,)
        )  # headwater exits 1: checks fail

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.good) if self.good else float("nan")

    @property
    def peak_mb(self) -> float:
        return max((r.peak_mb for r in self.good), default=float("nan"))


def command(name: str, parquet: Path, project: Path) -> list[str]:
    if name.startswith("headwater"):
        binary = str(headwater_bin())
        # headwater_counts: counts only, as the peers report them (no failing-row samples)
        extra = ["--samples", "0"] if name == "headwater_counts" else []
        return [binary, "check", "quality", "--project", str(project), "--format", "json", *extra]
    return [sys.executable, str(BENCH_DIR / "quality_contenders.py"), name, str(parquet)]


def read_counts(outcome: Outcome, run: Run) -> None:
    """The counts of a run's stdout (Headwater's JSON report, or a contender's JSON line)."""
    if outcome.name.startswith("headwater"):
        report = json.loads(run.stdout)
        counts = {}
        for r in report["results"]:
            counts[r["check"]] = int(r["observed"] if r["check"] == "row_count" else r["failing"])
        outcome.counts = {name: counts[name] for name in CHECKS}
        return
    line = json.loads(run.stdout.strip().splitlines()[-1])
    outcome.counts = line["counts"]
    outcome.unique = line["semantics"]["unique"]


def run_all(
    names: list[str], parquet: Path, project: Path, repeat: int, logs: Path, console: Console
) -> list[Outcome]:
    outcomes = [Outcome(n) for n in names]
    for attempt in range(repeat):
        for outcome in outcomes:
            log = logs / f"{outcome.name}-{attempt}.log"
            run = measure(command(outcome.name, parquet, project), log)
            outcome.runs.append(run)
            if run.returncode in outcome.exits:
                try:
                    read_counts(outcome, run)
                except (ValueError, KeyError) as exc:
                    outcome.error = f"unreadable output ({exc}); see {log}"
            else:
                outcome.error = f"exit {run.returncode}; see {log}"
            status = f"{run.seconds:.2f} s, {run.peak_mb:,.0f} MB, exit {run.returncode}"
            console.print(f"  [{attempt + 1}/{repeat}] {outcome.name}: {status}")
    return outcomes


# ---------------------------------------------------------------- reporting


def _ratio(value: float, base: float | None) -> str:
    if base is None or base != base or value != value or not base:
        return "—"
    return f"{value / base:.2f}x"


def report(outcomes: list[Outcome], plan: Plan, console: Console) -> bool:
    by_name = {o.name: o for o in outcomes}
    base = by_name.get(BASELINE)
    gx = by_name.get(GX)
    table = Table(title=f"8 checks on {plan.rows:,} rows (median of {len(outcomes[0].runs)})")
    headers = (
        "contender",
        "seconds",
        "min–max",
        "peak RSS MB",
        "time vs SQL",
        "RSS vs SQL",
        "time vs GX",
        "RSS vs GX",
        "counts",
        "issue (2 cores)",
    )
    for h in headers:
        table.add_column(h, justify="left" if h in ("contender", "counts") else "right")
    all_ok = True
    for o in outcomes:
        expected = plan.expected(o.unique)
        if o.counts is None:
            verdict = "—"
            all_ok = False
        elif o.counts == expected:
            verdict = "ok" if o.unique == "extra" else "ok (unique: all rows)"
        else:
            wrong = [
                f"{k} {o.counts.get(k)}≠{v}" for k, v in expected.items() if o.counts.get(k) != v
            ]
            verdict = "WRONG: " + ", ".join(wrong)
            all_ok = False
        ref = REFERENCE.get(o.name)
        spread = (
            f"{min(r.seconds for r in o.good):.2f}–{max(r.seconds for r in o.good):.2f}"
            if o.good
            else "—"
        )
        table.add_row(
            o.name,
            f"{o.seconds:.2f}" if o.good else "failed",
            spread,
            f"{o.peak_mb:,.0f}" if o.good else "—",
            _ratio(o.seconds, base.seconds if base else None),
            _ratio(o.peak_mb, base.peak_mb if base else None),
            _ratio(o.seconds, gx.seconds if gx else None),
            _ratio(o.peak_mb, gx.peak_mb if gx else None),
            verdict,
            f"{ref[0]:.2f} s / {ref[1]:,} MB" if ref else "—",
        )
    console.print(table)
    console.print(
        "expected failing rows: "
        + ", ".join(f"{k} {v:,}" for k, v in plan.expected("extra").items())
        + f" (id_unique counts extra rows; 'unique: all rows' tools count every row of a "
        f"duplicated id: {plan.expected('all')['id_unique']})"
    )
    console.print(f"issue reference: {REFERENCE_NOTE}")
    for o in outcomes:
        if o.error:
            console.print(f"[red]{o.name}[/red]: {o.error}")
    return all_ok


def print_environment(console: Console, commit_at_start: str) -> None:
    console.print("Machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()))
    found = {}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    commit = headwater_commit()
    found["headwater"] = (
        f"commit {commit}" if commit == commit_at_start else f"{commit_at_start} → {commit}"
    )
    console.print(
        f"Versions: Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in found.items())
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; median kept")
    parser.add_argument("--only", default="", help=f"comma list of {', '.join(CONTENDERS)}")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work" / "quality")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(CONTENDERS)
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s) {sorted(unknown)}; choose from {CONTENDERS}")
    console = Console(width=180)
    commit_at_start = headwater_commit()
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    plan = Plan(args.rows)
    parquet, project = make_data(plan, work, console)
    outcomes = run_all(names, parquet, project, max(1, args.repeat), work / "logs", console)
    ok = report(outcomes, plan, console)
    print_environment(console, commit_at_start)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
