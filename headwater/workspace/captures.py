"""The Workspace's change-data-capture methods: run a source's capture, its status, drop it.

A mixin of the facade: each method is a few lines over :mod:`headwater.cdc`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.cdc.capture import CaptureStatus
    from headwater.cdc.run import CaptureReport, CaptureRun
    from headwater.connect.sql.databases import Databases
    from headwater.lake import Lake
    from headwater.project import Project
    from headwater.state import Store


class Captures:
    """Mixed into :class:`headwater.workspace.Workspace`."""

    project: Project
    databases: Databases

    @property
    def lake(self) -> Lake:
        raise NotImplementedError

    @property
    def store(self) -> Store:
        raise NotImplementedError

    def cdc_sources(self) -> list[str]:
        """The sources with tables under ``load: cdc``."""
        from headwater.cdc.sources import captured_sources

        return captured_sources(self.project)

    @contextmanager
    def capture(self, source: str) -> Iterator[CaptureRun]:
        """The capture of ``source``, open while the block runs."""
        from headwater.cdc.run import capture_run

        with capture_run(self.project, self.lake, self.store, self.databases, source) as run:
            yield run

    def run_capture(
        self,
        source: str,
        *,
        once: bool = True,
        stop: threading.Event | None = None,
        progress: Callable[[CaptureReport], None] | None = None,
    ) -> CaptureReport:
        """Snapshot ``source``'s tables if they have none, then apply its changes: until
        nothing is pending (``once``), or until ``stop`` is set."""
        with self.capture(source) as run:
            return run.run(once=once, stop=stop, progress=progress)

    def capture_status(self, source: str) -> CaptureStatus:
        """The slot (or binary log) of ``source``'s capture: position, lag, activity."""
        with self.capture(source) as run:
            return run.capture.status()

    def drop_capture(self, source: str) -> None:
        """Remove the replication slot and publication of ``source``'s capture (the tables
        stay; a later run takes a new snapshot)."""
        with self.capture(source) as run:
            run.capture.drop()
            run.forget()
