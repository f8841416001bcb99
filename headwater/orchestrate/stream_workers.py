"""Every declared delivery, processor and feed running without an end beside the scheduler
(``headwater scheduler --streams``): one thread per item, restarted after a failure.

A worker that fails is started again after an exponential backoff with jitter (tenacity, as
every retry in Headwater; a restart resumes from the committed positions and checkpoints, so
nothing is lost or written twice), for as long as the scheduler runs: a broker that is away
for an hour is waited for, not given up on. Each failure is reported through ``on_event``.
:meth:`StreamWorkers.stop` sets the workers' shared ``stop`` event: a delivery flushes,
commits and gives its shards back, a processor checkpoints the batch in hand, a feed puts
what it buffered and acknowledges it; then the threads are joined.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.orchestrate.task import StreamItem

if TYPE_CHECKING:
    from headwater.orchestrate.scope import Scope
    from headwater.streams.hub import Streams

log = logging.getLogger("headwater.scheduler")

FIRST_WAIT = 1.0  # seconds before the first restart of a failed worker
MAX_WAIT = 60.0  # the longest wait between restarts


@dataclass
class WorkerState:
    """One item's worker: how often it failed, and its last error."""

    item: StreamItem
    name: str
    failures: int = 0
    last_error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.item} `{self.name}`"


def declared_items(scope: Scope) -> list[tuple[StreamItem, str]]:
    """Every delivery, processor and feed of the project."""
    cfg = scope.project.config
    items: list[tuple[StreamItem, str]] = [("delivery", n) for n in cfg.deliveries]
    items += [("processor", n) for n in cfg.processors]
    items += [("feed", n) for n in cfg.feeds]
    return items


class StreamWorkers:
    """The long-running workers of a project's streams (see the module docstring)."""

    def __init__(
        self,
        scope: Scope,
        on_event: Callable[[str], None] | None = None,
        first_wait: float = FIRST_WAIT,
        max_wait: float = MAX_WAIT,
    ) -> None:
        self.scope = scope
        self.on_event = on_event or (lambda message: log.info(message))
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.workers = [WorkerState(item, name) for item, name in declared_items(scope)]
        self._stop = threading.Event()
        self._streams: Streams | None = None

    def start(self) -> None:
        """Start one thread per declared item (none when there are none)."""
        if not self.workers:
            return
        from headwater.streams.hub import Streams

        self._streams = Streams(self.scope.project)
        for worker in self.workers:
            worker.thread = threading.Thread(
                target=self._supervise,
                args=(worker,),
                name=f"stream-{worker.item}-{worker.name}",
                daemon=True,
            )
            worker.thread.start()
        self.on_event(
            f"streams: running {', '.join(w.label for w in self.workers)} beside the scheduler"
        )

    def alive(self) -> list[WorkerState]:
        return [w for w in self.workers if w.thread is not None and w.thread.is_alive()]

    def stop(self, timeout: float | None = None) -> None:
        """Ask every worker to stop after the work in hand, and wait for them."""
        self._stop.set()
        for worker in self.workers:
            if worker.thread is not None:
                worker.thread.join(timeout)
        if self._streams is not None and not self.alive():
            self._streams.close()
            self._streams = None

    def _supervise(self, worker: WorkerState) -> None:
        from tenacity import (
            Retrying,
            retry_if_exception_type,
            stop_when_event_set,
            wait_exponential_jitter,
        )

        def failed(state: Any) -> None:
            exc = state.outcome.exception()
            worker.failures += 1
            worker.last_error = str(exc)
            wait = state.next_action.sleep if state.next_action else 0.0
            self.on_event(f"{worker.label} failed ({exc}); restarting it in {wait:.0f}s")

        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(
                multiplier=self.first_wait, max=self.max_wait, jitter=self.first_wait
            ),
            stop=stop_when_event_set(self._stop),
            sleep=self._pause,
            before_sleep=failed,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._run(worker)
        except Exception as exc:  # stopped while a failure was pending: the loop ends here
            self.on_event(f"{worker.label} stopped after a failure: {exc}")

    def _pause(self, seconds: float) -> None:
        """Wait before a restart, and wake at once when asked to stop."""
        self._stop.wait(seconds)

    def _run(self, worker: WorkerState) -> None:
        from headwater.orchestrate.stream_tasks import run_item

        assert self._streams is not None
        run_item(self.scope, self._streams, worker.item, worker.name, self._stop, once=False)
