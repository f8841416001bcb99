"""Records from text a user hands over: JSON lines (or any lines), each keyed by a field of its
JSON object, or by a fresh random key that spreads records over the shards."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator

from headwater.errors import RecordRefused
from headwater.streams.records import Entry


def entries_from_lines(
    lines: Iterable[bytes], key_field: str | None = None, source: str = "<input>"
) -> Iterator[Entry]:
    """One entry per non-blank line; with ``key_field`` each line must be a JSON object
    holding it, and its value is the partition key."""
    for number, line in enumerate(lines, start=1):
        data = line.rstrip(b"\r\n")
        if not data.strip():
            continue
        if key_field is None:
            yield Entry(data=data, partition_key=uuid.uuid4().hex)
            continue
        try:
            value = json.loads(data)
        except ValueError as exc:
            raise RecordRefused(
                f"{source}:{number}: not JSON ({exc.args[0]}), so it has no `{key_field}` "
                "to key it by",
                hint="fix the line, or leave out --key to give each record a random key",
            ) from None
        key = value.get(key_field) if isinstance(value, dict) else None
        if key is None or key == "":
            raise RecordRefused(
                f"{source}:{number}: the record has no `{key_field}` to key it by",
                hint="give every record that field, or choose another with --key",
            )
        yield Entry(data=data, partition_key=str(key))
