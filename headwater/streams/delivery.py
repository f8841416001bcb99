"""A delivery worker: reads the shards it leases, buffers their records, and flushes them into
the delivery's table or files when the buffer's size or interval hint is reached.

One worker is one thread of work: it reads, then flushes while it reads nothing more, so the
buffer never holds much more than ``buffer.mb`` (back-pressure: the log keeps what is not read
yet). Several workers of one delivery — threads or processes, on any machine sharing the
metadata store — split the stream's shards through leases (:mod:`headwater.state.consumers`).

Exactly once: a worker resumes each shard after the last sequence its destination holds (a
table's properties, or the store for files, see :mod:`.delivery_table` and
:mod:`.delivery_files`); what it read but did not flush before a crash is read again. A worker
renews its leases at a third of their time to live and again before a flush that comes later
than that, so a flush always starts with most of its lease ahead: another worker takes a shard
only after the lease expired, and then reads it from the position the last flush published.
A shard whose lease expired and was taken again (a new epoch) is read again from there too.

Running without end, a worker waits out a broker that went away
(:class:`~headwater.errors.StreamUnavailable`) with the retry policy's backoff and goes on
where it was; running ``once`` (a task), it fails and the task's retries decide.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from headwater.errors import StreamError, StreamUnavailable
from headwater.project.deliveries import DeliveryConfig
from headwater.state.consumers import LeaseLost
from headwater.streams.delivery_buffer import (
    Buffered,
    Part,
    data_bytes,
    last_sequence,
    sequence_key,
    upto,
)
from headwater.streams.delivery_lag import ERRORS
from headwater.streams.delivery_table import Flushed, TableSink
from headwater.streams.records import LATEST, TRIM_HORIZON, Batch, Block, Position

if TYPE_CHECKING:
    from headwater.lake.catalog import Lake
    from headwater.project import Project
    from headwater.state import Store
    from headwater.streams.delivery_files import FilesSink
    from headwater.streams.hub import Streams

log = logging.getLogger("headwater.streams")

READ_LIMIT = 10_000  # records asked for in one read of a shard
IDLE = 0.05  # seconds a worker waits when no shard had anything new


def consumer_id(delivery: str) -> str:
    """The consumer a delivery's leases and checkpoints are kept under."""
    return f"delivery:{delivery}"


@dataclass
class DeliveryReport:
    """What a delivery worker did."""

    delivery: str
    records_read: int = 0
    records_written: int = 0
    errors: int = 0
    files: int = 0
    snapshots: int = 0
    flushes: int = 0
    behind_ms: int = 0
    shards: tuple[str, ...] = ()
    per_shard: dict[str, int] = field(default_factory=dict)  # records written


