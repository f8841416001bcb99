"""Present extraction measurements: a Rich table per dialect and a Markdown block for the docs.

Throughput ratios are against the fastest *raw* reader (ConnectorX, DuckDB, ADBC) of the same
dialect and size in the same run, so they compare like with like on this machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from extract_contenders import BY_NAME
from extract_runner import Measurement
from rich.console import Console
from rich.table import Table

PACKAGES = (
    "duckdb",
    "connectorx",
    "adbc-driver-postgresql",
    "dlt",
    "pandas",
    "pyarrow",
    "pyiceberg",
    "sqlalchemy",
    "pymysql",
    "psycopg",
    "headwater",
)

Results = dict[tuple[int, str], list[Measurement]]


def best_raw(measurements: Iterable[Measurement]) -> float:
    """The highest rows/s among successful raw readers (0 when none succeeded)."""
    speeds = [
        m.rows_per_second for m in measurements if m.ok and BY_NAME[m.contender].kind == "raw"
    ]
    return max(speeds, default=0.0)


def _ratio(m: Measurement, fastest: float) -> str:
    return f"{m.rows_per_second / fastest:.2f}x" if m.ok and fastest else "—"


def _cells(m: Measurement, fastest: float) -> list[str]:
    if not m.ok:
        return [m.contender, "failed", "—", f"{m.peak_mb:,.0f}", f"{m.baseline_mb:,.0f}", "—"]
    return [
        m.contender,
        f"{m.seconds:.2f}",
        f"{m.rows_per_second:,.0f}",
        f"{m.peak_mb:,.0f}",
        f"{m.baseline_mb:,.0f}",
        _ratio(m, fastest),
    ]


HEADERS = ("contender", "seconds", "rows/s", "peak RSS MB", "after imports MB", "vs fastest raw")


def print_table(
    console: Console, rows: int, dialect: str, measurements: Sequence[Measurement]
) -> None:
    """One Rich table for one dialect and size."""
    table = Table(title=f"{dialect}: full load of {rows:,} rows")
    for header in HEADERS:
        table.add_column(header, justify="left" if header == "contender" else "right")
    fastest = best_raw(measurements)
    for m in measurements:
        table.add_row(*_cells(m, fastest))
    console.print(table)
    for m in measurements:
        if not m.ok:
            console.print(f"[red]{m.contender}[/red]: {m.error}")


def machine() -> dict[str, str]:
    """nproc, RAM, CPU model and OS of this machine."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    os_name = next(
        (
            line.split("=", 1)[1].strip('"')
            for line in Path("/etc/os-release").read_text().splitlines()
            if line.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {
        "nproc": str(os.cpu_count()),
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "CPU": cpu,
        "OS": f"{os_name}, kernel {platform.release()}",
        "Python": platform.python_version(),
        "load average at the end (1/5/15 min)": load,
    }


_QUIET: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 30, "check": False}


def headwater_commit() -> str:
    """The commit Headwater was measured at, marked when its files had uncommitted changes."""
    repo = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], **_QUIET)
    dirty = subprocess.run([*git, "status", "--porcelain", "headwater"], **_QUIET)
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def versions(servers: dict[str, str], commit_at_start: str) -> dict[str, str]:
    """Package versions in this environment, then the database servers'.

    Headwater is developed while it is measured: a commit that moved during the run is
    reported as both ends, so its rows are not taken for one version.
    """
    found: dict[str, str] = {}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    commit_at_end = headwater_commit()
    if commit_at_end == commit_at_start:
        found["headwater"] += f" (commit {commit_at_end})"
    else:
        found["headwater"] += f" (commit {commit_at_start} at start, {commit_at_end} at end)"
    return {**found, **servers}


def _markdown_table(measurements: Sequence[Measurement]) -> list[str]:
    fastest = best_raw(measurements)
    lines = ["| " + " | ".join(HEADERS) + " |", "|---|" + "---:|" * (len(HEADERS) - 1)]
    lines += ["| " + " | ".join(_cells(m, fastest)) + " |" for m in measurements]
    lines += [f"\n`{m.contender}` failed: {m.error}" for m in measurements if not m.ok]
    return lines


def _flatness(results: Results, dialect: str) -> list[str]:
    """Peak RSS per contender across sizes: flat means memory does not grow with the table."""
    sizes = sorted(rows for rows, d in results if d == dialect)
    names = [m.contender for m in results[(sizes[-1], dialect)]]
    lines = [
        f"Peak RSS MB by table size ({dialect}):",
        "",
        "| contender | " + " | ".join(f"{s:,} rows" for s in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name in names:
        peaks = []
        for size in sizes:
            hit = [m for m in results[(size, dialect)] if m.contender == name]
            peaks.append(f"{hit[0].peak_mb:,.0f}" if hit and hit[0].ok else "—")
        lines.append(f"| {name} | " + " | ".join(peaks) + " |")
    return [*lines, ""]


def _profiles(results: Results) -> list[str]:
    """RSS at each tenth of the run: a rising line means memory grows with rows read."""
    largest = max(rows for rows, _ in results)
    lines = [f"RSS MB at each tenth of the run ({largest:,} rows):", ""]
    for (rows, dialect), measurements in sorted(results.items()):
        if rows == largest:
            lines += [
                f"- {dialect} `{m.contender}`: " + " ".join(f"{v:.0f}" for v in m.rss_profile)
                for m in measurements
                if m.ok and m.rss_profile
            ]
    return [*lines, ""]


def _types(results: Results) -> list[str]:
    lines = ["Arrow types written (largest run):", ""]
    for (rows, dialect), measurements in sorted(results.items()):
        if rows != max(r for r, _ in results):
            continue
        lines += [f"- {dialect} `{m.contender}`: {m.schema}" for m in measurements if m.schema]
    return [*lines, ""]


def markdown(
    command: str, results: Results, machine_info: dict[str, str], version_info: dict[str, str]
) -> str:
    """A block ready to paste into docs/benchmarks.md."""
    lines = [
        f"Command: `{command}`",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in machine_info.items()),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in version_info.items()),
        "",
    ]
    for (rows, dialect), measurements in sorted(results.items()):
        lines += [f"#### {dialect}, {rows:,} rows", "", *_markdown_table(measurements), ""]
    dialects = sorted({d for _, d in results})
    if len({rows for rows, _ in results}) > 1:
        for dialect in dialects:
            lines += _flatness(results, dialect)
    lines += _profiles(results)
    lines += _types(results)
    lines += ["Contenders:", ""]
    ran = {m.contender for measurements in results.values() for m in measurements}
    lines += [
        f"- `{c.name}` ({c.kind}): {c.description}" for c in BY_NAME.values() if c.name in ran
    ]
    return "\n".join(lines) + "\n"
