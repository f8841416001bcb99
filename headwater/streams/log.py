"""The one interface every stream backend implements (the embedded log, NATS JetStream, Redis
Streams, Kinesis): create and delete streams, put records, read a shard from a position.

A backend is a small adapter: the processors, the deliveries, the Kinesis-compatible API and
the CLI only ever speak to this Protocol, so a new broker is one new module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from headwater.streams.records import Batch, Entry, Position, Put
from headwater.streams.sharding import Shard


@dataclass(frozen=True, slots=True)
class Retention:
    """How long and how much a stream keeps: records older than ``hours``, and the oldest
    records beyond ``bytes`` (None: no size limit), are dropped."""

    hours: float = 24.0
    bytes: int | None = None


@dataclass(frozen=True, slots=True)
class ShardState:
    """A shard and the sequence numbers it holds now (``first`` None: it holds none)."""

    shard: Shard
    first: str | None
    last: str | None
    records: int | None = None  # how many it holds, when the backend knows cheaply


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a backend knows of one stream."""

    name: str
    backend: str  # embedded, nats, redis, kinesis
    shards: tuple[ShardState, ...]
    retention: Retention
    created_ms: int
    bytes: int | None = None  # on storage, when the backend knows cheaply

    @property
    def records(self) -> int | None:
        counts = [s.records for s in self.shards]
        return None if any(c is None for c in counts) else sum(c or 0 for c in counts)


class StreamLog(Protocol):
    """A backend holding streams (see the module docstring)."""

    kind: str  # embedded, nats, redis, kinesis

    def create(self, name: str, shards: int, retention: Retention) -> None:
        """Create a stream; :class:`~headwater.errors.StreamExists` when it exists."""
        ...

    def delete(self, name: str) -> None:
        """Delete a stream and its records; :class:`~headwater.errors.StreamNotFound` when none."""
        ...

    def names(self) -> list[str]:
        """The streams this backend holds, sorted."""
        ...

    def describe(self, name: str) -> StreamInfo: ...

    def put(self, name: str, entries: Sequence[Entry]) -> list[Put]:
        """Append records, each to the shard its key picks; one :class:`Put` per entry, in
        order. A put that returns is durable as the backend promises (the embedded log: it
        survives the process being killed)."""
        ...

    def read(
        self, name: str, shard: str, position: Position, limit: int, wait: float = 0.0
    ) -> Batch:
        """Up to ``limit`` records of one shard from ``position``, waiting up to ``wait``
        seconds for the first one when none is there yet."""
        ...

    def close(self) -> None: ...
