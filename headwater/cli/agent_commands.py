"""The agent commands: start, stop and look at the resident process that runs commands warm."""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated, Any

import typer
from rich.markup import escape

from headwater.cli.app import DebugOpt, app, consoles, handles_errors

agent_app = typer.Typer(
    help=(
        "Keep Headwater imported in a resident process, so each command starts in "
        "milliseconds instead of about a second."
    ),
    no_args_is_help=True,
)
app.add_typer(agent_app, name="agent")


@agent_app.command("start")
@handles_errors
def agent_start(
    idle_timeout: Annotated[
        str | None,
        typer.Option(
            help="Stop after this long without a command: 90s, 15m, 8h…", show_default="never"
        ),
    ] = None,
    foreground: Annotated[
        bool,
        typer.Option("--foreground", help="Run here, not in the background (for a supervisor)."),
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Start the agent: from then on, commands run in children it forks, imports done.

    Every `headwater` command of this install then runs in a child the agent forks, with
    Headwater, pyarrow, DuckDB and the connectors already imported.

    A command run through the agent behaves as it would on its own: it gets your
    arguments, environment variables, current folder, terminal, Ctrl-C and exit status.
    The agent serves only you, and only commands of this Python and this install. When
    Headwater's code or the installed packages change it stops by itself, and commands run
    as before until you start it again. HEADWATER_AGENT=off makes a command skip it.

    Example: headwater agent start --idle-timeout 8h
    """
    from headwater.agent import control
    from headwater.durations import parse_duration

    seconds = parse_duration(idle_timeout).total_seconds() if idle_timeout else None
    if foreground:
        from headwater.agent.address import socket_path

        os.execv(sys.executable, control.command(socket_path(), seconds))
    _, err = consoles()
    with err.status("starting the agent: importing Headwater and its libraries…"):
        started = control.start(idle_timeout=seconds)
    verb = "already running" if started["already"] else "started"
    err.print(
        f"agent {verb} (pid {started['pid']}): {started['modules']:,} modules imported in "
        f"{started['preload_seconds']:.2f} s; listening on {escape(started['socket'])}",
        highlight=False,
        soft_wrap=True,
    )


@agent_app.command("stop")
@handles_errors
def agent_stop(debug: DebugOpt = False) -> None:
    """Stop the agent. Commands it is running finish; new ones run on their own."""
    from headwater.agent import control

    _, err = consoles()
    answer = control.stop()
    if answer is None:
        err.print("no agent was running", highlight=False)
        return
    running = answer.get("running", 0)
    tail = f"; {running} command(s) it is running will finish" if running else ""
    err.print(f"agent stopped{tail}", highlight=False)


@agent_app.command("status")
@handles_errors
def agent_status(debug: DebugOpt = False) -> None:
    """Show whether the agent runs, what it imported and what it runs now (exit 1: none).

    Shows its pid, socket, Python, uptime, memory and the commands it has served.
    """
    from headwater.agent import control
    from headwater.agent.address import socket_path

    out, err = consoles()
    answer = control.status()
    if answer is None:
        err.print(
            f"no agent is running (socket {escape(str(socket_path()))}); "
            "`headwater agent start` starts one",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    for label, value in _describe(answer):
        out.print(f"[bold]{label:<10}[/bold] {escape(value)}", highlight=False, soft_wrap=True)


def _describe(answer: dict[str, Any]) -> list[tuple[str, str]]:
    up = time.time() - answer["started"]
    rows = [
        ("pid", str(answer["pid"])),
        ("socket", answer["socket"]),
        ("python", answer["python"]),
        ("version", answer["version"]),
        ("up", f"{up:,.0f} s"),
        ("imported", f"{answer['modules']:,} modules in {answer['preload_seconds']:.2f} s"),
        ("memory", f"{answer['rss_mb']:,.0f} MB"),
        ("served", f"{answer['served']:,} commands"),
        ("idle stop", f"{answer['idle_timeout']:g} s" if answer["idle_timeout"] else "never"),
    ]
    if answer["skipped"]:
        rows.append(("skipped", ", ".join(answer["skipped"])))
    for running in answer["running"]:
        since = time.time() - running["started"]
        rows.append(
            (
                "running",
                f"pid {running['pid']}: headwater {' '.join(running['argv'])} ({since:.0f} s)",
            )
        )
    return rows
