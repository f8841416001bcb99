"""The change-data-capture commands: run a source's capture, show its status, drop it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from headwater.cli.app import (
    DebugOpt,
    ProjectOpt,
    VarOpt,
    app,
    consoles,
    handles_errors,
    open_workspace,
)
from headwater.cli.help_text import Typer
from headwater.cli.output import counted
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.cdc.run import CaptureReport
    from headwater.workspace import Workspace

cdc_app = Typer(
    help="Change data capture: mirror PostgreSQL (logical replication) and MySQL/MariaDB "
    "(binary log) tables into Iceberg, inserts, updates and deletes, exactly once.",
    no_args_is_help=True,
)
app.add_typer(cdc_app, name="cdc")

SourcesArg = Annotated[
    list[str] | None,
    typer.Argument(help="Sources to capture.", show_default="every source under `load: cdc`"),
]


def _chosen(ws: Workspace, names: list[str] | None) -> list[str]:
    chosen = names or ws.cdc_sources()
    if not chosen:
        raise HeadwaterError(
            "no source in headwater.yaml has tables under `load: cdc`",
            hint="set `load: cdc` on a PostgreSQL or MySQL source (see `headwater guide cdc`)",
        )
    return chosen


def _summary(report: CaptureReport) -> str:
    return (
        f"{report.source}: {counted(report.snapshot_rows, 'snapshot row')}, "
        f"{counted(report.changes, 'change')} in {counted(report.commits, 'commit')}, "
        f"at {report.position or '—'} ({report.seconds:.1f} s)"
    )


@cdc_app.command("run")
@handles_errors
def run(
    sources: SourcesArg = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="Apply what is pending now, then exit (for schedules)."),
    ] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Capture a source's changes into its tables: the first run takes a snapshot consistent
    with the slot (or binary-log position) it creates, then applies inserts, updates and
    deletes by primary key, committing the source position with the rows. Runs until Ctrl-C
    or SIGTERM (the block in hand is committed first), or with --once until nothing is
    pending. A restart resumes from the committed position.

    Example: headwater cdc run shop --once
    """
    from headwater.stopping import stop_gracefully

    out, err = consoles()
    ws = open_workspace(project, var)
    chosen = _chosen(ws, sources)
    if len(chosen) > 1 and not once:
        raise HeadwaterError(
            f"`headwater cdc run` without --once follows one source at a time; "
            f"{len(chosen)} are under cdc: {', '.join(chosen)}",
            hint="run one process per source: `headwater cdc run SOURCE`",
        )

    def line(report: CaptureReport) -> None:
        if err.is_terminal:
            err.print(_summary(report), end="\r", highlight=False, soft_wrap=True)

    with stop_gracefully() as stop:
        for source in chosen:
            report = ws.run_capture(source, once=once, stop=stop, progress=line)
            out.print(_summary(report), highlight=False)


@cdc_app.command("status")
@handles_errors
def status(
    sources: SourcesArg = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show each capture's slot (or binary log): whether it exists and is in use, the
    position acknowledged, the source's current position, and the lag in bytes and seconds.

    Example: headwater cdc status
    """
    out, _ = consoles()
    ws = open_workspace(project, var)
    table = Table("source", "slot", "exists", "active", "acknowledged", "current", "lag")
    for source in _chosen(ws, sources):
        s = ws.capture_status(source)
        lag = []
        if s.lag_bytes is not None:
            lag.append(f"{s.lag_bytes:,} bytes")
        if s.lag_seconds is not None:
            lag.append(f"{s.lag_seconds:.1f} s")
        table.add_row(
            source,
            s.name,
            "yes" if s.exists else "no",
            "yes" if s.active else "no",
            s.acknowledged or "—",
            s.current or "—",
            ", ".join(lag) or "—",
        )
    out.print(table)


@cdc_app.command("drop")
@handles_errors
def drop(
    sources: Annotated[list[str], typer.Argument(help="Sources whose capture to remove.")],
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Remove a capture's replication slot and publication from the source server (nothing
    on MySQL/MariaDB), so the server no longer keeps its log for it. The tables stay; the
    next `headwater cdc run` takes a new snapshot.

    Example: headwater cdc drop shop
    """
    out, _ = consoles()
    ws = open_workspace(project, var)
    for source in sources:
        ws.drop_capture(source)
        out.print(f"dropped the capture of [bold]{source}[/bold]", highlight=False)
