"""Make any Arrow schema storable in Iceberg, batch by batch and without per-row Python.

Iceberg has no unsigned or 8/16-bit integers, no nanosecond timestamps in format v2, one
time zone (UTC) for instants, no interval, dictionary or null types; everything else maps 1:1.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def storable_type(t: pa.DataType) -> pa.DataType:
    """The Arrow type Iceberg can store for ``t`` without losing values."""
    if pa.types.is_dictionary(t):
        return storable_type(t.value_type)
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t) or pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t):
        return pa.int64()
    if pa.types.is_uint64(t):
        return pa.decimal128(20, 0)
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_fixed_size_binary(t):
        return pa.binary()
    if pa.types.is_decimal(t) and t.precision > 38:
        return pa.string()
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", tz="UTC" if t.tz else None)
    if pa.types.is_time(t):
        return pa.time64("us")
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_duration(t):
        return pa.int64()  # microseconds
    if pa.types.is_interval(t):
        return pa.string()  # ISO 8601, e.g. P1M2DT3.5S: months and days have no fixed length
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(storable_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, storable_type(f.type), f.nullable) for f in t])
    if pa.types.is_map(t):
        return pa.map_(storable_type(t.key_type), storable_type(t.item_type))
    return t


def storable_schema(schema: pa.Schema) -> pa.Schema:
    """Every field made storable; all fields nullable (sources rarely promise otherwise)."""
    return pa.schema([pa.field(f.name, storable_type(f.type), nullable=True) for f in schema])


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Cast ``batch`` to ``schema`` (from :func:`storable_schema`), vectorised per column."""
    if batch.schema.equals(schema, check_metadata=False):
        return batch
    columns = []
    for column, target in zip(batch.columns, schema, strict=True):
        if column.type.equals(target.type):
            columns.append(column)
        elif pa.types.is_dictionary(column.type):
            columns.append(column.dictionary_decode().cast(target.type))
        elif pa.types.is_interval(column.type):
            columns.append(pa.array([_iso_interval(v) for v in column.to_pylist()], pa.string()))
        elif pa.types.is_duration(column.type):
            columns.append(pc.cast(column.cast(pa.duration("us")), pa.int64()))
        elif pa.types.is_timestamp(column.type) and column.type.unit == "ns":
            columns.append(column.cast(target.type, safe=False))
        else:
            columns.append(column.cast(target.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def fit(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` (say, a DuckDB result) in ``schema``'s column order and types; columns it
    lacks are NULL."""
    columns = [
        batch.column(f.name) if f.name in batch.schema.names else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return conform(pa.RecordBatch.from_arrays(columns, names=schema.names), schema)


def _iso_interval(value: pa.MonthDayNano | None) -> str | None:
    """A month-day-nanosecond interval as an ISO 8601 duration (a rare type: per value is fine)."""
    if value is None:
        return None
    months, days, nanos = value.months, value.days, value.nanoseconds
    seconds = f"{nanos / 1e9:.9f}".rstrip("0").rstrip(".")
    return f"P{months}M{days}DT{seconds}S"


def widens(narrow: pa.DataType, wide: pa.DataType) -> bool:
    """True when every value of ``narrow`` fits ``wide`` and Iceberg can promote one to the other."""
    if pa.types.is_integer(narrow) and pa.types.is_integer(wide):
        return bool(wide.bit_width > narrow.bit_width)
    if pa.types.is_floating(narrow) and pa.types.is_floating(wide):
        return bool(wide.bit_width > narrow.bit_width)
    if pa.types.is_decimal(narrow) and pa.types.is_decimal(wide):
        return bool(wide.scale == narrow.scale and wide.precision > narrow.precision)
    return False
