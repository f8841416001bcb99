"""Executors run task callables and hand back futures: threads here, processes and Dask beside.

Stopping a running task differs by executor: a worker process is killed; a thread cannot be, so
it gets its cancellation flag set and an exception raised in it (effective at the next Python
line; a blocking C call finishes first). An exception that lands while the thread runs a
finalizer or a weakref callback (importlib's module locks have one) cannot leave it: Python
reports it as unraisable and drops it, so it is noted (without a traceback) and sent again.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from headwater.orchestrate.context import TaskInterrupted

T = TypeVar("T")

# how long a stopped task's thread is watched for an interruption Python dropped
RESEND_SECONDS = 10.0
# threads whose TaskInterrupted landed in a finalizer or callback and was dropped
_dropped: set[int] = set()


class Executor(Protocol):
    """Runs callables somewhere; the runner only needs submit, stop and shutdown."""

    max_workers: int

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]: ...

    def stop(self, future: Future[Any]) -> None:
        """Stop the task behind ``future`` if it is running (a timeout, a cancel)."""

    def shutdown(self, cancel: bool = False) -> None: ...


class LocalExecutor:
    """A thread pool in this process: task overhead is microseconds, parallelism is bounded."""

    def __init__(self, max_workers: int = 4) -> None:
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="headwater-task"
        )
        self._threads: dict[int, int] = {}  # id(future) → thread running it
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        holder: list[Future[T]] = []
        ready = threading.Event()

        def call() -> T:
            ready.wait()
            key = id(holder[0])
            with self._lock:
                self._threads[key] = threading.get_ident()
            try:
                return fn(*args)
            finally:
                with self._lock:
                    self._threads.pop(key, None)

        future = self._pool.submit(call)
        holder.append(future)
        ready.set()
        return future

    def stop(self, future: Future[Any]) -> None:
        if future.cancel():
            return
        _keep_interruptions()
        with self._lock:
            thread = self._threads.get(id(future))
            if thread is not None:
                _dropped.discard(thread)  # a drop noted for an earlier task of this thread
        if thread is not None:
            # not under the lock: the task's thread may be waiting for it in its own cleanup,
            # and an exception landing as it takes the lock would keep the lock taken for ever
            _interrupt(thread)
            threading.Thread(target=self._resend, args=(id(future), thread), daemon=True).start()

    def _resend(self, key: int, thread: int) -> None:
        """Interrupt the task again if the first interruption was dropped, while it runs."""
        deadline = time.monotonic() + RESEND_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.05)
            with self._lock:
                if self._threads.get(key) != thread:
                    break
                dropped = thread in _dropped
                _dropped.discard(thread)
            if dropped:  # outside the lock, as in stop()
                _interrupt(thread)
        with self._lock:
            if self._threads.get(key) != thread:  # the task ended: its thread owes nothing
                _dropped.discard(thread)

    def shutdown(self, cancel: bool = False) -> None:
        """Wait for running tasks; with ``cancel``, drop the queued ones and do not wait."""
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)


def _interrupt(thread: int) -> None:
    """Raise TaskInterrupted in ``thread`` at its next Python line."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread), ctypes.py_object(TaskInterrupted)
    )


def _keep_interruptions() -> None:
    """Chain a ``sys.unraisablehook`` that notes, without a traceback, a TaskInterrupted that
    Python dropped, for :meth:`LocalExecutor._resend` (once per hook: a test runner may put
    its own back)."""
    previous = sys.unraisablehook
    if getattr(previous, "keeps_interruptions", False):
        return

    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is TaskInterrupted:
            _dropped.add(threading.get_ident())
            return
        previous(unraisable)

    hook.keeps_interruptions = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook
