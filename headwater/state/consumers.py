"""What stream consumers keep in the metadata store: which worker holds which shard (leases),
and the position each consumer has finished in each shard (checkpoints).

Several workers of one processor or delivery share a stream's shards: each takes its fair
share of the free or expired leases and renews them while it runs; a worker that dies stops
renewing, and the others take its shards over when its leases expire. A lease carries an
epoch that grows at each take-over, and a checkpoint is written only by the worker holding
the lease at that epoch (a compare-and-set), so a worker that lost its shard cannot move the
position of the one that took it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from headwater.errors import StreamError
from headwater.state import schema


class LeaseLost(StreamError):
    """Another worker took this shard over (this one was too slow to renew its lease)."""


@dataclass(frozen=True)
class Checkpoint:
    consumer: str
    stream: str
    shard: str
    sequence: str
    behind_ms: int
    records: int
    updated_at: datetime


def _now_dt() -> datetime:
    from headwater.state.store import now

    return now()


class ConsumerState:
    """Mixed into :class:`headwater.state.Store`."""

    engine: sa.Engine
    _write: threading.Lock

    def claim_shards(
        self, consumer: str, stream: str, shards: Sequence[str], owner: str, ttl: float
    ) -> dict[str, int]:
        """Renew ``owner``'s leases and take free or expired ones up to its fair share of
        ``shards``; returns the shards it holds, each with its lease's epoch."""
        leases = schema.stream_leases
        now = time.time()
        with self._write, self.engine.begin() as conn:
            # the member rows of workers that died without releasing (see release_shards)
            conn.execute(
                sa.delete(leases).where(
                    leases.c.consumer == consumer,
                    leases.c.stream == stream,
                    leases.c.shard.startswith("@"),
                    leases.c.expires_at < now,
                )
            )
            rows = conn.execute(
                sa.select(
                    leases.c.shard, leases.c.owner, leases.c.expires_at, leases.c.epoch
                ).where(leases.c.consumer == consumer, leases.c.stream == stream)
            ).all()
            # every worker keeps a member row ("@owner") alive, holding shards or not, so the
            # others know how many share the stream
            member = f"@{owner}"
            refreshed = conn.execute(
                sa.update(leases)
                .where(
                    leases.c.consumer == consumer,
                    leases.c.stream == stream,
                    leases.c.shard == member,
                )
                .values(owner=owner, expires_at=now + ttl)
            )
            if refreshed.rowcount == 0:
                conn.execute(
                    sa.insert(leases).values(
                        consumer=consumer,
                        stream=stream,
                        shard=member,
                        owner=owner,
                        expires_at=now + ttl,
                        epoch=0,
                    )
                )
            current = {r.shard: r for r in rows if not r.shard.startswith("@")}
            live_owners = {r.owner for r in rows if r.expires_at > now} | {owner}
            share = math.ceil(len(shards) / len(live_owners))
            mine = {
                s: current[s].epoch
                for s in shards
                if s in current and current[s].owner == owner and current[s].expires_at > now
            }
            for shard in shards:
                if len(mine) >= share:
                    break
                if shard in mine:
                    continue
                row = current.get(shard)
                if row is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                sa.insert(leases).values(
                                    consumer=consumer,
                                    stream=stream,
                                    shard=shard,
                                    owner=owner,
                                    expires_at=now + ttl,
                                    epoch=1,
                                )
                            )
                    except sa.exc.IntegrityError:
                        continue  # another worker took it first
                    mine[shard] = 1
                elif row.expires_at <= now or row.owner == owner:
                    taken = conn.execute(
                        sa.update(leases)
                        .where(
                            leases.c.consumer == consumer,
                            leases.c.stream == stream,
                            leases.c.shard == shard,
                            leases.c.epoch == row.epoch,
                        )
                        .values(owner=owner, expires_at=now + ttl, epoch=row.epoch + 1)
                    )
                    if taken.rowcount == 1:
                        mine[shard] = row.epoch + 1
            # more than a fair share (others joined): give back the surplus
            for shard in sorted(mine)[share:]:
                conn.execute(
                    sa.update(leases)
                    .where(
                        leases.c.consumer == consumer,
                        leases.c.stream == stream,
                        leases.c.shard == shard,
                        leases.c.owner == owner,
                    )
                    .values(expires_at=0.0)
                )
                del mine[shard]
            if mine:
                conn.execute(
                    sa.update(leases)
                    .where(
                        leases.c.consumer == consumer,
                        leases.c.stream == stream,
                        leases.c.owner == owner,
                        leases.c.shard.in_(list(mine)),
                    )
                    .values(expires_at=now + ttl)
                )
        return mine

    def release_shards(self, consumer: str, stream: str, owner: str) -> None:
        """Give up ``owner``'s leases at once (a graceful stop), so others need not wait."""
        leases = schema.stream_leases
        with self._write, self.engine.begin() as conn:
            conn.execute(
                sa.update(leases)
                .where(
                    leases.c.consumer == consumer,
                    leases.c.stream == stream,
                    leases.c.owner == owner,
                )
                .values(expires_at=0.0)
            )
            # a worker's member row goes with it: owners are new at each start, so kept rows
            # would pile up with every run of a scheduled delivery or processor
            conn.execute(
                sa.delete(leases).where(
                    leases.c.consumer == consumer,
                    leases.c.stream == stream,
                    leases.c.shard == f"@{owner}",
                )
            )

    def save_checkpoint(
        self,
        consumer: str,
        stream: str,
        shard: str,
        sequence: str,
        *,
        owner: str | None = None,
        epoch: int | None = None,
        behind_ms: int = 0,
        records: int = 0,
    ) -> None:
        """Record that ``consumer`` finished ``shard`` up to ``sequence`` (and added
        ``records`` more); with ``owner``/``epoch``, only while that lease is still held."""
        leases, points = schema.stream_leases, schema.stream_checkpoints
        key = {"consumer": consumer, "stream": stream, "shard": shard}
        with self._write, self.engine.begin() as conn:
            if owner is not None:
                held = conn.execute(
                    sa.select(leases.c.epoch).where(
                        leases.c.consumer == consumer,
                        leases.c.stream == stream,
                        leases.c.shard == shard,
                        leases.c.owner == owner,
                        leases.c.epoch == epoch,
                    )
                ).first()
                if held is None:
                    raise LeaseLost(
                        f"`{consumer}` lost shard {shard} of `{stream}` to another worker",
                        stream=stream,
                        hint="nothing to do: that worker goes on from the last checkpoint",
                    )
            updated = conn.execute(
                sa.update(points)
                .where(*(getattr(points.c, k) == v for k, v in key.items()))
                .values(
                    sequence=sequence,
                    behind_ms=behind_ms,
                    records=points.c.records + records,
                    updated_at=_now_dt(),
                )
            )
            if updated.rowcount == 0:
                conn.execute(
                    sa.insert(points).values(
                        **key,
                        sequence=sequence,
                        behind_ms=behind_ms,
                        records=records,
                        updated_at=_now_dt(),
                    )
                )

    def checkpoints(
        self, consumer: str | None = None, stream: str | None = None
    ) -> list[Checkpoint]:
        points = schema.stream_checkpoints
        query = sa.select(points).order_by(points.c.consumer, points.c.stream, points.c.shard)
        if consumer is not None:
            query = query.where(points.c.consumer == consumer)
        if stream is not None:
            query = query.where(points.c.stream == stream)
        with self.engine.connect() as conn:
            return [
                Checkpoint(
                    consumer=r.consumer,
                    stream=r.stream,
                    shard=r.shard,
                    sequence=r.sequence,
                    behind_ms=r.behind_ms,
                    records=r.records,
                    updated_at=r.updated_at,
                )
                for r in conn.execute(query)
            ]

    def forget_consumer(self, consumer: str) -> None:
        """Drop a consumer's checkpoints and leases: it starts again from its start position."""
        with self._write, self.engine.begin() as conn:
            for table in (schema.stream_checkpoints, schema.stream_leases):
                conn.execute(sa.delete(table).where(table.c.consumer == consumer))
