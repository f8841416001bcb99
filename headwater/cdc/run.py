"""Run a capture: the initial snapshot when the tables have none, then change blocks applied
as they arrive, each table's position committed with its rows.

Where a restart reads from: the capture's own position in the metadata store (consumer
``cdc:<source>``), saved after every table of a block is applied. It is only a place to start
reading: each table also holds its position in its snapshots, and drops changes at or before
it (:func:`headwater.cdc.apply.apply_changes`), so a crash between applying a block and saving
its position applies nothing twice. The source is told it may free its log up to a position
(:meth:`Capture.acknowledge`) only after that position is saved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pyarrow.compute as pc

from headwater.cdc.apply import apply_changes, apply_snapshot, committed_position
from headwater.cdc.capture import POSITION, Capture, ChangeBlock, TableChanges
from headwater.cdc.positions import sort_key
from headwater.lake import Lake
from headwater.project.base import Contract
from headwater.state import Store

log = logging.getLogger("headwater.cdc")

POSITION_SHARD = "position"  # the capture's one checkpoint row
HEARTBEAT_SECONDS = 60.0


@dataclass
class CaptureReport:
    """What a run of a capture did."""

    source: str
    snapshot_rows: int = 0
    blocks: int = 0
    changes: int = 0
    commits: int = 0
    position: str | None = None
    behind_seconds: float | None = None
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)  # target → changes applied


@dataclass
class CaptureRun:
    """One source's capture into its tables (``targets``: source table → lake table)."""

    source: str
    capture: Capture
    lake: Lake
    store: Store
    targets: Mapping[str, str]
    contract: Contract = "evolve"
    max_changes: int = 50_000
    interval: float = 1.0
    clock: Callable[[], float] = time.monotonic
    report: CaptureReport = field(init=False)
    _position: str | None = field(default=None, init=False)
    _beat: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.report = CaptureReport(self.source)

    @property
    def consumer(self) -> str:
        return f"cdc:{self.source}"

    def start(self) -> None:
        """Check the source, create its slot if missing, and take the initial snapshot when
        a table has no position yet."""
        self.capture.check()
        created = self.capture.ensure()
        positions = {t: committed_position(self.lake, t) for t in self.targets.values()}
        if created or any(p is None for p in positions.values()):
            self._snapshot()
        else:
            self._position = self._saved() or min(
                (p for p in positions.values() if p is not None), key=sort_key
            )
        self.report.position = self._position
        self._beat = self.clock()

    def _snapshot(self) -> None:
        with self.capture.snapshot() as read:
            for table in read.tables():
                target = self.targets[table.table]
                result = apply_snapshot(
                    self.lake, target, table, read.position, contract=self.contract
                )
                self.report.snapshot_rows += result.rows
                self.report.commits += int(result.changed)
            self._save(read.position)
        self.capture.acknowledge(read.position)

    def step(self) -> int:
        """Read and apply one block; returns the changes read."""
        block = self.capture.read(self._position, max_changes=self.max_changes, wait=self.interval)
        if block.changes:
            self._apply(block)
        if block.end != self._position:
            self._save(block.end)
            self.capture.acknowledge(block.end)
        elif self.clock() - self._beat >= HEARTBEAT_SECONDS:
            self.capture.heartbeat()
            self._beat = self.clock()
        self.report.blocks += 1
        self.report.changes += block.count
        self.report.position = self._position
        return block.count

    def _apply(self, block: ChangeBlock) -> None:
        last = {c.table: i for i, c in enumerate(block.changes)}
        for index, changes in enumerate(block.changes):
            target = self.targets.get(changes.table)
            if target is None:
                continue  # a table the publication still carries but the source no longer lists
            end = block.end if last[changes.table] == index else _newest(changes)
            result = apply_changes(self.lake, target, changes, end, contract=self.contract)
            if result is not None:
                self.report.commits += int(result.changed)
                self.report.tables[target] = (
                    self.report.tables.get(target, 0) + changes.rows.num_rows
                )

    def run(self, *, once: bool = False, stop: threading.Event | None = None) -> CaptureReport:
        """Snapshot if needed, then apply changes until ``stop`` (``once``: until a read
        returns nothing)."""
        stop = stop or threading.Event()
        started = self.clock()
        self.start()
        while not stop.is_set():
            read = self.step()
            if once and read == 0:
                break
        self.report.seconds = self.clock() - started
        return self.report

    def _saved(self) -> str | None:
        points = self.store.checkpoints(self.consumer, self.source)
        return next((p.sequence for p in points if p.shard == POSITION_SHARD), None)

    def _save(self, position: str) -> None:
        self.store.save_checkpoint(self.consumer, self.source, POSITION_SHARD, position)
        self._position = position


def _newest(changes: TableChanges) -> str:
    """The position of the newest transaction among ``changes``."""
    distinct = pc.unique(changes.rows.column(POSITION)).to_pylist()
    return max(distinct, key=sort_key)
