"""One worker of a processor: it holds its fair share of the input's shards (leases in the
metadata store), and for each shard reads a micro-batch, puts what the transform made of it,
then saves the shard's checkpoint.

Exactly once, end to end: the outputs are put before the checkpoint moves, so a worker killed
between the two replays the batch from the checkpoint on restart, and the backend drops the
outputs it took already (their ids are the same). A checkpoint is saved only under the lease
it was read under (fenced by its epoch): a worker that was too slow to renew, and whose shard
another worker took over, loses the shard instead of moving the other one's position. A
failure the broker may recover from (:class:`~headwater.errors.TransientError`) sends the
shard back to its checkpoint, and the batch is tried again after a pause. A running worker
waits out a broker outage: the shard's state is read again from the broker only when its
pause is over, and while the broker is still away the pause grows (up to
``MAX_RETRY_PAUSE``); a lease renewal the broker does not answer is tried again after a
pause too. With ``once`` (a pipeline step that drains what is pending) the outage fails the
step instead, and the step's own retries decide.

A windowed processor checkpoints the sequence just before its oldest open window's records,
not the batch's last one, so the replay after a restart rebuilds the open windows
(:mod:`headwater.streams.processor_window`); each shard is told where it is read from when it
is taken. With ``once`` and ``flush_windows``, a shard's open windows are emitted when it has
been read to the end.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.errors import StreamUnavailable, TransientError
from headwater.state.consumers import LeaseLost
from headwater.streams.delivery_lag import ERRORS
from headwater.streams.processor_report import ProcessorReport
from headwater.streams.records import LATEST, TRIM_HORIZON, Entry, Position

if TYPE_CHECKING:
    from headwater.state import Store
    from headwater.streams.hub import Streams
    from headwater.streams.processor import Prepared, Processor

log = logging.getLogger("headwater.streams.processor")

RETRY_PAUSE = 1.0  # seconds before a shard whose batch failed transiently is read again
MAX_RETRY_PAUSE = 30.0  # the longest pause while the broker stays away (doubling from above)


def new_owner() -> str:
    """A worker's name in the leases: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class _Shard:
    epoch: int
    position: Position
    until: int | None = None  # --once: the newest sequence when the shard was taken
    done: bool = False  # --once: read up to ``until``
    paused_until: float = 0.0
    failures: int = 0  # transient failures in a row
    stale: bool = False  # its state must be read again from the broker before the next batch


