"""Running processors: one worker each, stepped in turn, until asked to stop (after the batch
in hand is put and checkpointed, and the leases are given back) or, with ``once``, until each
has read what its shards held when it took them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from headwater.streams.processor_report import ProcessorReport
from headwater.streams.processor_worker import Worker

IDLE_WAIT = 0.2  # seconds between looks at the shards when none had records


def run_workers(
    workers: Sequence[Worker],
    *,
    stop: threading.Event | None = None,
    progress: Callable[[list[ProcessorReport]], None] | None = None,
) -> list[ProcessorReport]:
    """Step ``workers`` until ``stop`` is set or (once) all are finished; returns their
    reports. Leases are released and transforms closed whatever happens."""
    stop = stop or threading.Event()
    try:
        for worker in workers:
            worker.claim()
        while not stop.is_set():
            read = 0
            for worker in workers:
                if not worker.finished:
                    read += worker.step()
                if stop.is_set():
                    break
            if progress is not None:
                progress([w.report for w in workers])
            if all(w.finished for w in workers):
                break
            if read == 0:
                stop.wait(IDLE_WAIT)
    finally:
        for worker in workers:
            try:
                worker.release()
            finally:
                worker.processor.close()
    return [w.report for w in workers]
