"""The event time of each record of a micro-batch, in Unix milliseconds, for a windowed
processor: the value of its ``time`` field, or when the stream took it.

A ``time`` field holds epoch seconds or milliseconds (told apart by size: from 10^11 on, the
number is milliseconds — 10^11 seconds is the year 5138, 10^11 ms is 1973; fractions of a
millisecond are floored) or an ISO 8601 time (without an offset it is UTC). The batch is
parsed in one vectorised pass (:func:`~headwater.streams.processor_json.json_table`) and the
times converted by Arrow and DuckDB; a batch that does not parse as a whole (a record that is
not a JSON object, a field whose type changes) is done record by record in Python, with the
same rules, so a record's time never depends on the batch it was read in.

Every record must be a JSON object: one that is not, or whose time is missing or is not a
time, is returned as a failure (it goes to the error stream, and never into a window).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from headwater.streams.processor_batch import Failure
from headwater.streams.processor_json import json_table
from headwater.streams.records import Record

if TYPE_CHECKING:
    import duckdb

MILLIS_FROM = 1e11  # a number at least this big is epoch milliseconds, else seconds


class BadEventTime(ValueError):
    """A record whose event time is missing or is not a time."""


@dataclass
class EventTimes:
    """The event time of each record (int64 ms; null for a record that has none, which is
    among the failures)."""

    millis: pa.Array
    failures: list[Failure] = field(default_factory=list)


def event_times(
    records: Sequence[Record], time_field: str | None, db: duckdb.DuckDBPyConnection
) -> EventTimes:
    """The event times of ``records`` (see the module docstring)."""
    try:
        table = json_table([r.data for r in records])
    except (pa.ArrowInvalid, ValueError):
        return _one_by_one(records, time_field)
    if time_field is None:
        return EventTimes(pa.array([r.arrived_ms for r in records], pa.int64()))
    if time_field not in table.column_names:
        millis = pa.nulls(len(records), pa.int64())
    else:
        millis = _column_millis(table.column(time_field).combine_chunks(), db)
    failures = []
    if millis.null_count:
        missing = pc.filter(pa.array(range(len(records)), pa.int64()), millis.is_null())
        failures = [
            Failure.of(i, BadEventTime(_why(records[i].data, time_field)))
            for i in missing.to_pylist()
        ]
    return EventTimes(millis, failures)


def _column_millis(column: pa.Array, db: duckdb.DuckDBPyConnection) -> pa.Array:
    """A time column as int64 milliseconds, null where a value is not a time."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        # Arrow's timestamps count from the epoch in UTC (naive ones are taken as UTC)
        return pc.cast(column, pa.timestamp("ms", kind.tz), safe=False).cast(pa.int64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        db.register("__headwater_times", pa.table({"t": column}))
        try:
            return (
                db.execute("SELECT epoch_ms(TRY_CAST(t AS TIMESTAMPTZ)) FROM __headwater_times")
                .to_arrow_table()
                .column(0)
                .combine_chunks()
                .cast(pa.int64())
            )
        finally:
            db.unregister("__headwater_times")
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = column.cast(pa.float64())
        finite = pc.is_finite(values)
        big = pc.greater_equal(pc.abs(values), MILLIS_FROM)
        scaled = pc.if_else(big, values, pc.multiply(values, 1000.0))
        floored = pc.floor(pc.if_else(finite, scaled, 0.0))
        in_range = pc.less(pc.abs(floored), 2.0**62)
        return pc.if_else(pc.and_(finite, in_range), floored, None).cast(pa.int64())
    return pa.nulls(len(column), pa.int64())


def _one_by_one(records: Sequence[Record], time_field: str | None) -> EventTimes:
    millis: list[int | None] = []
    failures: list[Failure] = []
    for index, record in enumerate(records):
        try:
            value = json.loads(record.data)
            if not isinstance(value, dict):
                raise ValueError(f"the record is not a JSON object: {record.data[:80]!r}")
            if time_field is None:
                millis.append(record.arrived_ms)
            else:
                millis.append(_value_millis(value.get(time_field), time_field))
        except ValueError as exc:
            millis.append(None)
            failures.append(Failure.of(index, exc))
    return EventTimes(pa.array(millis, pa.int64()), failures)


def _value_millis(value: object, time_field: str) -> int:
    """One value as epoch ms, by the rules of the module docstring."""
    if isinstance(value, bool) or value is None:
        raise BadEventTime(f"the record's `{time_field}` is {json.dumps(value)}, not a time")
    if isinstance(value, int | float):
        number = float(value)
        if math.isfinite(number):
            millis = math.floor(number if abs(number) >= MILLIS_FROM else number * 1000.0)
            if abs(millis) < 2**62:
                return millis
        raise BadEventTime(f"the record's `{time_field}` is {value!r}, not a time")
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise BadEventTime(
                f"the record's `{time_field}` is {value[:80]!r}, not an ISO 8601 time"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
    raise BadEventTime(f"the record's `{time_field}` is a {type(value).__name__}, not a time")


def _why(data: bytes, time_field: str) -> str:
    """Why a record of a parsed batch has no event time (the slow path says it exactly)."""
    try:
        value = json.loads(data)
    except ValueError:
        return f"the record is not JSON: {data[:80]!r}"
    if not isinstance(value, dict) or time_field not in value:
        return f"the record has no `{time_field}` field (its event time)"
    try:
        _value_millis(value[time_field], time_field)
    except BadEventTime as exc:
        return str(exc)
    return f"the record's `{time_field}` is {str(value[time_field])[:80]!r}, not a time"
