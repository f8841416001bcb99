"""Which shard takes a record: the MD5 of its partition key, read as a 128-bit integer, falls
in one shard's hash-key range, as Kinesis does it; ``explicit_hash_key`` overrides the hash."""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headwater.streams.records import Entry

HASH_MAX = (1 << 128) - 1


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard of a stream: its id and the inclusive range of hash keys it takes."""

    id: str
    start_hash: int
    end_hash: int


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def even_shards(count: int) -> tuple[Shard, ...]:
    """``count`` shards splitting the hash-key space evenly (as CreateStream does)."""
    if count < 1:
        raise ValueError("a stream has at least one shard")
    step = (HASH_MAX + 1) // count
    return tuple(
        Shard(
            shard_id(i),
            i * step,
            HASH_MAX if i == count - 1 else (i + 1) * step - 1,
        )
        for i in range(count)
    )


def hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


class Router:
    """Picks the shard of each record of a stream with the given shards."""

    def __init__(self, shards: Sequence[Shard]) -> None:
        self.shards = tuple(sorted(shards, key=lambda s: s.start_hash))
        self._starts = [s.start_hash for s in self.shards]
        # the same bounds as 16 big-endian bytes, which order as the numbers do: an MD5
        # digest is placed among them as it is, without making a number of it
        self._digests = [s.start_hash.to_bytes(16, "big") for s in self.shards]

    def shard_for(self, partition_key: str, explicit_hash_key: int | None = None) -> Shard:
        key = hash_key(partition_key) if explicit_hash_key is None else explicit_hash_key
        return self.shards[self._index(key)]

    def _index(self, key: int) -> int:
        if not 0 <= key <= HASH_MAX:
            raise ValueError(f"hash key {key} is outside 0 … 2^128-1")
        return bisect_right(self._starts, key) - 1

    def split(self, entries: Sequence[Entry]) -> list[tuple[Shard, list[int]]]:
        """The shards that take ``entries``, each with the indexes of its entries in order, as
        :meth:`shard_for` picks them: one digest and one bisection a record, or none at all
        when the stream has one shard (every key falls in it)."""
        if len(self.shards) == 1 and all(e.explicit_hash_key is None for e in entries):
            return [(self.shards[0], list(range(len(entries))))] if entries else []
        taken: list[list[int]] = [[] for _ in self.shards]
        adds = [indexes.append for indexes in taken]
        digests, md5, place = self._digests, hashlib.md5, bisect_right
        for index, entry in enumerate(entries):
            explicit = entry.explicit_hash_key
            if explicit is None:
                adds[place(digests, md5(entry.partition_key.encode()).digest()) - 1](index)
            else:
                adds[self._index(explicit)](index)
        return [
            (shard, indexes) for shard, indexes in zip(self.shards, taken, strict=True) if indexes
        ]