class DeliveryWorker:
    """One worker of one delivery (see the module docstring)."""

    def __init__(
        self,
        project: Project,
        streams: Streams,
        lake: Lake,
        store: Store,
        name: str,
        *,
        owner: str | None = None,
        lease_seconds: float | None = None,
        read_limit: int = READ_LIMIT,
    ) -> None:
        config = project.config.deliveries.get(name)
        if config is None:
            from headwater.errors import did_you_mean

            known = sorted(project.config.deliveries)
            raise StreamError(
                f"no delivery `{name}` in {project.file.name}{did_you_mean(name, known)}",
                hint="declare it under `deliveries:`"
                + (f" (there are: {', '.join(known)})" if known else ""),
            )
        self.config: DeliveryConfig = config
        self.name = name
        self.stream = config.stream
        self.streams = streams
        self.store = store
        self.consumer = consumer_id(name)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds or config.lease_seconds
        self.read_limit = read_limit
        self.sink: TableSink | FilesSink
        if config.table is not None:
            self.sink = TableSink(lake, name, config, _declared(name, config))
        else:
            from headwater.streams.delivery_files import FilesSink

            self.sink = FilesSink(project, store, name, self.consumer, config)
        self.report = DeliveryReport(name)
        self.held: dict[str, int] = {}  # shard → lease epoch
        self.position: dict[str, Position] = {}
        self.buffer: dict[str, Buffered] = {}
        self.buffered_bytes = 0
        self.behind: dict[str, int] = {}
        self.cut: dict[str, str] = {}  # shard → last sequence of a range to replay as it was
        self.claimed_at = 0.0
        self.first_buffered_at: float | None = None

    # -- leases ---------------------------------------------------------------------------

    def claim(self) -> None:
        """Renew this worker's leases and take its share; forget the shards it lost."""
        shards = self.streams.shards(self.stream)
        held = self.store.claim_shards(
            self.consumer, self.stream, shards, self.owner, self.lease_seconds
        )
        self.claimed_at = time.monotonic()
        for shard in [s for s in self.held if held.get(s) != self.held[s]]:
            self._forget(shard)  # lost, or expired and taken again: others may have delivered
        gained = [s for s in held if s not in self.held]
        self.held = dict(held)
        if gained:
            positions = self.sink.positions()
            for shard in gained:
                done = positions.get(shard)
                start = TRIM_HORIZON if self.config.start == "trim_horizon" else LATEST
                self.position[shard] = Position.after(done) if done is not None else start
                pending = self.sink.pending(shard)
                if pending is not None and (
                    done is None or sequence_key(pending[1]) > sequence_key(done)
                ):
                    self.cut[shard] = pending[1]  # a flush begun and not finished: redo it
        self.report.shards = tuple(sorted(self.held))

    def _forget(self, shard: str) -> None:
        dropped = self.buffer.pop(shard, Buffered())
        self.buffered_bytes -= dropped.data_bytes
        self.report.records_read -= len(dropped)
        for table in (self.held, self.position, self.cut, self.behind):
            table.pop(shard, None)

    def release(self) -> None:
        self.store.release_shards(self.consumer, self.stream, self.owner)
        self.held = {}

    # -- reading and flushing -------------------------------------------------------------

    def read_round(self) -> tuple[int, bool]:
        """Read each held shard once (until the buffer is full); returns the records read and
        whether every shard was caught up."""
        read, caught_up = 0, True
        limit_bytes = self.config.buffer.mb * (1 << 20)
        for shard in sorted(self.held):
            if self.buffered_bytes >= limit_bytes and not self.cut:
                return read, False
            self._renew()  # reads of a busy broker can outlast a lease
            if shard not in self.held:
                continue  # lost to another worker meanwhile
            cut = self.cut.get(shard)
            if cut is not None and shard in self.buffer and self.buffer[shard].last_sequence == cut:
                continue  # the range to redo is in: it is flushed on its own
            fetched, following, behind_ms = self._read(shard)
            part = fetched
            if cut is not None:
                part = upto(fetched, cut)
                if len(part) < len(fetched) or (len(part) and last_sequence(part) == cut):
                    self.position[shard] = Position.after(cut)
                    caught_up = caught_up and len(part) == len(fetched)
                else:
                    self.position[shard] = following
                if not len(fetched):
                    self.cut.pop(shard)  # the range is gone (retention): nothing to redo
            else:
                self.position[shard] = following
            self.behind[shard] = behind_ms
            if len(part):
                self.buffer.setdefault(shard, Buffered()).append(part)
                self.buffered_bytes += data_bytes(part)
                read += len(part)
                self.report.records_read += len(part)  # a later shard's read may fail
                if self.first_buffered_at is None:
                    self.first_buffered_at = time.monotonic()
            if len(fetched) and (len(fetched) >= self.read_limit or behind_ms):
                caught_up = False
        return read, caught_up

    def _read(self, shard: str) -> tuple[Part, Position, int]:
        """One read of ``shard``: batch-shaped where the backend reads so (the embedded log,
        Redis Streams)."""
        backend = self.streams.ensure(self.stream)
        position = self.position[shard]
        read_block = getattr(backend, "read_block", None)
        if read_block is not None:
            block: Block = read_block(self.stream, shard, position, self.read_limit)
            return block, block.next, block.behind_ms
        batch: Batch = backend.read(self.stream, shard, position, self.read_limit)
        return batch.records, batch.next, batch.behind_ms

    def due(self) -> bool:
        """True when the buffer is to be flushed: a hint is reached, or a range is redone."""
        if self.cut:
            return all(
                s in self.buffer and self.buffer[s].last_sequence == last
                for s, last in self.cut.items()
            )
        if self.first_buffered_at is None:
            return False
        if self.buffered_bytes >= self.config.buffer.mb * (1 << 20):
            return True
        return time.monotonic() - self.first_buffered_at >= self.config.buffer.seconds

    def flush(self) -> Flushed | None:
        """Deliver what is buffered, then move the store's checkpoints."""
        if time.monotonic() - self.claimed_at > self.lease_seconds / 3:
            self.claim()  # a flush starts with most of its leases ahead (module docstring)
        buffered = {s: recs for s, recs in self.buffer.items() if recs and s in self.held}
        if not buffered:
            self.first_buffered_at = None
            return None
        done = self.sink.flush(buffered)
        # Arrow's allocator keeps freed pages for reuse; handed back after each flush, the
        # worker's memory is what one flush needs, not the most any flush of its life needed
        pa.default_memory_pool().release_unused()
        self.report.flushes += 1
        self.report.files += done.files
        self.report.snapshots += done.snapshots
        for shard, records in buffered.items():
            rows, errors = done.rows.get(shard, 0), done.errors.get(shard, 0)
            self.report.records_written += rows
            self.report.errors += errors
            self.report.per_shard[shard] = self.report.per_shard.get(shard, 0) + rows
            try:
                self.store.save_checkpoint(
                    self.consumer,
                    self.stream,
                    shard,
                    records.last_sequence,
                    owner=self.owner,
                    epoch=self.held[shard],
                    behind_ms=self.behind.get(shard, 0),
                    records=rows,
                )
                if errors:
                    self.store.save_checkpoint(
                        f"{self.consumer}{ERRORS}",
                        self.stream,
                        shard,
                        records.last_sequence,
                        records=errors,
                    )
            except LeaseLost:
                log.warning("delivery %s lost shard %s to another worker", self.name, shard)
                self._forget(shard)
            self.cut.pop(shard, None)
        self.buffer = {s: r for s, r in self.buffer.items() if s not in buffered}
        self.buffered_bytes = sum(b.data_bytes for b in self.buffer.values())
        self.first_buffered_at = None
        self.report.behind_ms = max(self.behind.values(), default=0)
        return done

    # -- running --------------------------------------------------------------------------

    def _step(self) -> tuple[int, bool]:
        """Renew the leases when due, read each shard once, flush when due."""
        self._renew()
        read, caught_up = self.read_round()
        if self.due():
            self._renew()  # a slow round must not let the leases lapse before the flush
            self.flush()
        return read, caught_up

    def _renew(self) -> None:
        """Renew the leases when a third of their time has passed since the last renewal."""
        if time.monotonic() - self.claimed_at > self.lease_seconds / 3:
            self.claim()

    def _waiting_out_outages(self, stop: threading.Event) -> Callable[[], tuple[int, bool]]:
        """:meth:`_step`, tried again with backoff while the broker is unavailable (until
        ``stop``). A failed step changed nothing that a later one relies on: a shard's position
        moves with its records, and a flush starts after the broker calls it makes."""
        from headwater.retry import until_stopped

        def waiting(error: BaseException | None, seconds: float) -> None:
            log.warning("delivery %s: %s; trying again in %.1f s", self.name, error, seconds)

        retrying = until_stopped(stop, StreamUnavailable, waiting)
        return lambda: retrying(self._step)

    def run(
        self,
        *,
        once: bool = False,
        stop: threading.Event | None = None,
        on_progress: Callable[[DeliveryReport], None] | None = None,
    ) -> DeliveryReport:
        """Deliver until ``stop`` is set (or, ``once``, until every shard is caught up), then
        flush what is buffered and give the leases back."""
        stop = stop or threading.Event()
        self.streams.require([self.stream])
        self.claim()
        step = self._step if once else self._waiting_out_outages(stop)
        try:
            while not stop.is_set():
                try:
                    read, caught_up = step()
                except StreamUnavailable:
                    if not stop.is_set():
                        raise
                    break  # stopped while the broker was away: flush what is buffered
                if on_progress is not None:
                    on_progress(self.report)
                if once and caught_up and not self.cut:
                    break
                if not read:
                    stop.wait(IDLE)
            self.flush()
        finally:
            self.release()
        if on_progress is not None:
            on_progress(self.report)
        return self.report


def _declared(name: str, config: DeliveryConfig) -> pa.Schema | None:
    """The declared columns in Arrow types (DuckDB names them), or None to infer them."""
    if not config.schema_:
        return None
    import duckdb

    from headwater.connect.sql.quoting import ident
    from headwater.lake.arrow_types import storable_schema

    columns = ", ".join(
        f"NULL::{kind} AS {ident(column)}" for column, kind in config.schema_.items()
    )
    try:
        schema = duckdb.sql(f"SELECT {columns} LIMIT 0").arrow().schema
    except duckdb.Error as exc:
        raise StreamError(
            f"delivery `{name}`: a type in `schema` is not a DuckDB type "
            f"({str(exc).splitlines()[0]})",
            hint="use DuckDB's names: BIGINT, DOUBLE, VARCHAR, BOOLEAN, TIMESTAMP, DATE, …",
        ) from exc
    return storable_schema(schema)
