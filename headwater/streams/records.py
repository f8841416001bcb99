"""The values every stream backend speaks: a record to put, a record read, where to read from.

A record to put and what became of it (:class:`Entry`, :class:`Put`) are made once per record
by every producer and every put: they are named tuples, which Python makes in one step, where
a frozen dataclass sets each field through ``object.__setattr__`` — measured, twice the cost,
a tenth of a put into the embedded log (see docs/benchmarks.md)."""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, replace
from enum import Enum
from typing import NamedTuple

MAX_RECORD_BYTES = 1 << 20  # a record's data, as Kinesis takes it (1 MiB)
MAX_KEY_CHARS = 256  # a partition key, as Kinesis takes it


class Entry(NamedTuple):
    """A record to put: its data, the key that picks its shard, and an optional id that the
    backend uses to drop a second put of the same record (a producer's retry)."""

    data: bytes
    partition_key: str
    explicit_hash_key: int | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A record read from a shard: ``sequence`` grows within its shard (a decimal string, as
    Kinesis gives it); ``arrived_ms`` is when the log took it (Unix milliseconds)."""

    data: bytes
    partition_key: str
    sequence: str
    arrived_ms: int
    shard: str


class Put(NamedTuple):
    """Where one put record went, or why it did not (``error`` set, ``sequence`` empty)."""

    shard: str = ""
    sequence: str = ""
    error: str | None = None  # ProvisionedThroughputExceededException, InternalFailure, …
    message: str = ""
    duplicate: bool = False  # its id was put before: ``shard``/``sequence`` are of that put

    @property
    def ok(self) -> bool:
        return self.error is None


class Start(Enum):
    """Where a reader starts in a shard (the five kinds of a Kinesis shard iterator)."""

    TRIM_HORIZON = "TRIM_HORIZON"  # the oldest record kept
    LATEST = "LATEST"  # just after the newest record
    AT_SEQUENCE_NUMBER = "AT_SEQUENCE_NUMBER"
    AFTER_SEQUENCE_NUMBER = "AFTER_SEQUENCE_NUMBER"
    AT_TIMESTAMP = "AT_TIMESTAMP"  # the first record that arrived at or after a time


@dataclass(frozen=True, slots=True)
class Position:
    """A place in a shard: a :class:`Start` with its sequence number or timestamp (ms)."""

    start: Start
    sequence: str | None = None
    timestamp_ms: int | None = None

    @staticmethod
    def after(sequence: str) -> Position:
        return Position(Start.AFTER_SEQUENCE_NUMBER, sequence=sequence)

    @staticmethod
    def at(sequence: str) -> Position:
        return Position(Start.AT_SEQUENCE_NUMBER, sequence=sequence)

    def __post_init__(self) -> None:
        needs_sequence = self.start in (Start.AT_SEQUENCE_NUMBER, Start.AFTER_SEQUENCE_NUMBER)
        if needs_sequence and self.sequence is None:
            raise ValueError(f"{self.start.value} needs a sequence number")
        if self.start is Start.AT_TIMESTAMP and self.timestamp_ms is None:
            raise ValueError("AT_TIMESTAMP needs a timestamp")


TRIM_HORIZON = Position(Start.TRIM_HORIZON)
LATEST = Position(Start.LATEST)


@dataclass(frozen=True, slots=True)
class Batch:
    """What one read of a shard returned: its records, the position to read next (concrete:
    never LATEST, so nothing put meanwhile is skipped), and how far behind the shard's newest
    record the last one read is, in milliseconds (0 when caught up)."""

    records: tuple[Record, ...]
    next: Position
    behind_ms: int


FRAME = struct.Struct("<IIQqHH")  # a record's header in the embedded log (see its docstring)
_BLANK = b"\n" + b" " * (FRAME.size + 4 * MAX_KEY_CHARS + 0xFFFF)


class Block:
    """What one batch-shaped read of a shard returned (a backend's optional ``read_block``):
    the records as the backend holds or received them, in a few buffers and arrays — not one
    :class:`Record` each, so a delivery hands their data to the JSON reader without making an
    object per record. Each backend that reads so has its own shape of block: the embedded
    log's :class:`FrameBlock`, Redis Streams' columns (:mod:`headwater.streams.redis_entries`).

    ``frames`` is what a delivery copies into its JSON Lines buffer; after :meth:`blank` of
    that copy, it holds each record's data after a line break (and maybe spaces)."""

    __slots__ = ()
    shard: str
    frames: bytes
    data_bytes: int  # the records' data, in bytes
    next: Position
    behind_ms: int

    def __len__(self) -> int:
        raise NotImplementedError

    def sequence(self, i: int) -> int:
        """Record ``i``'s sequence number (a block's sequences are decimal numbers)."""
        raise NotImplementedError

    def record(self, i: int) -> Record:
        raise NotImplementedError

    def head(self, n: int) -> Block:
        """The first ``n`` records (all of them when ``n`` is not less)."""
        raise NotImplementedError

    @property
    def last_arrived_ms(self) -> int:
        raise NotImplementedError

    @property
    def last_sequence(self) -> str:
        return str(self.sequence(len(self) - 1))

    def records(self) -> tuple[Record, ...]:
        return tuple(self.record(i) for i in range(len(self)))

    def blank(self, into: memoryview, at: int = 0) -> None:
        """Turn a copy of ``frames`` placed at ``at`` of ``into`` into the records' data as
        JSON Lines (when no record holds a line break of its own); nothing to do where the
        frames are that already."""


@dataclass(frozen=True, slots=True)
class FrameBlock(Block):
    """The embedded log's block: ``frames`` holds the records' frames as they are on disk (a
    header, the key, the id, the data; see :mod:`headwater.streams.embedded`); record ``i``'s
    frame begins at ``starts[i]`` and its data at ``bodies[i]``, and ends where the next frame
    begins."""

    shard: str
    frames: bytes
    starts: array[int]
    bodies: array[int]
    data_bytes: int
    next: Position
    behind_ms: int

    def __len__(self) -> int:
        return len(self.starts)

    def _end(self, i: int) -> int:
        return self.starts[i + 1] if i + 1 < len(self.starts) else len(self.frames)

    def sequence(self, i: int) -> int:
        return int(FRAME.unpack_from(self.frames, self.starts[i])[2])

    @property
    def last_arrived_ms(self) -> int:
        return int(FRAME.unpack_from(self.frames, self.starts[-1])[3])

    def record(self, i: int) -> Record:
        start = self.starts[i]
        _, _, seq, arrived, klen, _ = FRAME.unpack_from(self.frames, start)
        key = start + FRAME.size
        return Record(
            data=self.frames[self.bodies[i] : self._end(i)],
            partition_key=self.frames[key : key + klen].decode(),
            sequence=str(seq),
            arrived_ms=arrived,
            shard=self.shard,
        )

    def blank(self, into: memoryview, at: int = 0) -> None:
        """Each frame's header, key and id become a line break and spaces, which the JSON
        reader skips — one assignment per record, no object."""
        for start, body in zip(self.starts, self.bodies, strict=True):
            into[at + start : at + body] = _BLANK[: body - start]

    def head(self, n: int) -> FrameBlock:
        if n >= len(self):
            return self
        size = self.starts[n] if n else 0
        return replace(
            self,
            frames=self.frames[:size],
            starts=self.starts[:n],
            bodies=self.bodies[:n],
            data_bytes=sum(self._end(i) - self.bodies[i] for i in range(n)),
        )
