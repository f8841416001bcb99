"""How `headwater check` shows results: a table for people, JSON for machines."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from headwater.cli.output import cell_text
from headwater.quality.results import CheckResult, SuiteResult


def status(result: CheckResult) -> str:
    if result.error:
        return "[red]error[/red]"
    if result.passed:
        return "[green]pass[/green]"
    return "[red]FAIL[/red]" if result.severity == "error" else "[yellow]warn[/yellow]"


def show(suite: SuiteResult, out: Console, err: Console) -> None:
    view = Table(
        "table", "check", "status", "rows", "failing", "observed", "expected", header_style="bold"
    )
    for r in suite.results:
        view.add_row(
            Text(r.table),
            Text.assemble(r.check, (f" ({r.severity})", "dim")),
            status(r),
            f"{r.evaluated:,}",
            f"{r.failing:,}" if r.failing else "",
            _short(r.observed),
            Text(r.error or r.expected),
        )
    out.print(view)
    for r in suite.failed:
        if r.sample:
            sample = Table(
                title=Text(f"{r.table} · {r.check}: failing rows"),
                title_justify="left",
                header_style="bold",
            )
            for name in r.sample[0]:
                sample.add_column(Text(name))
            for row in r.sample:
                sample.add_row(*(_short(v) for v in row.values()))
            out.print(sample)
    blocking = [r for r in suite.results if r.blocking]
    warned = [r for r in suite.results if not r.passed and not r.blocking]
    passed = len(suite.results) - len(blocking) - len(warned)
    summary = f"{passed} passed, {len(warned)} warned, {len(blocking)} failed"
    err.print(f"[red]failed[/red]: {summary}" if blocking else f"[green]ok[/green]: {summary}")


def as_json(suite: SuiteResult) -> str:
    return json.dumps(
        {
            "passed": suite.passed,
            "results": [{**asdict(r), "blocking": r.blocking} for r in suite.results],
        },
        indent=2,
        default=str,
    )


def _short(value: Any, width: int = 40) -> Text:
    """A value of a check's result or failing row, as stored (not Rich markup), cut to
    ``width`` characters."""
    text = json.dumps(value, default=str) if isinstance(value, dict) else cell_text(value)
    return Text(text if len(text) <= width else text[: width - 1] + "…")
