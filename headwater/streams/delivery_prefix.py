"""A files delivery's prefix, evaluated per record: ``!{timestamp:yyyy/MM/dd/HH}`` from the
record's arrival time (UTC; the same at a replay, so a rewritten file keeps its name) and
``!{partitionKeyFromQuery:a.b}`` from a field of its JSON object; records are grouped by it."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from headwater.project.deliveries import EXPRESSION
from headwater.streams.records import Record

# Java's DateTimeFormatter letters that Firehose prefixes use, as strftime directives
_TIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def strftime_format(pattern: str) -> str:
    out = pattern.replace("%", "%%")
    for letters, directive in _TIME.items():
        out = out.replace(letters, directive)
    return out


def resolve(prefix: str, records: Sequence[Record], rows: pa.Table | None) -> pa.Array:
    """The prefix of each record (``rows`` holds their parsed data, in the same order); null
    where a field the prefix names is missing from the record."""
    n = len(records)
    parts: list[pa.Array | str] = []
    arrived: pa.Array | None = None
    position = 0
    for match in EXPRESSION.finditer(prefix):
        if match.start() > position:
            parts.append(prefix[position : match.start()])
        kind, argument = match.group(1), match.group(2)
        if kind == "timestamp":
            if arrived is None:
                arrived = pa.array([r.arrived_ms for r in records], pa.int64()).cast(
                    pa.timestamp("ms", tz="UTC")
                )
            parts.append(pc.strftime(arrived, format=strftime_format(argument)))
        else:
            parts.append(_field(rows, argument, n))
        position = match.end()
    if position < len(prefix):
        parts.append(prefix[position:])
    if not any(isinstance(p, pa.Array) for p in parts):
        return pa.array([prefix] * n, pa.string())
    arrays = [p if isinstance(p, pa.Array) else pa.array([p] * n, pa.string()) for p in parts]
    return pc.binary_join_element_wise(*arrays, "")


def _field(rows: pa.Table | None, path: str, n: int) -> pa.Array:
    """The text of field ``path`` (``a.b``: field b of object a) of each row; null when absent."""
    if rows is None:
        return pa.nulls(n, pa.string())
    names = path.split(".")
    if names[0] not in rows.column_names:
        return pa.nulls(n, pa.string())
    column: pa.Array = rows.column(names[0]).combine_chunks()
    for name in names[1:]:
        if not pa.types.is_struct(column.type) or column.type.get_field_index(name) < 0:
            return pa.nulls(n, pa.string())
        column = pc.struct_field(column, name)
    try:
        text = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(n, pa.string())  # an object or a list is no key
    # a key is a path segment: a slash would make folders of it
    return pc.replace_substring(text, "/", "_")
