"""What every backend refuses the same way: bad stream names, empty keys, oversized records,
explicit hash keys outside the 128-bit hash space."""

from __future__ import annotations

import re
from collections.abc import Iterable

from headwater.errors import RecordRefused, StreamError
from headwater.streams.records import MAX_KEY_CHARS, MAX_RECORD_BYTES, Entry
from headwater.streams.sharding import HASH_MAX

NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def check_name(name: str) -> None:
    if not NAME.fullmatch(name) or name in (".", ".."):
        raise StreamError(
            f"`{name}` is not a valid stream name",
            stream=name,
            hint="use 1 to 128 letters, digits, `_`, `.` or `-` (as Kinesis does)",
        )


def check_entry(entry: Entry, stream: str) -> None:
    if not entry.partition_key or len(entry.partition_key) > MAX_KEY_CHARS:
        raise RecordRefused(
            f"a record put into `{stream}` has a partition key of {len(entry.partition_key)} "
            f"characters; it takes 1 to {MAX_KEY_CHARS}",
            stream=stream,
            hint="give each record a short key (a user, device or session id)",
        )
    if len(entry.data) > MAX_RECORD_BYTES:
        raise RecordRefused(
            f"a record put into `{stream}` is {len(entry.data):,} bytes; a record takes at "
            f"most {MAX_RECORD_BYTES:,} (1 MiB)",
            stream=stream,
            hint="split the event, or put a reference to the payload (an object's URL) instead",
        )
    key = entry.explicit_hash_key
    if key is not None and not 0 <= key <= HASH_MAX:
        raise RecordRefused(
            f"a record put into `{stream}` has the explicit hash key {key}, outside 0 … 2^128-1",
            stream=stream,
            hint="leave explicit_hash_key out to hash the partition key, or give a number in "
            "a shard's hash-key range (`headwater stream describe` shows them)",
        )


def check_entries(entries: Iterable[Entry], stream: str) -> None:
    """:func:`check_entry` of each entry, raising for the first refused one: the common case
    (a key, data under the limit, no explicit hash key) is told apart without a call."""
    for entry in entries:
        key = entry.partition_key
        if (
            not key
            or len(key) > MAX_KEY_CHARS
            or len(entry.data) > MAX_RECORD_BYTES
            or entry.explicit_hash_key is not None
        ):
            check_entry(entry, stream)


def parse_sequence(text: str | None, backend: str, stream: str = "") -> int:
    """A sequence number given back by a caller, as the whole number every backend but
    Kinesis keeps it as; ``backend`` names the log in the error (``the embedded log``)."""
    try:
        value = int(text or "")
    except ValueError:
        value = -1
    if value < 0:
        raise StreamError(
            f"`{text}` is not a sequence number of {backend} (a whole number)",
            stream=stream,
            hint="pass a sequence number a put or a read returned",
        )
    return value
