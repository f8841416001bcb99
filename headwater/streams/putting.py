"""Put a batch of records from a client over the network, refusing only the bad ones: a record
over 1 MiB or without a key fails on its own, and the rest of the batch is put (what a producer
of many events expects from one request, as PutRecords reports each record)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from headwater.errors import RecordRefused
from headwater.streams.records import Entry, Put
from headwater.streams.validate import check_entry

if TYPE_CHECKING:
    from headwater.streams.hub import Streams

REFUSED = "RecordRefused"  # the ``error`` of a record put refused before it reached the log


def put_each(streams: Streams, stream: str, entries: Sequence[Entry]) -> list[Put]:
    """One :class:`Put` per entry, in order; a refused record gets ``error=REFUSED`` and the
    reason in ``message``. The stream is reached even when every record is refused, so an
    unknown stream is always :class:`~headwater.errors.StreamNotFound`."""
    results: list[Put] = [Put()] * len(entries)  # every one is replaced below
    accepted: list[Entry] = []
    where: list[int] = []
    for index, entry in enumerate(entries):
        try:
            check_entry(entry, stream)
        except RecordRefused as exc:
            results[index] = Put(error=REFUSED, message=exc.message)
            continue
        accepted.append(entry)
        where.append(index)
    for index, put in zip(where, streams.put(stream, accepted), strict=True):
        results[index] = put
    return results
