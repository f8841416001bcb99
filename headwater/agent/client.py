"""What the ``headwater`` command does first: hand itself to a running agent, if there is one.

Only the standard library is imported here, so a command that finds no agent loses well
under a millisecond, and one that finds it starts its work in the agent's warm child at once.
The child writes straight to this process's standard streams (their descriptors are passed
along); this process relays signals (Ctrl-C) and ends with the child's exit status.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from headwater.agent import wire
from headwater.agent.address import enabled, ours, socket_path

#: signals a terminal or a supervisor sends to the command, passed on to the child
RELAYED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: how long the agent has to take the command (it forks at once unless it is stuck)
ANSWER_SECONDS = 30.0


def forward(args: list[str]) -> int | None:
    """Run ``headwater ARGS`` in the agent and return its exit code; ``None`` when no agent
    can take it (none running, switched off, or its code is older than this install's), and
    the caller runs the command itself."""
    if not enabled() or not hasattr(os, "fork") or (args and args[0] == "agent"):
        return None
    path = socket_path()
    if not ours(path) or not _streams_open():
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with sock:
        try:
            sock.connect(str(path))
        except OSError:
            return None  # nobody listens (an agent that was killed left its socket)
        try:
            sock.settimeout(ANSWER_SECONDS)
            wire.send(sock, _request(args), [0, 1, 2])
            reply, _ = wire.receive(sock)
            sock.settimeout(None)
        except TimeoutError:
            # it may still start the command: running it here too could run it twice
            _note(
                f"it took the command but did not start it within {ANSWER_SECONDS:.0f} s; "
                "stop it (`headwater agent stop`, or kill it) or set HEADWATER_AGENT=off"
            )
            return 1
        except (OSError, ValueError, wire.Closed):
            return None  # it went away before starting anything: run the command here
        if "pid" not in reply:
            _note(str(reply.get("refused", "it refused the command")))
            return None
        with _relaying(sock):
            try:
                reply, _ = wire.receive(sock)
            except (OSError, ValueError, wire.Closed):
                _note("it stopped while running the command, whose outcome is unknown")
                return 1
    if "signal" in reply:
        _die_by(int(reply["signal"]))
    return int(reply.get("exit", 1))


def _request(args: list[str]) -> dict[str, object]:
    mask = os.umask(0)
    os.umask(mask)
    streams = (sys.stdin, sys.stdout, sys.stderr)
    return {
        "kind": "run",
        "argv": args,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": mask,
        "encodings": [[s.encoding, s.errors] if s else ["utf-8", "strict"] for s in streams],
    }


def _streams_open() -> bool:
    """Standard streams to pass on; with one closed, the command runs here instead."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


@contextmanager
def _relaying(sock: socket.socket) -> Iterator[None]:
    """Pass the signals this process gets on to the child, for as long as it runs."""

    def relay(signum: int, frame: FrameType | None) -> None:
        # when the agent is gone, its answer (or its absence) ends the wait anyway
        with suppress(OSError):
            wire.send(sock, {"kind": "signal", "signal": signum})

    previous = {sig: signal.signal(sig, relay) for sig in RELAYED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _die_by(signum: int) -> None:
    """End as the child ended: killed by ``signum``, as a shell expects to see."""
    sys.stdout.flush()
    if signum not in (signal.SIGKILL, signal.SIGSTOP):  # those two cannot be caught anyway
        signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    sys.exit(128 + signum)  # for a signal that does not end a process


def _note(why: str) -> None:
    print(f"headwater agent at {socket_path()}: {why}", file=sys.stderr)
