"""What a child forked by the agent does: become the caller's process, then run its command.

It takes the caller's standard streams, environment, folder, umask and arguments, and sets
back the signal handlers the agent changed, so the command cannot tell it from a fresh
``headwater`` process except by how soon it starts. It ends as a process does (threads
joined, ``atexit`` run, streams flushed), and the agent reports its exit status.
"""

from __future__ import annotations

import atexit
import io
import os
import signal
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol


class Command(Protocol):
    """A built command-line command (Typer's click ``Command``)."""

    def main(self, args: list[str], prog_name: str) -> Any: ...


@dataclass
class Child:
    """One command to run in this freshly forked process."""

    request: dict[str, Any]
    fds: list[int]
    #: the ``headwater`` command, built from the Typer app once, in the agent
    command: Command

    def run(self) -> NoReturn:
        """Become the caller's process, run the command, and end with its exit status."""
        self._become()
        code = 1
        try:
            self.command.main(args=list(self.request["argv"]), prog_name="headwater")
            code = 0
        except SystemExit as done:
            code = _exit_code(done.code)
        except BaseException:
            sys.excepthook(*sys.exc_info())
        finally:
            _end(code)

    def _become(self) -> None:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(self.fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(self.request["env"])
        time.tzset()  # local time follows the caller's TZ, as it would in a fresh process
        os.chdir(self.request["cwd"])
        os.umask(int(self.request["umask"]))
        sys.argv = ["headwater", *self.request["argv"]]
        encodings = self.request["encodings"]
        sys.stdin = _reader(0, *encodings[0])
        sys.stdout = _writer(1, *encodings[1], lines=os.isatty(1))
        sys.stderr = _writer(2, *encodings[2], lines=True)


def _reader(fd: int, encoding: str, errors: str) -> io.TextIOWrapper:
    """Standard input on ``fd``, as Python sets it up in a fresh process."""
    raw = io.BufferedReader(io.FileIO(fd, "r", closefd=False))
    return io.TextIOWrapper(raw, encoding=encoding, errors=errors)


def _writer(fd: int, encoding: str, errors: str, *, lines: bool) -> io.TextIOWrapper:
    """An output stream on ``fd``: line-buffered on a terminal (and always for errors)."""
    raw = io.BufferedWriter(io.FileIO(fd, "w", closefd=False))
    return io.TextIOWrapper(raw, encoding=encoding, errors=errors, line_buffering=lines)


def _end(code: int) -> NoReturn:
    """End as the interpreter ends a process, without tearing down every module.

    A normal shutdown frees each object the agent imported, which writes to every page the
    child shares with the agent: 0.65 s of copying for nothing. So: join the threads still
    running and run the ``atexit`` functions (what a normal exit does that anyone can see),
    flush the streams, and leave.
    """
    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):  # a closed pipe must not change the exit status
                stream.flush()
    finally:
        os._exit(code)


def _exit_code(code: object) -> int:
    """The status ``sys.exit(code)`` gives a process."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