@dataclass
class Worker:
    """One worker of ``processor`` (see the module docstring)."""

    processor: Processor
    streams: Streams
    store: Store
    once: bool = False
    flush_windows: bool = False
    owner: str = field(default_factory=new_owner)
    clock: Callable[[], float] = time.monotonic
    held: dict[str, _Shard] = field(default_factory=dict)
    report: ProcessorReport = field(init=False)
    _claimed_at: float = field(default=float("-inf"), init=False)
    _started: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.report = ProcessorReport(self.processor.name, self.processor.stream)
        self._started = self.clock()

    @property
    def ttl(self) -> float:
        return self.processor.config.lease_ttl

    @property
    def finished(self) -> bool:
        """--once: every held shard read up to where it ended when taken."""
        return self.once and all(s.done for s in self.held.values())

    def claim(self) -> None:
        """Renew the leases, take the fair share, forget the shards given up or lost."""
        p = self.processor
        shards = self.streams.shards(p.stream)
        epochs = self.store.claim_shards(p.consumer, p.stream, shards, self.owner, self.ttl)
        self._claimed_at = self.clock()
        for shard in [s for s in self.held if s not in epochs]:
            del self.held[shard]
            p.forget(shard)
        for shard, epoch in epochs.items():
            mine = self.held.get(shard)
            if mine is not None and mine.epoch == epoch:
                continue
            self.held[shard] = self._taken(shard, epoch)
        self.report.shards = tuple(sorted(self.held))

    def _taken(self, shard: str, epoch: int) -> _Shard:
        """A shard just taken: from its checkpoint, else from the processor's start."""
        p = self.processor
        points = {c.shard: c for c in self.store.checkpoints(p.consumer, p.stream)}
        state = next(s for s in self.streams.describe(p.stream).shards if s.shard.id == shard)
        newest = None if state.last is None else int(state.last)
        after: str | None = None
        if shard in points:
            after = points[shard].sequence
            position = Position.after(after)
            done_already = newest is None or int(after) >= newest
        elif p.config.start == "latest" and state.last is not None:
            # pinned at once, so a restart before the first batch starts from here too
            self.store.save_checkpoint(
                p.consumer, p.stream, shard, state.last, owner=self.owner, epoch=epoch
            )
            after = state.last
            position, done_already = Position.after(state.last), True
        else:
            position = TRIM_HORIZON if p.config.start == "trim_horizon" else LATEST
            done_already = newest is None
        p.restart(shard, after)
        return _Shard(epoch, position, until=newest, done=self.once and done_already)

    def step(self) -> int:
        """Renew the leases when due, then one micro-batch of each held shard; returns the
        records read."""
        if self.clock() - self._claimed_at >= self.ttl / 3:
            self._renew()
        read = 0
        for shard in list(self.held):
            mine = self.held.get(shard)
            if mine is None or mine.done or mine.paused_until > self.clock():
                continue
            try:
                if mine.stale:
                    mine = self._retaken(shard, mine)
                read += self._batch(shard, mine)
                mine.failures = 0
            except LeaseLost:
                log.info("%s: shard %s was taken over", self.processor.name, shard)
                self.held.pop(shard, None)
                self.processor.forget(shard)
                self.report.lost_leases += 1
            except TransientError as exc:
                self._failed(shard, mine, exc)
        self.report.seconds = self.clock() - self._started
        self.report.shards = tuple(sorted(self.held))
        return read

    def _renew(self) -> None:
        try:
            self.claim()
        except TransientError as exc:
            if self.once:
                raise
            log.warning(
                "%s: renewing the leases: %s; trying again in %.1f s",
                self.processor.name,
                exc,
                RETRY_PAUSE,
            )
            self._claimed_at = self.clock() - self.ttl / 3 + RETRY_PAUSE

    def _retaken(self, shard: str, mine: _Shard) -> _Shard:
        """The shard from its checkpoint again, after a failed batch."""
        again = self._taken(shard, mine.epoch)
        again.failures = mine.failures
        self.held[shard] = again
        return again

    def _failed(self, shard: str, mine: _Shard, exc: TransientError) -> None:
        """Back to the checkpoint after a pause (growing while the broker stays away)."""
        mine.failures += 1
        pause = min(RETRY_PAUSE * 2 ** (mine.failures - 1), MAX_RETRY_PAUSE)
        log.warning(
            "%s: shard %s: %s; trying again in %.1f s", self.processor.name, shard, exc, pause
        )
        if self.once:  # fail the step now if the broker is away (its retries decide)
            mine = self._retaken(shard, mine)
        else:
            mine.stale = True
        mine.paused_until = self.clock() + pause

    def _batch(self, shard: str, mine: _Shard) -> int:
        p = self.processor
        batch = self.streams.read(p.stream, shard, mine.position, p.config.batch_records)
        if not batch.records:
            mine.done = self.once
            if mine.done:
                self._flush(shard, mine, batch.behind_ms)
            return 0
        prepared = p.prepare(shard, batch.records)
        self._commit(shard, mine, prepared, batch.behind_ms, len(batch.records))
        mine.position = batch.next
        last = batch.records[-1]
        if self.once and (mine.until is None or int(last.sequence) >= mine.until):
            mine.done = True
            self._flush(shard, mine, batch.behind_ms)
        self.report.records_in += len(batch.records)
        self.report.batches += 1
        return len(batch.records)

    def _commit(
        self, shard: str, mine: _Shard, prepared: Prepared, behind_ms: int, records: int
    ) -> None:
        """Put what a batch made, then save the shard's checkpoint (when there is one)."""
        p = self.processor
        for stream, entries in prepared.entries.items():
            self._put(stream, entries)
        if prepared.checkpoint is not None:
            self.store.save_checkpoint(
                p.consumer,
                p.stream,
                shard,
                prepared.checkpoint,
                owner=self.owner,
                epoch=mine.epoch,
                behind_ms=behind_ms,
                records=records,
            )
            if prepared.errors:  # counted for `headwater stream lag`, as deliveries do
                self.store.save_checkpoint(
                    f"{p.consumer}{ERRORS}",
                    p.stream,
                    shard,
                    prepared.checkpoint,
                    records=prepared.errors,
                )
        r = self.report
        r.errors += prepared.errors
        r.late += prepared.late
        r.dropped += prepared.dropped
        r.unrouted += prepared.unrouted
        for stream, count in prepared.outputs.items():
            r.outputs[stream] = r.outputs.get(stream, 0) + count

    def _flush(self, shard: str, mine: _Shard, behind_ms: int) -> None:
        """--once --flush-windows: the shard is read to the end; emit its open windows."""
        if self.flush_windows and self.processor.windows is not None:
            self._commit(shard, mine, self.processor.flush(shard), behind_ms, 0)

    def _put(self, stream: str, entries: Sequence[Entry]) -> None:
        results = self.streams.put(stream, entries)
        failed = [r for r in results if not r.ok]
        if failed:
            raise StreamUnavailable(
                f"{len(failed):,} of {len(entries):,} records were not taken by `{stream}`: "
                f"{failed[0].error}: {failed[0].message}",
                stream=stream,
            )

    def release(self) -> None:
        """Give the shards back at once (a graceful stop): others need not wait for expiry."""
        p = self.processor
        self.store.release_shards(p.consumer, p.stream, self.owner)
        self.held.clear()
