"""Start, stop and ask the agent: what the ``headwater agent`` commands call."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from headwater.agent import wire
from headwater.agent.address import private_folder, socket_path
from headwater.errors import AgentError

#: how long ``start`` waits for the agent to import everything and listen
START_SECONDS = 60.0


def status(path: Path | None = None) -> dict[str, Any] | None:
    """The running agent's status, or ``None`` when none listens at ``path``."""
    try:
        return ask({"kind": "status"}, path)
    except (OSError, ValueError, wire.Closed):
        return None


def start(path: Path | None = None, *, idle_timeout: float | None = None) -> dict[str, Any]:
    """Start an agent in the background (or find the one running); return its status."""
    path = path or socket_path()
    running = status(path)
    if running is not None:
        return {**running, "already": True}
    folder = private_folder(path.parent)
    log = folder / f"{path.stem}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command(path, idle_timeout),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd="/",
        )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        answer = status(path)
        if answer is not None:
            return {**answer, "already": False, "log": str(log)}
        if process.poll() is not None:
            raise AgentError(
                f"the agent exited with status {process.returncode} while starting",
                hint=f"its log {log} says why:\n{_tail(log)}",
            )
        time.sleep(0.05)
    process.kill()
    raise AgentError(
        f"the agent did not listen on {path} within {START_SECONDS:.0f} s",
        hint=f"see its log {log}",
    )


def command(path: Path, idle_timeout: float | None) -> list[str]:
    """The process that is the agent: ``python -m headwater.agent``."""
    line = [sys.executable, "-m", "headwater.agent", "--socket", str(path)]
    return [*line, "--idle-timeout", str(idle_timeout)] if idle_timeout else line


def stop(path: Path | None = None) -> dict[str, Any] | None:
    """Ask the agent to stop; ``None`` when none was running. Commands running go on."""
    try:
        return ask({"kind": "stop"}, path)
    except (OSError, ValueError, wire.Closed):
        return None


def ask(message: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """Send one message to the agent and return its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10.0)
        sock.connect(str(path or socket_path()))
        wire.send(sock, message)
        answer, _ = wire.receive(sock)
    return answer


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(unreadable: {exc})"
