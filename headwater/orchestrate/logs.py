"""Per-task logs: one file per task run, opened on the first line, tailed by `headwater logs`.

While a task runs in a thread, what it prints goes to its log (and, in the foreground, to the
terminal as well): ``sys.stdout`` is replaced once by a writer that routes by thread.
"""

from __future__ import annotations

import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

_SAFE = re.compile(r"[^A-Za-z0-9_.\[\]=-]")


def log_path(root: Path, run_id: str, task_id: str) -> Path:
    return root / run_id / (_SAFE.sub("_", task_id) + ".log")


class TaskLog:
    """Lines a task writes, with their time; the file appears with the first line."""

    def __init__(self, path: Path | None, echo: bool = False) -> None:
        self.path = path
        self.echo = echo  # also to the terminal (a run in the foreground)
        self._file: IO[str] | None = None
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            if self.path is not None:
                if self._file is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    self._file = self.path.open("a", encoding="utf-8")
                self._file.write(text)
                self._file.flush()
        if self.echo:
            terminal = sys.stdout.original if isinstance(sys.stdout, _Router) else sys.stdout
            terminal.write(text)
            terminal.flush()

    def _line(self, level: str, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.write(f"{stamp} {level:<7} {message}\n")

    def info(self, message: str) -> None:
        self._line("INFO", message)

    def warning(self, message: str) -> None:
        self._line("WARNING", message)

    def error(self, message: str) -> None:
        self._line("ERROR", message)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _Router:
    """Stands in for sys.stdout/sys.stderr: a task thread's writes go to its log."""

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.local = threading.local()

    def write(self, text: str) -> int:
        target: TaskLog | None = getattr(self.local, "log", None)
        if target is None:
            return self.original.write(text)
        target.write(text)
        return len(text)

    def flush(self) -> None:
        self.original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


_install = threading.Lock()


def capture(log: TaskLog) -> _Router | None:
    """Route this thread's prints to ``log`` until :func:`release`."""
    with _install:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout)
        router = sys.stdout
    assert isinstance(router, _Router)
    router.local.log = log
    return router


def release(router: _Router | None) -> None:
    if router is not None:
        router.local.log = None


def read_log(root: Path, run_id: str, task_id: str) -> str | None:
    path = log_path(root, run_id, task_id)
    return path.read_text(encoding="utf-8") if path.exists() else None
