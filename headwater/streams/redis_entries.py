"""Redis stream entries as a reader gets them: entry ids as sequence numbers, and a reply of
``XRANGE`` or ``XREAD`` taken apart into columns — the entry ids, the data, the keys — for a
:class:`~headwater.streams.records.Record` each or for one :class:`EntryBlock`.

Why not redis-py's parsed replies: it makes a tuple and a dict of each entry, which a
delivery only takes apart again. :class:`~headwater.streams.redis_log.RedisLog` asks its client
for these replies as Redis sent them (``[id, [field, value, …]]`` an entry), and the columns
are taken from them a whole reply at a time (:func:`columns`): measured in
``bench/streams.py``, see docs/benchmarks.md.

Why the collector is paused while a reply is read (:func:`collector_paused`): the reply of a
read of 10,000 entries is 20,000 lists, none of them in a cycle, all alive until the read
ends; CPython's cyclic garbage collector runs about thirty times while they are made, moves
them into its older generations, and so sets off passes over the whole heap of the process —
measured in a delivery of 200,000 events, about as much time as making a record of each
entry. Freed before the collector runs again, they leave it nothing to do.
"""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import accumulate
from operator import itemgetter
from typing import Any

from headwater.errors import StreamError
from headwater.streams.records import Block, Position, Record

SEQ_BITS = 20  # bits of a sequence number that hold the ``seq`` part of an entry id
SEQ_LIMIT = 1 << SEQ_BITS

# (entry ids, data, partition keys) of the entries of one reply, in order
Columns = tuple[list[bytes], list[bytes], list[bytes]]


def to_sequence(entry_id: bytes | str) -> int:
    """The sequence number of a Redis entry id ``ms-seq``: ``ms * 2**20 + seq`` (see
    :mod:`headwater.streams.redis_log`)."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return (int(ms) << SEQ_BITS) + int(seq or 0)


def to_entry_id(sequence: int) -> str:
    """The Redis entry id of a sequence number."""
    return f"{sequence >> SEQ_BITS}-{sequence & (SEQ_LIMIT - 1)}"


def as_sent(response: Any, **options: Any) -> Any:
    """A redis-py response callback that keeps a reply as Redis sent it."""
    return response


@contextmanager
def collector_paused() -> Iterator[None]:
    """CPython's cyclic garbage collector paused, if it runs, while a reply is read and taken
    apart (see the module docstring); it runs again as it did before. The collector is the
    process's: another thread that switches it meanwhile may find it switched back."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def columns(rows: list[Any], shard: str) -> Columns:
    """The entry ids, data and partition keys of ``rows``, entries as Redis sent them. The put
    script writes each entry's fields as ``data, key, id``: checked for the whole reply at
    once (a few passes in C), they are taken by place; an entry added otherwise, by name."""
    if not rows:
        return [], [], []
    ids = list(map(itemgetter(0), rows))
    fields = list(map(itemgetter(1), rows))
    if (
        min(map(len, fields)) >= 4
        and list(map(itemgetter(0), fields)).count(b"data") == len(fields)
        and list(map(itemgetter(2), fields)).count(b"key") == len(fields)
    ):
        return ids, list(map(itemgetter(1), fields)), list(map(itemgetter(3), fields))
    data, keys = [], []
    for entry_id, values in zip(ids, fields, strict=True):
        named = dict(zip(values[::2], values[1::2], strict=False))
        if b"data" not in named:
            raise StreamError(
                f"entry {entry_id.decode()} of shard {shard} has no `data` field: it was not "
                "put by Headwater",
                hint="put into the stream with `headwater stream put` or the Python API; "
                "delete the entry (XDEL), or read this Redis stream with another consumer",
            )
        data.append(named[b"data"])
        keys.append(named.get(b"key", b""))
    return ids, data, keys


def records(got: Columns, shard: str) -> tuple[Record, ...]:
    ids, data, keys = got
    return tuple(
        Record(
            data=d,
            partition_key=k.decode(),
            sequence=str(to_sequence(i)),
            arrived_ms=int(i.partition(b"-")[0]),
            shard=shard,
        )
        for i, d, k in zip(ids, data, keys, strict=True)
    )


def behind(last: int, tip: list[Any]) -> int:
    """How far (ms) the shard's newest entry ``tip`` (an ``XREVRANGE … COUNT 1`` reply) is
    past sequence number ``last``."""
    newest = to_sequence(tip[0][0]) if tip else last
    return 0 if last >= newest else max(0, (newest >> SEQ_BITS) - (last >> SEQ_BITS))


@dataclass(frozen=True, slots=True)
class EntryBlock(Block):
    """A batch-shaped read of a Redis stream: the entries' data in one buffer, each after a
    line break (JSON Lines as they are), and the entry ids and keys as Redis sent them; a
    record's sequence number and arrival are worked out of its id only when asked for.

    Record ``i``'s data ends ``ends[i]`` bytes of data into the block (line breaks not
    counted): it begins at ``i + 1 + ends[i - 1]`` of ``frames``."""

    shard: str
    frames: bytes
    ends: array[int]
    ids: list[bytes]
    keys: list[bytes]
    data_bytes: int
    next: Position
    behind_ms: int

    @staticmethod
    def of(got: Columns, shard: str, following: Position, behind_ms: int) -> EntryBlock:
        ids, data, keys = got
        ends = array("q", accumulate(map(len, data)))
        return EntryBlock(
            shard=shard,
            frames=b"\n" + b"\n".join(data) if data else b"",
            ends=ends,
            ids=ids,
            keys=keys,
            data_bytes=ends[-1] if ends else 0,
            next=following,
            behind_ms=behind_ms,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def sequence(self, i: int) -> int:
        return to_sequence(self.ids[i])

    @property
    def last_arrived_ms(self) -> int:
        return int(self.ids[-1].partition(b"-")[0])

    def record(self, i: int) -> Record:
        before = self.ends[i - 1] if i else 0  # data bytes of the records before it
        entry_id = self.ids[i]
        return Record(
            data=self.frames[i + 1 + before : i + 1 + self.ends[i]],
            partition_key=self.keys[i].decode(),
            sequence=str(to_sequence(entry_id)),
            arrived_ms=int(entry_id.partition(b"-")[0]),
            shard=self.shard,
        )

    def head(self, n: int) -> EntryBlock:
        if n >= len(self):
            return self
        size = self.ends[n - 1] if n else 0
        return replace(
            self,
            frames=self.frames[: n + size],
            ends=self.ends[:n],
            ids=self.ids[:n],
            keys=self.keys[:n],
            data_bytes=size,
        )
