"""The values every stream backend speaks: a record to put, a record read, where to read from."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

MAX_RECORD_BYTES = 1 << 20  # a record's data, as Kinesis takes it (1 MiB)
MAX_KEY_CHARS = 256  # a partition key, as Kinesis takes it


@dataclass(frozen=True, slots=True)
class Entry:
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


@dataclass(frozen=True, slots=True)
class Put:
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
