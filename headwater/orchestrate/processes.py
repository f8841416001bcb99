"""A subprocess per task: isolation for CPU-bound or unsafe code, and a real kill on timeout.

Tasks are forked from the running process, so they start with the project already loaded
(milliseconds, not an interpreter start). The result, or the exception itself (see
:mod:`headwater.orchestrate.failures`), comes back through a pipe. A worker that dies without
answering fails its task with :class:`WorkerDied`, which is retryable.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from headwater.errors import TransientError
from headwater.orchestrate.failures import portable

T = TypeVar("T")


class WorkerDied(TransientError):
    """A task's worker process ended without a result (killed, crashed, out of memory)."""


def _child(send: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    os.setsid()  # its own process group: stopping it stops what it started
    try:
        result = fn(*args)
        send.send(("ok", result))
    except BaseException as exc:
        send.send(("error", portable(exc)))
    finally:
        send.close()


class ProcessExecutor:
    """At most ``max_workers`` task processes at once (the runner never submits more)."""

    def __init__(self, max_workers: int = 4) -> None:
        self.max_workers = max_workers
        self._context = multiprocessing.get_context("fork")
        self._processes: dict[int, Any] = {}  # id(future) → process
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        future: Future[T] = Future()
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_child, args=(send, fn, args), daemon=True)
        process.start()
        send.close()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._processes[id(future)] = process
        threading.Thread(target=self._collect, args=(future, process, receive), daemon=True).start()
        return future

    def _collect(self, future: Future[Any], process: Any, receive: Connection) -> None:
        try:
            kind, payload = receive.recv()
        except (EOFError, OSError):
            kind, payload = "died", None
        process.join()
        with self._lock:
            self._processes.pop(id(future), None)
        if future.done():
            return
        if kind == "ok":
            future.set_result(payload)
        elif kind == "error":
            future.set_exception(payload)
        else:
            code = process.exitcode
            how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            future.set_exception(
                WorkerDied(
                    f"the task's worker process (pid {process.pid}) died ({how})",
                    hint="out of memory, or killed: the task is retried if it has retries left",
                )
            )

    def stop(self, future: Future[Any]) -> None:
        with self._lock:
            process = self._processes.get(id(future))
        if process is not None and process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def shutdown(self, cancel: bool = False) -> None:
        with self._lock:
            processes = list(self._processes.values())
        for process in processes:
            if cancel and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.join()
