"""The orchestration commands: pipelines, trigger, backfill, scheduler, logs, cancel, pause."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from headwater.cli.app import (
    DebugOpt,
    ProjectOpt,
    VarOpt,
    _status,
    app,
    consoles,
    handles_errors,
    open_workspace,
)
from headwater.cli.output import counted
from headwater.errors import HeadwaterError, RunFailed


def parse_date(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise HeadwaterError(
            f"`{text}` is not a date", hint="write it as YYYY-MM-DD or 2024-03-01T06:00"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_conf(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HeadwaterError(
            f"--conf is not JSON: {exc.msg} at character {exc.pos}",
            hint='quote it for the shell: --conf \'{"vendor": "alitran"}\'',
        ) from None
    if not isinstance(value, dict):
        raise HeadwaterError('--conf must be a JSON object, like \'{"vendor": "alitran"}\'')
    return value


@app.command()
@handles_errors
def pipelines(project: ProjectOpt = Path("."), var: VarOpt = None, debug: DebugOpt = False) -> None:
    """List the project's pipelines: schedule, state, tasks and where each is defined."""
    out, err = consoles()
    ws = open_workspace(project, var)
    paused = ws.store.paused()
    broken: list[str] = []
    view = Table("pipeline", "schedule", "state", "tasks", "defined in", header_style="bold")
    for name, definition in ws.pipelines().items():
        settings = definition.settings
        schedule = settings.schedule or "manual"
        if settings.schedule and settings.timezone != "UTC":
            schedule += f" ({settings.timezone})"
        try:
            tasks = str(len(ws.plan(name).tasks))
        except HeadwaterError as exc:  # one broken pipeline does not hide the others
            tasks, broken = "[red]cannot plan[/red]", [*broken, f"{name}: {exc.message}"]
        view.add_row(
            name,
            schedule,
            "[yellow]paused[/yellow]" if name in paused else "active",
            tasks,
            definition.origin,
        )
    out.print(view)
    for problem in broken:
        err.print(f"[bold red]error:[/bold red] {problem}", highlight=False, soft_wrap=True)
    if broken:
        raise typer.Exit(1)


