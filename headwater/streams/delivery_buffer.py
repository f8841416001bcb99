"""What a delivery worker holds between flushes: each shard's records as the backend read
them — batch-shaped blocks from a backend that reads so (the embedded log, Redis Streams),
records otherwise.

Why not a list of records: made one object each, the records cost more Python than the JSON
reader, the Parquet writer and the commit together (measured in ``bench/streams.py``, see
docs/benchmarks.md). Blocks hand their data to the JSON reader as one buffer; a record is made
only where one is looked at — the slow path of a malformed record, a file's prefix, an error row.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import overload

import pyarrow as pa

from headwater.streams.records import Block, Record

Part = Block | tuple[Record, ...]


def sequence_key(sequence: str) -> tuple[tuple[int, ...], str]:
    """An order of sequence numbers: decimal ones (Kinesis, the embedded log, NATS) and Redis
    ids (``ms-n``) compare as numbers, anything else as text."""
    parts = sequence.split("-")
    if all(p.isdigit() for p in parts):
        return tuple(int(p) for p in parts), ""
    return (), sequence


def upto(part: Part, last: str) -> Part:
    """The records of ``part`` up to sequence ``last`` (included)."""
    if isinstance(part, Block) and last.isdigit():
        return part.head(bisect_right(range(len(part)), int(last), key=part.sequence))
    records = part.records() if isinstance(part, Block) else part
    bound = sequence_key(last)
    return tuple(r for r in records if sequence_key(r.sequence) <= bound)


def data_bytes(part: Part) -> int:
    if isinstance(part, Block):
        return part.data_bytes
    return sum(len(r.data) for r in part)


def last_sequence(part: Part) -> str:
    return part.last_sequence if isinstance(part, Block) else part[-1].sequence


class Buffered(Sequence[Record]):
    """Records of one shard (or of several, one after another), kept as their parts."""

    def __init__(self, parts: Iterable[Part] = ()) -> None:
        self.parts: list[Part] = []
        self._ends: list[int] = []  # records up to the end of each part
        self.data_bytes = 0
        for part in parts:
            self.append(part)

    @staticmethod
    def of(buffered: Iterable[Sequence[Record]]) -> Buffered:
        """The records of several buffers (or plain sequences of records), one after another."""
        out = Buffered()
        for records in buffered:
            if isinstance(records, Buffered):
                for part in records.parts:
                    out.append(part)
            elif records:
                out.append(tuple(records))
        return out

    def append(self, part: Part) -> None:
        if not len(part):
            return
        self.parts.append(part)
        self._ends.append(len(self) + len(part))
        self.data_bytes += data_bytes(part)

    @property
    def last_sequence(self) -> str:
        return last_sequence(self.parts[-1])

    def lines(self) -> pa.Buffer:
        """The records' data as JSON Lines in one buffer, each record after a line break (and
        maybe spaces, see :meth:`Block.blank`) when none holds a line break of its own.

        The buffer is the largest object of a flush: it is taken from Arrow's memory pool, which
        the worker hands back after each flush, not from the heap, where buffers of varying size
        allocated and freed by a long-running worker leave it fragmented and growing."""
        raws = [
            part.frames if isinstance(part, Block) else b"".join(b"\n" + r.data for r in part)
            for part in self.parts
        ]
        out = pa.allocate_buffer(sum(len(raw) for raw in raws))
        with memoryview(out).cast("B") as view:
            at = 0
            for part, raw in zip(self.parts, raws, strict=True):
                view[at : at + len(raw)] = raw
                if isinstance(part, Block):
                    part.blank(view, at)
                at += len(raw)
        return out

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | Sequence[Record]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        at = bisect_right(self._ends, index)
        part = self.parts[at]
        within = index - (self._ends[at - 1] if at else 0)
        return part.record(within) if isinstance(part, Block) else part[within]

    def __iter__(self) -> Iterator[Record]:
        return chain.from_iterable(
            part.records() if isinstance(part, Block) else part for part in self.parts
        )
