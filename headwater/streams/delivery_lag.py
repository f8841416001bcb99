"""How far each stream consumer (delivery or processor) is behind, per stream and shard, from
the checkpoints in the metadata store and the shards' newest sequence numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from headwater.errors import StreamError

if TYPE_CHECKING:
    from headwater.state import Store
    from headwater.streams.hub import Streams

ERRORS = "/errors"  # a delivery's error counts are kept under its consumer id + this


@dataclass(frozen=True)
class Lag:
    """One consumer's place in one shard."""

    consumer: str
    stream: str
    shard: str
    sequence: str  # the last one it finished
    records_behind: int | None  # None: the backend cannot count them
    ms_behind: int
    last_delivery: datetime
    delivered: int
    errors: int


def stream_lag(streams: Streams, store: Store, consumer: str | None = None) -> list[Lag]:
    """Every consumer's lag per stream and shard (only ``consumer``'s when given)."""
    points = store.checkpoints()
    errors = {
        (c.consumer.removesuffix(ERRORS), c.stream, c.shard): c.records
        for c in points
        if c.consumer.endswith(ERRORS)
    }
    # a shard's newest sequence per stream, where sequences count records (the embedded log
    # numbers them one by one; NATS, Redis and Kinesis numbers have gaps)
    tips: dict[str, dict[str, str | None] | None] = {}
    out = []
    for c in points:
        if c.consumer.endswith(ERRORS) or (consumer is not None and c.consumer != consumer):
            continue
        if c.stream not in tips:
            try:
                info = streams.describe(c.stream)
            except StreamError:
                tips[c.stream] = {}
            else:
                counted = info.backend == "embedded"
                tips[c.stream] = {s.shard.id: s.last for s in info.shards} if counted else None
        shard_tips = tips[c.stream]
        out.append(
            Lag(
                consumer=c.consumer,
                stream=c.stream,
                shard=c.shard,
                sequence=c.sequence,
                records_behind=None
                if shard_tips is None
                else _behind(shard_tips.get(c.shard), c.sequence),
                ms_behind=c.behind_ms,
                last_delivery=c.updated_at,
                delivered=c.records,
                errors=errors.get((c.consumer, c.stream, c.shard), 0),
            )
        )
    return out


def _behind(last: str | None, done: str) -> int | None:
    if last is None:
        return 0
    if last.isdigit() and done.isdigit():
        return max(0, int(last) - int(done))
    return None


@dataclass(frozen=True)
class Rate:
    """Records per second over a measured interval: put into a shard (``put``; None when the
    backend cannot count a shard's records) and finished by one consumer (``done``)."""

    consumer: str
    stream: str
    shard: str
    put: float | None
    done: float


def shard_counts(streams: Streams, names: set[str]) -> dict[tuple[str, str], int | None]:
    """Each shard's record count now, for ``names`` (None where the backend cannot tell)."""
    counts: dict[tuple[str, str], int | None] = {}
    for name in names:
        try:
            info = streams.describe(name)
        except StreamError:
            continue
        for state in info.shards:
            counts[(name, state.shard.id)] = state.records
    return counts


def rates(
    before: list[Lag],
    after: list[Lag],
    counts_before: dict[tuple[str, str], int | None],
    counts_after: dict[tuple[str, str], int | None],
    seconds: float,
) -> list[Rate]:
    """The throughput between two samples ``seconds`` apart (see :class:`Rate`)."""
    done_before = {(r.consumer, r.stream, r.shard): r.delivered for r in before}
    out = []
    for r in after:
        key = (r.stream, r.shard)
        first, last = counts_before.get(key), counts_after.get(key)
        put = None if first is None or last is None else max(0, last - first) / seconds
        # retention may drop records meanwhile: a count that shrank says nothing of puts
        if first is not None and last is not None and last < first:
            put = None
        done = (
            r.delivered - done_before.get((r.consumer, r.stream, r.shard), r.delivered)
        ) / seconds
        out.append(Rate(r.consumer, r.stream, r.shard, put, max(0.0, done)))
    return out
