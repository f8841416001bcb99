"""Tasks on a Dask distributed cluster (``executor: {type: dask, address: tcp://…}``).

Workers are other processes, maybe other machines: each opens the project from its folder
(which they must see at the same path) and runs the task by id. A task's exception comes back
as itself; a worker that died under a task (Dask's ``KilledWorker``) is :class:`WorkerDied`,
retryable, as with the process executor. Needs ``headwater[dask]``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from headwater.errors import MissingDependency, SourceUnreachable
from headwater.orchestrate.processes import WorkerDied
from headwater.orchestrate.remote import RemoteProject, context_payload, run_remote

T = TypeVar("T")


class DaskExecutor:
    """Submits each task as ``run_remote(project, task id, context)``: ``submit`` receives the
    runner's ``invoke, handler, task, ctx`` and sends only what a worker needs."""

    def __init__(self, address: str, project: RemoteProject, max_workers: int = 4) -> None:
        self.project = project
        try:
            from distributed import Client
        except ImportError as exc:
            raise MissingDependency(
                "the dask executor needs the `distributed` package",
                hint="install headwater[dask]",
            ) from exc
        try:
            self.client = Client(address, timeout="10s", set_as_default=False)
        except OSError as exc:
            raise SourceUnreachable(
                f"cannot reach the Dask scheduler at {address}: {exc}",
                dialect="dask",
                address=address,
                hint="start one (`dask scheduler`), or change the pipeline's executor.address",
            ) from exc
        self.max_workers = max_workers
        self._remote: dict[int, Any] = {}
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        _handler, task, ctx = args
        remote = self.client.submit(
            run_remote, self.project, task.id, context_payload(ctx), pure=False
        )
        with self._lock:
            self._remote[id(future)] = remote

        def done(finished: Any) -> None:
            with self._lock:
                self._remote.pop(id(future), None)
            if future.done():
                return
            try:
                future.set_result(finished.result())
            except BaseException as exc:
                future.set_exception(_worker_died(exc, task.id) or exc)

        remote.add_done_callback(done)
        return future

    def stop(self, future: Future[Any]) -> None:
        with self._lock:
            remote = self._remote.get(id(future))
        if remote is not None:
            remote.cancel()

    def shutdown(self, cancel: bool = False) -> None:
        if cancel:
            with self._lock:
                remotes = list(self._remote.values())
            for remote in remotes:
                remote.cancel()
        self.client.close()


def _worker_died(exc: BaseException, task_id: str) -> WorkerDied | None:
    """Dask's ``KilledWorker`` (the workers running the task died) as :class:`WorkerDied`."""
    if type(exc).__name__ != "KilledWorker":
        return None
    return WorkerDied(
        f"the Dask workers running task `{task_id}` died ({exc})",
        hint="out of memory, or killed: the task is retried if it has retries left",
    )