@app.command()
@handles_errors
def trigger(
    pipeline: Annotated[str, typer.Argument(help="The pipeline to run.")],
    conf: Annotated[str | None, typer.Option("--conf", help="Params for the run, as JSON.")] = None,
    date: Annotated[str | None, typer.Option("--date", help="Its logical date.")] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Queue a run for the scheduler (`headwater scheduler` starts it within a second).

    Example: headwater trigger ml_alitran --conf '{"threshold": 400}'
    """
    out, err = consoles()
    ws = open_workspace(project, var)
    run_id = ws.trigger(pipeline, parse_conf(conf), parse_date(date))
    out.print(run_id)
    err.print(
        f"queued run {run_id[:8]} of {pipeline}; a running `headwater scheduler` starts it "
        f"(or run it here: headwater run --resume {run_id[:8]})",
        highlight=False,
    )


@app.command()
@handles_errors
def backfill(
    pipeline: Annotated[str, typer.Argument(help="A pipeline with a schedule.")],
    start: Annotated[str, typer.Option("--start", help="First logical date (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last logical date, included.")],
    max_active: Annotated[int, typer.Option("--max-active", help="Runs at once.")] = 2,
    rerun: Annotated[
        bool,
        typer.Option("--rerun", help="Also run dates that already have a successful run."),
    ] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run a pipeline once per logical date of its schedule between --start and --end.

    Dates that already have a successful run (scheduled, backfilled, or `headwater run --date`)
    are skipped, and so are dates whose run is still queued or running; dates whose runs all
    failed or were cancelled run again. --rerun runs every date. Exits 1 if any run failed.

    Example: headwater backfill simple_dag --start 2024-03-01 --end 2024-03-07 --max-active 3
    """
    _, err = consoles()
    ws = open_workspace(project, var)
    first, last = parse_date(start), parse_date(end)
    assert first is not None and last is not None

    def report(result: Any) -> None:
        record: Any = result.run if isinstance(result, RunFailed) else result
        when = record.logical_date.strftime("%Y-%m-%d %H:%M") if record.logical_date else "?"
        err.print(
            f"{when}  {_status(record.status.value)}  run {record.run_id[:8]}  "
            f"{counted(len(record.tasks), 'task')}",
            highlight=False,
        )

    done = ws.backfill(pipeline, first, last, max_active, rerun, report)
    if done.skipped:
        one = len(done.skipped) == 1
        err.print(
            f"skipped {_dates(done.skipped)} that already {'has' if one else 'have'} a "
            f"successful run: {_listed(done.skipped)} "
            f"(--rerun to run {'it' if one else 'them'} again)",
            highlight=False,
        )
    if done.in_progress:
        one = len(done.in_progress) == 1
        err.print(
            f"skipped {_dates(done.in_progress)} whose {'run is' if one else 'runs are'} still "
            f"queued or running: {_listed(done.in_progress)} (backfill again when "
            f"{'it ends' if one else 'they end'})",
            highlight=False,
        )
    if not (done.runs or done.skipped or done.in_progress):
        err.print(f"[dim]the schedule of {pipeline} has no logical date in {start} … {end}[/dim]")
    err.print(
        f"backfill of {pipeline}: {len(done.runs)} run(s), {len(done.failed)} failed, "
        f"{len(done.succeeded)} succeeded",
        highlight=False,
    )
    if done.failed:
        raise typer.Exit(1)


def _dates(dates: list[datetime]) -> str:
    return "1 date" if len(dates) == 1 else f"{len(dates)} dates"


def _listed(dates: list[datetime], most: int = 20) -> str:
    """``2024-01-02, 2024-01-03`` (a time only when it is not midnight; a long list cut)."""
    shown = [f"{d:%Y-%m-%d}" if d.hour == d.minute == 0 else f"{d:%Y-%m-%d %H:%M}" for d in dates]
    more = f" and {len(shown) - most} more" if len(shown) > most else ""
    return ", ".join(shown[:most]) + more


@app.command()
@handles_errors
def scheduler(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="One pass (create due runs, start queued ones), then wait for them."
        ),
    ] = False,
    tick: Annotated[float, typer.Option("--tick", help="Seconds between passes.")] = 1.0,
    max_runs: Annotated[int, typer.Option("--max-runs", help="Runs at once in this process.")] = 8,
    streams: Annotated[
        bool,
        typer.Option(
            "--streams",
            help="Also run every delivery, processor and feed continuously (a thread each, "
            "restarted after a failure).",
        ),
    ] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run the scheduler: start runs when schedules and triggers say so.

    It also executes queued runs (`headwater trigger`) and raises SLA alerts. Safe to restart
    at any time; two schedulers may share a PostgreSQL metadata store (state.url) without
    running anything twice. Ctrl-C stops it after the runs in progress end. With --streams it
    also runs the project's deliveries, processors and feeds until it stops, when they flush,
    commit and give their shards back.

    Example: headwater scheduler -p examples/airflow_labs
    """
    _, err = consoles()
    if once and streams:
        raise HeadwaterError(
            "--streams runs the streams for as long as the scheduler runs, and --once stops it "
            "after one pass",
            hint="drop --once, or deliver once with `headwater stream run --once`",
        )
    ws = open_workspace(project, var)

    def say(message: str) -> None:
        err.print(f"{datetime.now():%H:%M:%S} {message}", highlight=False)

    daemon = ws.scheduler(max_runs=max_runs, on_event=say, streams=streams)
    say(f"scheduler {daemon.id} on {ws.state_url.split('@')[-1]}: {len(ws.pipelines())} pipelines")
    if once:
        daemon.tick()
        daemon.drain()
        return
    daemon.serve(tick)


@app.command()
@handles_errors
def logs(
    run: Annotated[str, typer.Argument(help="Run id (or its first 8 characters).")],
    task: Annotated[str | None, typer.Argument(help="One task; default every task.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print the logs of a run's tasks (what they printed, commands and their output).

    Example: headwater logs 3f2a9c1d notify --follow
    """
    out, err = consoles()
    ws = open_workspace(project, var)
    shown: dict[str, int] = {}
    while True:
        texts = ws.logs(run, task)
        for task_id, text in texts.items():
            new = text[shown.get(task_id, 0) :]
            if new:
                if task is None:
                    out.print(f"[bold]── {task_id}[/bold]")
                out.print(new, end="", highlight=False, markup=False)
                shown[task_id] = len(text)
        if not follow:
            if not texts:
                err.print("[dim]no task of this run wrote a log[/dim]")
            return
        if ws.store.run(ws.resolve_run(run)).status.finished:
            return
        time.sleep(0.5)


@app.command()
@handles_errors
def cancel(
    run: Annotated[str, typer.Argument(help="Run id (or its first 8 characters).")],
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Stop a run: a queued run never starts; a running one stops its tasks within a second."""
    _, err = consoles()
    record = open_workspace(project, var).cancel(run)
    err.print(f"run {record.run_id[:8]} of {record.pipeline}: cancel requested ({record.status})")


@app.command()
@handles_errors
def pause(
    pipeline: Annotated[str, typer.Argument(help="The pipeline to stop scheduling.")],
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Stop scheduling a pipeline (runs in progress go on; queued runs wait)."""
    _, err = consoles()
    open_workspace(project, var).pause(pipeline, True)
    err.print(f"{pipeline}: paused")


@app.command()
@handles_errors
def unpause(
    pipeline: Annotated[str, typer.Argument(help="The pipeline to schedule again.")],
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Schedule a paused pipeline again."""
    _, err = consoles()
    open_workspace(project, var).pause(pipeline, False)
    err.print(f"{pipeline}: active")


@app.command()
@handles_errors
def events(
    kind: Annotated[
        str | None,
        typer.Option(help="task_failed, task_retry, run_failed, sla_missed or schedule_missed."),
    ] = None,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline's events.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 30,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List alert events: failures, retries, missed SLAs and missed schedules."""
    out, _ = consoles()
    found = open_workspace(project, var).store.events(kind, pipeline, limit)
    view = Table("at (UTC)", "event", "pipeline", "run", "message", header_style="bold")
    for e in found:
        view.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.kind,
            e.pipeline or "",
            (e.run_id or "")[:8],
            e.message,
        )
    out.print(view if found else "[dim]no events[/dim]")
