"""Typer commands. Each one opens a Workspace, calls one method and renders the result."""

from __future__ import annotations

import functools
import gc
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from headwater import tempdirs
from headwater.cli.help_text import Typer
from headwater.cli.output import Format, counted, write_stream
from headwater.errors import HeadwaterError, RunFailed
from headwater.stopping import Terminated, exit_code, stop_on_sigterm

if TYPE_CHECKING:
    from headwater.state import RunRecord
    from headwater.workspace import Workspace

app = Typer(
    name="headwater",
    help="Ingest, store, model and query data from one project folder (headwater.yaml).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _console(stderr: bool) -> Console:
    """A console for this invocation: wide when piped, so lines and tables are never folded."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=200, soft_wrap=False)


def consoles() -> tuple[Console, Console]:
    """This invocation's standard output and error consoles (set up by the callback)."""
    return out, err


@app.callback()
def _setup() -> None:
    """Ingest, store, model and query data from one project folder (headwater.yaml)."""
    global out, err
    out, err = _console(stderr=False), _console(stderr=True)


ProjectOpt = Annotated[
    Path,
    typer.Option(
        "--project",
        "-p",
        help="Project folder (holding headwater.yaml).",
        show_default="current folder",
    ),
]
VarOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--var", help="Set a variable: --var NAME=VALUE (repeatable); beats HEADWATER_VAR_<NAME>."
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]

F = TypeVar("F", bound=Callable[..., Any])


def handles_errors(fn: F) -> F:
    """Print a HeadwaterError as one actionable line (traceback with --debug) and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            what = "terminated" if isinstance(exc, Terminated) else "interrupted"
            err.print(
                f"[bold red]{what}[/bold red]: running tasks were stopped and tasks not yet "
                "started cancelled; every table is as its last commit left it",
                highlight=False,
                soft_wrap=True,
            )
            _leave(exit_code(exc))
        except HeadwaterError as exc:
            if kwargs.get("debug"):
                err.print_exception(show_locals=False)
            if isinstance(exc, RunFailed):
                _print_run(exc.run)  # type: ignore[arg-type]
            fail(exc)

    return wrapper  # type: ignore[return-value]


def fail(exc: HeadwaterError) -> NoReturn:
    """Print the error and its hint, one line each, and exit 1."""
    err.print(f"[bold red]error:[/bold red] {exc.message}", highlight=False, soft_wrap=True)
    if exc.hint:
        err.print(f"[yellow]hint:[/yellow] {exc.hint}", highlight=False, soft_wrap=True)
    raise typer.Exit(1) from None


# After Ctrl-C or SIGTERM, how long task threads get to stop before the process leaves
# without them (a thread inside a long C call, a sleep or a lock cannot be stopped sooner).
STOP_GRACE_SECONDS = 2.0


def _leave(code: int) -> None:
    """Exit with ``code`` once the other threads have stopped, or after the grace period
    without waiting for them: the interpreter's exit would otherwise join them for ever."""
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    others = [
        t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon
    ]
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    # a task stopped between making its staging folder and its cleanup, or one still running
    # (it ends with the process), leaves files nothing will publish
    tempdirs.remove_own()
    if any(thread.is_alive() for thread in others):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def open_workspace(project: Path, var: list[str] | None) -> Workspace:
    from headwater.project.variables import parse_assignments
    from headwater.workspace import Workspace

    return Workspace.open(project, parse_assignments(var))


