"""The Workspace's processor methods: run processors, read their checkpoints (lag).

A mixin of the facade: each method is a few lines over :mod:`headwater.streams.processor_run`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.project import Project
    from headwater.state import Store
    from headwater.state.consumers import Checkpoint
    from headwater.streams.hub import Streams
    from headwater.streams.processor_report import ProcessorReport


class Processors:
    """Mixed into :class:`headwater.workspace.Workspace`."""

    project: Project

    @property
    def store(self) -> Store:
        raise NotImplementedError

    @property
    def streams(self) -> Streams:
        raise NotImplementedError

    def processor_names(self) -> list[str]:
        return list(self.project.config.processors)

    def run_processors(
        self,
        names: Sequence[str] = (),
        *,
        once: bool = False,
        flush_windows: bool = False,
        stop: threading.Event | None = None,
        progress: Callable[[list[ProcessorReport]], None] | None = None,
    ) -> list[ProcessorReport]:
        """Run processors ``names`` (all when none) in this process until ``stop`` is set,
        or with ``once`` until each has read what its shards held when it started (and with
        ``flush_windows`` too, emit the windows still open then)."""
        if flush_windows and not once:
            raise HeadwaterError(
                "flushing windows needs once: a processor that goes on running emits each "
                "window when it closes",
                hint="use `headwater stream process --once --flush-windows`",
            )
        from headwater.streams.processor import open_processor
        from headwater.streams.processor_run import run_workers
        from headwater.streams.processor_worker import Worker

        chosen = list(names) or self.processor_names()
        workers: list[Worker] = []
        try:
            for name in chosen:
                processor = open_processor(self.project, self.streams, name)
                workers.append(
                    Worker(
                        processor, self.streams, self.store, once=once, flush_windows=flush_windows
                    )
                )
        except BaseException:
            for worker in workers:
                worker.processor.close()
            raise
        return run_workers(workers, stop=stop, progress=progress)

    def run_processor(
        self,
        name: str,
        *,
        once: bool = False,
        flush_windows: bool = False,
        stop: threading.Event | None = None,
    ) -> ProcessorReport:
        """Run one processor (see :meth:`run_processors`)."""
        [report] = self.run_processors([name], once=once, flush_windows=flush_windows, stop=stop)
        return report

    def processor_checkpoints(self, name: str) -> list[Checkpoint]:
        """Where processor ``name`` stands in each shard: the last sequence done, how far
        behind the shard's newest record it was then (ms), and the records it has read."""
        from headwater.streams.processor import Processor

        return self.store.checkpoints(Processor.consumer_of(name))
