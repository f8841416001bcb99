"""Executors run task callables and hand back futures. Later: subprocess and Dask executors."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Executor(Protocol):
    """Runs callables somewhere; the runner only needs submit and shutdown."""

    max_workers: int

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]: ...

    def shutdown(self, cancel: bool = False) -> None: ...


class LocalExecutor:
    """A thread pool in this process: task overhead is microseconds, parallelism is bounded."""

    def __init__(self, max_workers: int = 4) -> None:
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="headwater-task"
        )

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        return self._pool.submit(fn, *args)

    def shutdown(self, cancel: bool = False) -> None:
        """Wait for running tasks; with ``cancel``, drop the queued ones first."""
        self._pool.shutdown(wait=True, cancel_futures=cancel)