@app.command()
@handles_errors
def run(
    pipeline: Annotated[
        str | None, typer.Argument(help="Pipeline name (headwater.yaml or pipelines/*.py).")
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Reload every source table from scratch: stored cursors and source state are "
            "ignored (an scd2 table starts a new history).",
        ),
    ] = False,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="The run's logical date (YYYY-MM-DD or ISO time): {{ ds }} and the data "
            "interval of the schedule that starts then.",
        ),
    ] = None,
    conf: Annotated[
        str | None,
        typer.Option("--conf", help='Params for this run, as JSON: \'{"vendor": "x"}\'.'),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue a run (id or prefix): a queued one, or re-run what did not succeed.",
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Run a pipeline now, in this process: its tasks in dependency order, independent ones in
    parallel. What tasks print is shown and kept in their logs (`headwater logs`).

    Each source table loads by its strategy (full, append, incremental, merge, scd2); a load
    that finds nothing new commits nothing (`full` always publishes what it read).

    Examples:
      headwater run classicmodels --var source_url=mysql+pymysql://root@127.0.0.1/classicmodels
      headwater run simple_dag --date 2024-03-01
      headwater run --resume 3f2a9c1d
    """
    from headwater.cli.orchestrate_commands import parse_conf, parse_date
    from headwater.cli.progress import RunProgress

    ws = open_workspace(project, var)
    if resume is not None:
        record = ws.store.run(ws.resolve_run(resume))
        pipeline = record.pipeline
    elif pipeline is None:
        raise HeadwaterError(
            "which pipeline? name one, or --resume a run",
            hint="pipelines: " + ", ".join(ws.pipelines()) if ws.pipelines() else None,
        )
    dag = ws.plan(pipeline)
    try:
        with RunProgress(dag, err) as progress:
            record = ws.run(
                pipeline,
                listener=progress,
                dag=dag,
                full_refresh=full_refresh,
                logical_date=parse_date(date),
                conf=parse_conf(conf),
                run_id=resume,
                echo=True,
            )
    except RunFailed as failed:  # the run's summary with its warnings, then the error
        if debug:
            err.print_exception(show_locals=False)
        _print_run(failed.run, ws)  # type: ignore[arg-type]
        fail(failed)
    _print_run(record, ws)


@app.command()
@handles_errors
def query(
    sql: Annotated[
        str | None, typer.Argument(help="A SELECT over catalog tables, e.g. gold.fact_orders.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the SQL from this file.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows shown by --format table.")] = 100,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Query catalog tables with SQL (DuckDB dialect); read-only, one statement.

    The result streams to the output batch by batch: memory stays bounded,
    whatever its size (--format table keeps only the rows it shows).

    Read a table as it was (UTC; `headwater show TABLE` lists its snapshots):
    FROM gold.t FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 10:00:00'
    FROM gold.t FOR VERSION AS OF <snapshot id>

    Example: headwater query "SELECT country, count(*) FROM gold.dim_locations GROUP BY 1" --format json
    """
    if (sql is None) == (file is None):
        raise HeadwaterError("give the SQL as an argument or with --file, not both or neither")
    text = file.read_text(encoding="utf-8") if file else sql
    assert text is not None
    ws = open_workspace(project, var)
    try:
        with ws.query_stream(text) as reader:
            write_stream(reader, fmt, output, out if output is None else err, max_rows)
    except BrokenPipeError:  # the reader of a pipe stopped early (`| head`): that is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@app.command()
@handles_errors
def tables(project: ProjectOpt = Path("."), var: VarOpt = None, debug: DebugOpt = False) -> None:
    """List the catalog's tables with rows, current snapshot and last update."""
    infos = open_workspace(project, var).tables()
    view = Table(header_style="bold")
    for name in ("table", "rows", "files", "size", "snapshot", "updated (UTC)"):
        view.add_column(name, justify="right" if name in ("rows", "files", "size") else "left")
    for i in infos:
        updated = i.updated_at.strftime("%Y-%m-%d %H:%M:%S") if i.updated_at else ""
        view.add_row(
            i.name, f"{i.rows:,}", str(i.files), _size(i.bytes), str(i.snapshot_id or ""), updated
        )
    out.print(view if infos else "[dim]no tables yet — run a pipeline first[/dim]")


@app.command()
@handles_errors
def show(
    table: Annotated[str, typer.Argument(help="Table name, NAMESPACE.NAME.")],
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show a table's schema, its schema changes, load state and snapshots (its history)."""
    details = open_workspace(project, var).table(table)
    info = details.info
    out.print(
        f"[bold]{info.name}[/bold]  {counted(info.rows, 'row')} in "
        f"{counted(info.files, 'file')} ({_size(info.bytes)})"
    )
    schema = Table("column", "type", header_style="bold", title="schema", title_justify="left")
    for field in details.schema:
        schema.add_row(field.name, str(field.type))
    out.print(schema)
    if details.schema_changes:
        changes = Table(
            "changed (UTC)",
            "change",
            "column",
            "from",
            "to",
            "run",
            header_style="bold",
            title="schema history",
            title_justify="left",
        )
        for c in details.schema_changes:
            changes.add_row(
                c.changed_at.strftime("%Y-%m-%d %H:%M:%S"),
                c.kind,
                c.column or "",
                c.old_type or "",
                c.new_type or "",
                c.run_id[:8],
            )
        out.print(changes)
    if details.checks:
        checks = Table(
            "check",
            "status",
            "failing",
            "evaluated (UTC)",
            header_style="bold",
            title="checks (latest results)",
            title_justify="left",
        )
        for result in details.checks:
            state = (
                "error" if result["error"] else "pass" if result["passed"] else result["severity"]
            )
            color = {"pass": "green", "warn": "yellow"}.get(state, "red")
            at = result["evaluated_at"]
            checks.add_row(
                result["check_name"],
                f"[{color}]{state}[/{color}]",
                f"{result['failing']:,}" if result["failing"] else "",
                at.strftime("%Y-%m-%d %H:%M:%S") if at else "",
            )
        out.print(checks)
    if details.cursor is not None:
        out.print(
            f"cursor: [bold]{details.cursor}[/bold] (the next incremental load reads from it)"
        )
    snaps = Table(
        "snapshot",
        "committed (UTC)",
        "operation",
        "rows",
        "run",
        header_style="bold",
        title="snapshots",
        title_justify="left",
    )
    for s in reversed(details.snapshots):
        snaps.add_row(
            str(s.snapshot_id),
            s.committed_at.strftime("%Y-%m-%d %H:%M:%S"),
            s.operation,
            f"{s.rows:,}",
            s.summary.get("headwater.run-id", "")[:8],
        )
    out.print(snaps)


@app.command()
@handles_errors
def runs(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 20,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List recent runs with status, duration, rows written and errors."""
    records = open_workspace(project, var).runs(pipeline, limit)
    view = Table(
        "run",
        "pipeline",
        "status",
        "trigger",
        "logical date",
        "started (UTC)",
        "seconds",
        "tasks",
        "rows",
        "error",
        header_style="bold",
    )
    for r in records:
        view.add_row(
            r.run_id[:8],
            r.pipeline,
            _status(r.status.value),
            r.trigger,
            r.logical_date.strftime("%Y-%m-%d %H:%M") if r.logical_date else "",
            r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{r.seconds:.2f}" if r.seconds is not None else "",
            str(len(r.tasks)),
            f"{r.rows:,}",
            (r.error or "")[:80],
        )
    out.print(view if records else "[dim]no runs yet[/dim]")


@app.command()
@handles_errors
def init(
    folder: Annotated[
        Path, typer.Argument(help="Folder for the new project (created if missing).")
    ],
    debug: DebugOpt = False,
) -> None:
    """Create a starter project: headwater.yaml and one model."""
    from headwater.project.init import init_project

    for path in init_project(folder):
        out.print(f"created {path}", highlight=False)
    out.print(
        f"next: cd {folder} && headwater sample classicmodels --url sqlite:///.headwater/sample.db && headwater run main"
    )


@app.command()
@handles_errors
def migrate(project: ProjectOpt = Path("."), var: VarOpt = None, debug: DebugOpt = False) -> None:
    """Upgrade the project's metadata store to this Headwater's schema."""
    before, after = open_workspace(project, var).migrate()
    out.print(f"metadata store: revision {before or 'none'} → {after}")


@app.command()
@handles_errors
def sample(
    name: Annotated[str, typer.Argument(help="Sample database to build: classicmodels.")],
    url: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the target database.")] = None,
    connection: Annotated[
        str | None, typer.Option(help="Write to this connection of the project instead of --url.")
    ] = None,
    scale: Annotated[
        float, typer.Option(help="Size factor; 1 ≈ the original sample's size.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    dump: Annotated[
        Path | None,
        typer.Option(help="Load this MySQL dump (mysqlsampledatabase.sql) instead of generating."),
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Build a sample source database: generated (deterministic, scalable) or from the real dump.

    Example: headwater sample classicmodels --connection classicmodels --scale 10
    """
    from headwater.connect.sql.database import resolve_url
    from headwater.samples import build_classicmodels

    if name != "classicmodels":
        raise HeadwaterError(f"no sample named `{name}`", hint="available: classicmodels")
    if url and connection:
        raise HeadwaterError("give --url or --connection, not both")
    if url:
        target = resolve_url(url, Path.cwd())
    else:
        ws = open_workspace(project, var)
        conn = connection or name
        if conn not in ws.project.config.connections:
            raise HeadwaterError(
                f"the project has no connection `{conn}`",
                hint="pass --url URL or --connection NAME",
            )
        target = ws.database(conn).url
    shown = target.render_as_string(hide_password=True)
    with err.status(f"building {name} at {shown}") as status:
        counts = build_classicmodels(
            target.render_as_string(hide_password=False),
            scale=scale,
            seed=seed,
            dump=dump,
            progress=lambda table, rows: status.update(f"building {name}: {table} {rows:,} rows"),
        )
    err.print(
        f"built {name} at {shown}: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()),
        highlight=False,
    )


def _print_run(record: RunRecord, ws: Workspace | None = None) -> None:
    view = Table(
        header_style="bold",
        title=f"run {record.run_id[:8]} of {record.pipeline}",
        title_justify="left",
    )
    for name in ("task", "kind", "status", "rows", "result", "size", "seconds"):
        view.add_column(name, justify="right" if name in ("rows", "size", "seconds") else "left")
    for t in sorted(record.tasks, key=lambda t: (t.started_at is None, t.started_at, t.task_id)):
        data = t.kind in ("ingest", "model")
        view.add_row(
            t.task_id,
            t.kind,
            _status(t.status.value),
            f"{t.rows:,}" if t.rows is not None and data else "",
            _change(t.details) if data else _value(t.value),
            _size(t.bytes) if t.bytes else "",
            f"{t.seconds:.2f}" if t.seconds is not None else "",
        )
    err.print(view)
    seconds = f" in {record.seconds:.2f}s" if record.seconds is not None else ""
    movers = [t for t in record.tasks if t.kind in ("ingest", "model")]
    # a pipeline of Python or shell tasks moves no rows Headwater can count: none are claimed
    rows = f", {counted(sum(t.rows or 0 for t in movers), 'row')}" if movers else ""
    err.print(
        f"{_status(record.status.value)}: {counted(len(record.tasks), 'task')}{rows}{seconds}"
    )
    _print_quarantined(record)
    if ws is not None:
        _print_warnings(ws, record.run_id)


def _print_quarantined(record: RunRecord) -> None:
    """Where the rows a load kept out of its table went, and the query that shows them."""
    for t in record.tasks:
        details = t.details or {}
        if details.get("rejected") and details.get("quarantine"):
            err.print(
                f"[yellow]quarantine[/yellow]: {t.task_id}: "
                f"{counted(int(details['rejected']), 'row')} kept out of the table, in "
                f"{details['quarantine']} — to see them: "
                f'headwater query "SELECT * FROM {details["quarantine"]}"',
                soft_wrap=True,
                highlight=False,
            )


def _print_warnings(ws: Workspace, run_id: str) -> None:
    """The checks that failed during the run without stopping it (severity `warn`): a run can
    succeed on data a check doubts, and says so last."""
    from rich.text import Text

    for failed in ws.store.failed_checks_of_run(run_id):
        table, check = failed["table_name"], failed["check_name"]
        if failed["error"]:
            what = f"could not run: {failed['error']}"
        elif failed["failing"] is not None and failed["evaluated"] is not None:
            what = f"{failed['failing']:,} of {failed['evaluated']:,} rows fail it"
        else:
            what = "it fails"
        err.print(
            Text.assemble(
                ("warning", "bold yellow"),
                f": check {check} of {table} ({failed['severity']}): {what} — "
                f"`headwater check {table}` shows the failing rows",
            ),
            soft_wrap=True,
        )


def _change(details: dict[str, Any] | None) -> str:
    """What a load did to its table: `unchanged`, `+120 −3`, `2 rejected`…"""
    if not details or "strategy" not in details:
        return ""
    if details.get("changed") is False:
        text = "[dim]unchanged[/dim]"
    elif details["strategy"] == "full":
        text = "replaced"
    else:
        parts = []
        if details.get("inserted"):
            parts.append(f"+{details['inserted']:,}")
        if details.get("deleted"):
            closed = details["strategy"] == "scd2"
            parts.append(f"{details['deleted']:,} closed" if closed else f"−{details['deleted']:,}")
        text = " ".join(parts) or "state only"
    if details.get("rejected"):
        text += f" [yellow]{details['rejected']:,} rejected[/yellow]"
    return text


def _value(value: Any) -> str:
    """What a task handed downstream, shortened."""
    if value is None:
        return ""
    text = str(value)
    return f"→ {text if len(text) <= 40 else text[:39] + '…'}"


def _status(value: str) -> str:
    color = {
        "success": "green",
        "failed": "red",
        "upstream_failed": "yellow",
        "up_for_retry": "yellow",
        "cancelled": "magenta",
        "running": "cyan",
        "queued": "cyan",
    }.get(value, "dim")
    return f"[{color}]{value}[/{color}]"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


# the other command modules register themselves on `app`
from headwater.cli import (  # noqa: E402, F401
    cdc_commands,
    crawl_commands,
    guide_commands,
    maintain_commands,
    orchestrate_commands,
    quality_commands,
    serve_commands,
    stream_commands,
)


def main() -> None:
    """Console entry point."""
    stop_on_sigterm()
    try:
        sys.exit(app())
    finally:
        # At exit the interpreter runs the garbage collector over everything the process still
        # holds (the modules of pyarrow, pyiceberg, SQLAlchemy, pydantic…), only for the
        # memory to be handed back whole: measured, most of a second after a delivery
        # (docs/benchmarks.md). A command closes what it opened itself; atexit hooks still run.
        gc.freeze()
