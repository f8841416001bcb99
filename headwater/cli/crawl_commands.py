"""The crawler's commands: crawl a folder or S3 prefix, list the external tables it made."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from headwater.cli.app import (
    DebugOpt,
    ProjectOpt,
    VarOpt,
    _size,
    app,
    consoles,
    handles_errors,
    open_workspace,
)
from headwater.cli.output import counted
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.lake.crawl import CrawlReport

ACTION_STYLE = {
    "added": "green",
    "updated": "cyan",
    "unchanged": "dim",
    "logged": "yellow",
    "deprecated": "yellow",
    "conflict": "red",
    "failed": "red",
}
STAGES = {
    "listing": "listing files",
    "reading": "reading file heads",
    "sampling": "sampling schemas",
    "registering": "registering tables",
    "importing": "importing tables",
}
SHOWN_PER_REASON = 5


@app.command()
@handles_errors
def crawl(
    url: Annotated[
        str,
        typer.Argument(help="A folder (relative to the project), or s3://bucket/prefix."),
    ],
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", help="Namespace of the tables it makes.")
    ],
    import_files: Annotated[
        bool,
        typer.Option(
            "--import",
            help="Load the files into Iceberg tables (one commit per table) instead of "
            "registering them where they lie.",
        ),
    ] = False,
    policy: Annotated[
        Literal["log", "update", "deprecate"],
        typer.Option(
            help="A table whose schema changed: update it (the old version is kept in its "
            "history), log the change only, or mark the table deprecated.",
        ),
    ] = "update",
    recrawl: Annotated[
        Literal["everything", "new-folders-only"],
        typer.Option(
            help="Look at every file again, or only at folders no table holds yet (new "
            "partitions and new datasets; no schema change is applied).",
        ),
    ] = "everything",
    sample_rows: Annotated[
        int, typer.Option(help="Records DuckDB samples per file to infer types.", min=1)
    ] = 1000,
    sample_files: Annotated[
        int,
        typer.Option(
            help="Files sampled per shape (same folder pattern and header); 0: all.", min=0
        ),
    ] = 5,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Find the datasets under a folder or S3 prefix and make each one a table, like AWS Glue.

    Formats are told by content (CSV, TSV, JSON, JSON Lines, Parquet; gzip and zstd too),
    schemas are sampled and merged, Hive folders (year=2024/) become partition columns, and
    files alike are grouped into one table per folder. The tables are external: queries read
    the files where they lie, pruning partitions by filters. Crawl again to pick up new files,
    partitions and schema changes; --policy decides what a schema change does.

    Example: headwater crawl s3://landing/sales --namespace landing && headwater query "SELECT year, count(*) FROM landing.sales GROUP BY 1"
    """
    from headwater.lake.crawl import CrawlOptions, Sampling

    out, err = consoles()
    ws = open_workspace(project, var)
    options = CrawlOptions(
        policy=policy,
        recrawl=recrawl,
        import_files=import_files,
        sampling=Sampling(rows=sample_rows, files=sample_files),
    )
    with _Progress(err) as progress:
        report = ws.crawl(url, namespace, options, progress.update)
    _show(report, out, err)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@handles_errors
def external(
    table: Annotated[
        str | None, typer.Argument(help="Show one external table: columns, files, history.")
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the external tables `headwater crawl` registered (`headwater tables` lists Iceberg
    tables), or show one. Both kinds are queried alike with `headwater query`.

    Example: headwater external landing.sales
    """
    out = consoles()[0]
    registry = open_workspace(project, var).lake.external
    if table is None:
        view = Table(header_style="bold")
        for name in (
            "table",
            "format",
            "files",
            "size",
            "partitions",
            "version",
            "status",
            "location",
        ):
            view.add_column(name, justify="right" if name in ("files", "size") else "left")
        tables = registry.tables()
        for t in tables:
            status = "[yellow]deprecated[/yellow]" if t.status != "active" else "active"
            view.add_row(
                t.full_name,
                t.format,
                f"{t.files:,}",
                _size(t.bytes),
                ", ".join(p.name for p in t.partitions),
                str(t.version),
                status,
                t.location,
            )
        out.print(view if tables else "[dim]no external tables — crawl a folder first[/dim]")
        return
    found = registry.get(table)
    if found is None:
        from headwater.errors import did_you_mean

        raise HeadwaterError(
            f"no external table `{table}`{did_you_mean(table, registry.names())}",
            hint="list them with `headwater external`",
        )
    out.print(
        f"[bold]{found.full_name}[/bold]  {found.format}, {found.files:,} files "
        f"({_size(found.bytes)}) at {found.location}  version {found.version}, {found.status}",
        highlight=False,
    )
    schema = Table(
        "column", "type", "partition", header_style="bold", title="schema", title_justify="left"
    )
    for name, kind in found.columns:
        schema.add_row(name, kind, "")
    for part in found.partitions:
        schema.add_row(part.name, part.type, "hive" if part.hive else "folder level")
    out.print(schema)
    history = Table(
        "version",
        "event",
        "recorded (UTC)",
        "changes",
        header_style="bold",
        title="history",
        title_justify="left",
    )
    for v in reversed(registry.history(found.full_name)):
        at = v.recorded_at.strftime("%Y-%m-%d %H:%M:%S") if v.recorded_at else ""
        history.add_row(str(v.version), v.event, at, "; ".join(v.changes))
    out.print(history)


def _show(report: CrawlReport, out: Console, err: Console) -> None:
    view = Table(header_style="bold", title=f"crawl of {report.root}", title_justify="left")
    for name in ("table", "action", "format", "files", "partitions", "changes"):
        view.add_column(name, justify="right" if name in ("files", "partitions") else "left")
    for t in report.tables:
        style = ACTION_STYLE.get(t.action, "")
        parts = f"{t.partitions:,}" + (f" (+{t.partitions_added:,})" if t.partitions_added else "")
        notes = "; ".join([*t.changes, t.detail] if t.detail else t.changes)
        if t.rows is not None:
            notes = counted(t.rows, "row") + (f"; {notes}" if notes else "")
        view.add_row(
            t.name, f"[{style}]{t.action}[/{style}]", t.format, f"{t.files:,}", parts, notes
        )
    out.print(view)
    for reason, paths in report.skipped_by_reason():
        shown = ", ".join(paths[:SHOWN_PER_REASON])
        more = (
            f" and {len(paths) - SHOWN_PER_REASON:,} more" if len(paths) > SHOWN_PER_REASON else ""
        )
        err.print(
            f"[yellow]skipped {len(paths):,}:[/yellow] {reason} — {shown}{more}",
            highlight=False,
            soft_wrap=True,
        )
    err.print(report.summary(), highlight=False)


class _Progress:
    """A progress bar per stage on a terminal; silent otherwise (the summary says it all)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console
        self.bar = (
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
                transient=True,
            )
            if console.is_terminal
            else None
        )
        self.task: object = None
        self.stage = ""

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

    def update(self, stage: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        if stage != self.stage:
            self.stage = stage
            self.task = self.bar.add_task(STAGES.get(stage, stage), total=total or None)
        self.bar.update(self.task, completed=done)  # type: ignore[arg-type]
