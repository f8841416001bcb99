"""The agent: import once, then fork a child per command and report how each child ended.

One thread, one loop over a selector: the listening socket, a pipe the signal handlers write
to (``SIGCHLD`` when a child ends, ``SIGTERM``/``SIGINT`` to stop), and the connection of every
command running, on which its caller sends the signals it gets. A caller that goes away
hangs its child up (``SIGHUP``), as closing a terminal would.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import headwater
from headwater.agent import control, stamp, wire
from headwater.agent.address import SOCKET_VARIABLE, private_folder
from headwater.agent.child import Child, Command
from headwater.agent.preload import Preloaded, preload
from headwater.errors import AgentError

BACKLOG = 64
#: how long a caller has to send its whole request
REQUEST_SECONDS = 5.0


@dataclass
class Running:
    """A command running in a child."""

    pid: int
    conn: socket.socket | None  # None once the caller has gone
    argv: list[str]
    started: float = field(default_factory=time.time)


class Agent:
    """The resident process behind ``headwater agent start``."""

    def __init__(self, path: Path, *, idle_timeout: float | None = None) -> None:
        self.path = path
        self.idle_timeout = idle_timeout
        self.preloaded = Preloaded()
        self.started = time.time()
        self.last_active = time.monotonic()
        self.served = 0
        self.running: dict[int, Running] = {}
        self.stopping: str | None = None
        self._command: Command | None = None
        self._stamp: tuple[tuple[str, int, int], ...] = ()
        self._listener: socket.socket | None = None
        self._inode = 0
        self._pid = os.getpid()
        self._selector = selectors.DefaultSelector()
        self._wakeup = os.pipe()

    # ------------------------------------------------------------------ life

    def serve(self) -> Child | None:
        """Import, listen, and answer until stopped. Returns ``None`` in the agent when it has
        stopped, and a :class:`Child` in each forked child, which the caller runs."""
        private_folder(self.path.parent)
        if control.status(self.path) is not None:  # before two seconds of importing
            raise AgentError(
                f"an agent already listens on {self.path}",
                hint="`headwater agent stop` stops it; or choose another socket path with "
                f"{SOCKET_VARIABLE}",
            )
        self.preloaded = preload()
        self._command = command()
        self._stamp = stamp.take()
        # what is imported now lives as long as the agent: the children's collector need
        # never walk it, which would copy every page it touches
        gc.freeze()
        self._listen()
        log(
            f"listening on {self.path} (pid {os.getpid()}): {self.preloaded.modules} modules "
            f"imported in {self.preloaded.seconds:.2f} s"
        )
        for name, why in self.preloaded.skipped.items():
            log(f"not preloaded: {name} ({why})")
        if threading.active_count() > 1:
            names = ", ".join(t.name for t in threading.enumerate())
            log(f"threads running before the first fork, missing from every child: {names}")
        self._catch_signals()
        try:
            return self._loop()
        finally:
            if os.getpid() == self._pid:
                self._unpublish()

    def _listen(self) -> None:
        """Bind beside the final path, then rename: callers never see a half-ready agent."""
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        staging.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(staging))
        listener.listen(BACKLOG)
        os.replace(staging, self.path)
        self._inode = self.path.stat().st_ino
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, "accept")

    def _catch_signals(self) -> None:
        for fd in self._wakeup:
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wakeup[1])
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _noted)
        self._selector.register(self._wakeup[0], selectors.EVENT_READ, "signal")

    def _unpublish(self) -> None:
        """Stop listening; remove the socket unless another agent has taken its place."""
        if self._listener is None:
            return
        self._selector.unregister(self._listener)
        self._listener.close()
        self._listener = None
        try:
            if self.path.stat().st_ino == self._inode:
                self.path.unlink()
        except FileNotFoundError:
            pass

    # ------------------------------------------------------------------ loop

    def _loop(self) -> Child | None:
        while not (self.stopping and not self.running):
            for key, _ in self._selector.select(timeout=self._tick()):
                if key.data == "accept":
                    child = self._accept()
                    if child is not None:
                        return child
                elif key.data == "signal":
                    self._signals()
                else:
                    self._from_caller(key.data)
            if self._idle():
                self._stop(f"idle for {self.idle_timeout:g} s")
        log(f"stopped: {self.stopping}; {self.served} commands served")
        return None

    def _idle(self) -> bool:
        if not self.idle_timeout or self.running or self.stopping:
            return False
        return time.monotonic() - self.last_active > self.idle_timeout

    def _tick(self) -> float | None:
        return 1.0 if self.idle_timeout else None

    def _accept(self) -> Child | None:
        assert self._listener is not None
        conn, _ = self._listener.accept()
        self.last_active = time.monotonic()
        try:
            if _peer_uid(conn) != os.getuid():
                conn.close()
                return None
            conn.settimeout(REQUEST_SECONDS)
            request, fds = wire.receive(conn)
        except (OSError, ValueError, wire.Closed) as exc:
            log(f"a caller's request could not be read: {exc}")
            conn.close()
            return None
        kind = request.get("kind")
        if kind == "run" and len(fds) == 3:
            return self._start(conn, request, fds)
        for fd in fds:
            os.close(fd)
        if kind == "status":
            self._answer(conn, self.status())
        elif kind == "stop":
            self._stop("asked to stop")
            self._answer(conn, {"stopping": True, "running": len(self.running)})
        else:
            self._answer(conn, {"refused": f"unknown request {kind!r}"})
        return None

    def _start(self, conn: socket.socket, request: dict[str, Any], fds: list[int]) -> Child | None:
        reason = self._refusal()
        if reason is not None:
            for fd in fds:
                os.close(fd)
            self._answer(conn, {"refused": reason})
            return None
        pid = os.fork()
        if pid == 0:
            conn.close()
            self._leave()
            os.setpgid(0, 0)
            assert self._command is not None
            return Child(request, fds, self._command)
        with suppress(OSError):  # the child has done it, or has ended: either way, settled
            os.setpgid(pid, pid)
        for fd in fds:
            os.close(fd)
        self.served += 1
        self.running[pid] = Running(pid, conn, list(request.get("argv", [])))
        try:  # the request's timeout stays: a caller sending half a message is hung up
            wire.send(conn, {"pid": pid})
            self._selector.register(conn, selectors.EVENT_READ, pid)
        except OSError:
            self._hang_up(pid)
        return None

    def _refusal(self) -> str | None:
        if self.stopping:
            return f"it is stopping ({self.stopping}); the command runs here"
        moved = stamp.changed(self._stamp)
        if moved is not None:
            self._stop(f"{moved} changed since it started")
            return (
                f"{moved} changed since it started, so it has stopped and the command runs "
                "here; `headwater agent start` starts it again on the new code"
            )
        return None

    def _leave(self) -> None:
        """In a new child: let go of everything that belongs to the agent."""
        self._selector.close()
        for fd in self._wakeup:
            os.close(fd)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for running in self.running.values():
            if running.conn is not None:
                running.conn.close()
        self.running = {}

    def _signals(self) -> None:
        try:
            received = os.read(self._wakeup[0], 512)
        except BlockingIOError:
            received = b""
        for signum in set(received):
            if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self._stop(f"signal {signal.Signals(signum).name}")
        self._reap()

    def _reap(self) -> None:
        while self.running:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            running = self.running.pop(pid, None)
            if running is None:
                continue
            if os.WIFSIGNALED(status):
                outcome = {"signal": os.WTERMSIG(status)}
            else:
                outcome = {"exit": os.waitstatus_to_exitcode(status)}
            ((how, value),) = outcome.items()
            command = running.argv[0] if running.argv else ""  # the rest may hold secrets (--var)
            log(
                f"pid {pid}: headwater {command} … → {how} {value} in "
                f"{time.time() - running.started:.2f} s, peak {usage.ru_maxrss / 1024:,.0f} MB"
            )
            if running.conn is not None:
                self._selector.unregister(running.conn)
                self._answer(running.conn, outcome)
            self.last_active = time.monotonic()

    def _from_caller(self, pid: int) -> None:
        running = self.running.get(pid)
        if running is None or running.conn is None:
            return  # reaped a moment ago, in the same round of events
        try:
            message, fds = wire.receive(running.conn)
        except (OSError, ValueError, wire.Closed):
            self._hang_up(pid)
            return
        for fd in fds:
            os.close(fd)
        if message.get("kind") == "signal":
            _signal_group(pid, int(message.get("signal", signal.SIGINT)))

    def _hang_up(self, pid: int) -> None:
        """The caller has gone: hang its child up, as a closed terminal would."""
        running = self.running[pid]
        if running.conn is not None:
            with suppress(KeyError, ValueError):  # never registered: it left before the pid came
                self._selector.unregister(running.conn)
            running.conn.close()
            running.conn = None
        _signal_group(pid, signal.SIGHUP)

    def _stop(self, why: str) -> None:
        if not self.stopping:
            self.stopping = why
            self._unpublish()

    @staticmethod
    def _answer(conn: socket.socket, message: dict[str, Any]) -> None:
        try:
            wire.send(conn, message)
        except OSError:
            pass  # the caller has gone; nothing waits for the answer
        finally:
            conn.close()

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        """What ``headwater agent status`` shows."""
        return {
            "pid": os.getpid(),
            "socket": str(self.path),
            "python": sys.executable,
            "version": headwater.__version__,
            "started": self.started,
            "preload_seconds": round(self.preloaded.seconds, 3),
            "modules": self.preloaded.modules,
            "skipped": sorted(self.preloaded.skipped),
            "served": self.served,
            "running": [
                {"pid": r.pid, "argv": r.argv, "started": r.started} for r in self.running.values()
            ],
            "rss_mb": _rss_mb(),
            "idle_timeout": self.idle_timeout,
        }


def command() -> Command:
    """The ``headwater`` command as Typer builds it for each call (18 ms): built once here."""
    import typer.main

    from headwater.cli.app import app

    return typer.main.get_command(app)


def _noted(signum: int, frame: object) -> None:
    """Signals are handled by the loop (through the wakeup pipe), not here."""


def _signal_group(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):  # ended: its status is on its way
        os.killpg(pid, signum)


def _peer_uid(conn: socket.socket) -> int:
    """The caller's user id (where the system cannot tell, the folder's permissions guard)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return os.getuid()
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return uid


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def log(message: str) -> None:
    """A line in the agent's log (its standard error)."""
    stamp_ = time.strftime("%Y-%m-%d %H:%M:%S")
    with suppress(OSError):  # a full disk must not stop the agent in the middle of commands
        print(f"{stamp_} headwater agent: {message}", file=sys.stderr, flush=True)
