"""Iceberg data-file entries from Parquet footers, as pyiceberg's ``parquet_file_to_data_file``
derives them: record count, sizes, value, NULL and NaN counts, and lower/upper bounds in
Iceberg's single-value serialisation, under the table's metrics modes (``truncate(16)`` by
default). Part of the commit without pyiceberg (:mod:`headwater.lake.fast_append`); a test
compares every field with pyiceberg's for the same files.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from headwater.lake.metadata import local_path

_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_FIXED = re.compile(r"fixed\[(\d+)\]")
_UTC = {"UTC", "+00:00", "Etc/UTC", "Z"}  # pyiceberg's UTC_ALIASES


class NotApplicable(Exception):
    """The fast path does not apply; the message says why (logged at debug level)."""


@dataclass(frozen=True)
class _Column:
    """A primitive leaf of the table schema and how pyiceberg collects its metrics."""

    field_id: int
    type: str
    mode: str  # none, counts, truncate or full
    length: int | None  # truncation length for truncate


def _metrics_mode(text: str) -> tuple[str, int | None]:
    mode = text.strip().lower()
    if mode.startswith("truncate"):
        match = re.fullmatch(r"truncate\((\d+)\)", mode)
        if match is None or int(match.group(1)) < 1:
            raise NotApplicable(f"metrics mode {text}")
        return "truncate", int(match.group(1))
    if mode in ("none", "counts", "full"):
        return mode, None
    raise NotApplicable(f"metrics mode {text}")


def schema_columns(
    schema: dict[str, Any], table_properties: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, _Column]]:
    """Every field of the schema by its Parquet path (``a.list.element``, ``m.key_value.key``)
    with its field id, and the primitive ones with their metrics mode."""
    default = _metrics_mode(table_properties.get("write.metadata.metrics.default", "truncate(16)"))
    nodes: dict[str, int] = {}
    leaves: dict[str, _Column] = {}

    def visit(kind: Any, field_id: int, path: str, name: str) -> None:
        nodes[path] = field_id
        if isinstance(kind, str):
            override = table_properties.get(f"write.metadata.metrics.column.{name}")
            mode, length = _metrics_mode(override) if override else default
            if mode == "truncate" and kind not in ("string", "binary"):
                mode, length = "full", None
            if "." in name and mode in ("truncate", "full"):  # pyiceberg: nested → counts
                mode, length = "counts", None
            leaves[path] = _Column(field_id, kind, mode, length)
        elif kind.get("type") == "struct":
            for f in kind["fields"]:
                visit(f["type"], f["id"], f"{path}.{f['name']}", f"{name}.{f['name']}")
        elif kind.get("type") == "list":
            visit(kind["element"], kind["element-id"], f"{path}.list.element", f"{name}.element")
        elif kind.get("type") == "map":
            visit(kind["key"], kind["key-id"], f"{path}.key_value.key", f"{name}.key")
            visit(kind["value"], kind["value-id"], f"{path}.key_value.value", f"{name}.value")
        else:
            raise NotApplicable(f"unknown type {kind}")

    for f in schema.get("fields", []):
        visit(f["type"], f["id"], f["name"], f["name"])
    return nodes, leaves


def _check_field_ids(arrow_schema: pa.Schema, nodes: dict[str, int]) -> None:
    """Each column of the file carries the field id the table gives its name."""

    def visit(field: pa.Field, path: str) -> None:
        field_id = (field.metadata or {}).get(b"PARQUET:field_id")
        if path not in nodes or field_id is None or int(field_id) != nodes[path]:
            raise NotApplicable(f"column {path}: no field id or not the table's")
        kind = field.type
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                visit(kind.field(i), f"{path}.{kind.field(i).name}")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            visit(kind.value_field, f"{path}.list.element")
        elif pa.types.is_map(kind):
            visit(kind.key_field, f"{path}.key_value.key")
            visit(kind.item_field, f"{path}.key_value.value")
        elif pa.types.is_nested(kind):
            raise NotApplicable(f"column {path}: type {kind}")
        elif pa.types.is_timestamp(kind) and kind.tz is not None and kind.tz not in _UTC:
            raise NotApplicable(f"column {path}: time zone {kind.tz}")

    for field in arrow_schema:
        visit(field, field.name)


def _stored_as(column: Any, kind: str) -> bool:
    """True when Parquet column ``column`` holds Iceberg type ``kind`` as pyiceberg reads it."""
    physical = column.physical_type
    logical = json.loads(column.logical_type.to_json())
    plain = logical.get("Type") == "None"
    signed = plain or (logical.get("Type") == "Int" and logical.get("isSigned") is True)
    micros = logical.get("timeUnit") == "microseconds"
    if kind == "boolean":
        return bool(physical == "BOOLEAN" and plain)
    if kind == "int":
        return bool(physical == "INT32" and signed)
    if kind == "long":
        return bool(physical in ("INT32", "INT64") and signed)
    if kind == "float":
        return bool(physical == "FLOAT" and plain)
    if kind == "double":
        return bool(physical in ("FLOAT", "DOUBLE") and plain)
    if kind == "date":
        return bool(physical == "INT32" and logical.get("Type") == "Date")
    if kind == "time":
        return bool(physical == "INT64" and logical.get("Type") == "Time" and micros)
    if kind in ("timestamp", "timestamptz"):
        utc = logical.get("isAdjustedToUTC") is True
        return bool(
            physical == "INT64"
            and logical.get("Type") == "Timestamp"
            and micros
            and utc == (kind == "timestamptz")
        )
    if kind == "string":
        return bool(physical == "BYTE_ARRAY" and logical.get("Type") == "String")
    if kind == "binary":
        return bool(physical == "BYTE_ARRAY" and plain)
    if kind == "uuid":
        return bool(
            physical == "FIXED_LEN_BYTE_ARRAY"
            and column.length == 16
            and logical.get("Type") == "UUID"
        )
    if match := _FIXED.fullmatch(kind):
        return bool(physical == "FIXED_LEN_BYTE_ARRAY" and plain and column.length == int(match[1]))
    if match := _DECIMAL.fullmatch(kind):
        precision, scale = int(match[1]), int(match[2])
        expected = "INT32" if precision <= 9 else "INT64" if precision <= 18 else None
        return bool(
            logical.get("Type") == "Decimal"
            and logical.get("precision") == precision
            and logical.get("scale") == scale
            and physical in (expected, "FIXED_LEN_BYTE_ARRAY")
        )
    return False


class _Bounds:
    """The smallest and largest value of a column over the row groups (pyiceberg's
    StatsAggregator), serialised per the spec's single-value binary form."""

    def __init__(self, column: _Column) -> None:
        self.column = column
        self.min: Any = None
        self.max: Any = None

    def update(self, low: Any, high: Any) -> None:
        low, high = self._value(low), self._value(high)
        self.min = low if self.min is None else min(low, self.min)
        self.max = high if self.max is None else max(high, self.max)

    def _value(self, raw: Any) -> Any:
        """A Parquet statistic (physical value) as the Python value pyiceberg compares."""
        if self.column.type == "string":
            return bytes(raw).decode("utf-8")
        if isinstance(raw, bytes) and _DECIMAL.fullmatch(self.column.type):
            return int.from_bytes(raw, "big", signed=True)  # unscaled
        return raw

    def lower(self) -> bytes | None:
        if self.min is None:
            return None
        value = self.min
        if self.column.length is not None:  # truncate(n): strings and binary only
            value = value[: self.column.length]
        return _serialize(self.column.type, value)

    def upper(self) -> bytes | None:
        if self.max is None:
            return None
        if self.column.type == "string":
            text = _truncate_text_upper(self.max, self.column.length)
            return None if text is None else text.encode()
        if self.column.type == "binary":
            return _truncate_binary_upper(self.max, self.column.length)
        return _serialize(self.column.type, self.max)


def _truncate_text_upper(value: str, length: int | None) -> str | None:
    """The smallest string of at most ``length`` characters not below ``value`` (pyiceberg's
    truncate_upper_bound_text_string: the last character that can be is incremented)."""
    result = value[:length]
    if result == value:
        return result
    chars = list(result)
    for i in range(len(chars) - 1, -1, -1):
        if ord(chars[i]) < 0x10FFFF:
            chars[i] = chr(ord(chars[i]) + 1)
            return "".join(chars)
    return None


def _truncate_binary_upper(value: bytes, length: int | None) -> bytes | None:
    result = value[:length]
    if result == value:
        return result
    data = bytearray(result)
    for i in range(len(data) - 1, -1, -1):
        if data[i] < 255:
            data[i] += 1
            return bytes(data)
    return None


def _serialize(kind: str, value: Any) -> bytes:
    """The Iceberg single-value binary serialisation (spec appendix D)."""
    if kind == "boolean":
        return struct.pack("<?", bool(value))
    if kind in ("int", "date"):
        return struct.pack("<i", value)
    if kind in ("long", "time", "timestamp", "timestamptz"):
        return struct.pack("<q", value)
    if kind == "float":
        return struct.pack("<f", value)
    if kind == "double":
        return struct.pack("<d", value)
    if kind == "string":
        return str(value).encode()
    if _DECIMAL.fullmatch(kind):  # unscaled, big-endian two's complement, fewest bytes
        bits = value.bit_length() if value >= 0 else (value + 1).bit_length()
        return int(value).to_bytes((bits + 8) // 8, "big", signed=True)
    return bytes(value)  # binary, fixed, uuid


def data_file_entry(
    file: str, nodes: dict[str, int], leaves: dict[str, _Column], required: list[str]
) -> dict[str, Any]:
    """The manifest's data_file record of one Parquet file."""
    path = local_path(file)
    if path is None:
        raise NotApplicable(f"{file} is not a local file")
    path = os.path.abspath(path)
    uri = file if file.startswith("file://") else "file://" + path
    metadata = pq.read_metadata(path)
    arrow_schema = metadata.schema.to_arrow_schema()
    _check_field_ids(arrow_schema, nodes)
    missing = [name for name in required if name not in arrow_schema.names]
    if missing:
        raise NotApplicable(f"{file} lacks required columns {missing}")
    columns: list[_Column] = []
    for i in range(metadata.num_columns):
        parquet_column = metadata.schema.column(i)
        column = leaves.get(parquet_column.path)
        if column is None or not _stored_as(parquet_column, column.type):
            raise NotApplicable(f"{file}: column {parquet_column.path} does not fit the table")
        columns.append(column)

    sizes: dict[int, int] = {}
    values: dict[int, int] = {}
    nulls: dict[int, int] = {}
    bounds: dict[int, _Bounds] = {}
    no_stats: set[int] = set()
    offsets: list[int] = []
    for r in range(metadata.num_row_groups):
        group = metadata.row_group(r)
        first = group.column(0)
        if first.has_dictionary_page and first.dictionary_page_offset < first.data_page_offset:
            offsets.append(first.dictionary_page_offset)
        else:
            offsets.append(first.data_page_offset)
        for i, column in enumerate(columns):
            chunk = group.column(i)
            fid = column.field_id
            sizes[fid] = sizes.get(fid, 0) + chunk.total_compressed_size
            if column.mode == "none":
                continue
            values[fid] = values.get(fid, 0) + chunk.num_values
            if not chunk.is_stats_set:
                no_stats.add(fid)
                continue
            try:
                stats = chunk.statistics
                if stats.has_null_count:
                    nulls[fid] = nulls.get(fid, 0) + stats.null_count
                if column.mode == "counts":
                    continue
                aggregate = bounds.setdefault(fid, _Bounds(column))
                if stats.has_min_max:
                    aggregate.update(stats.min_raw, stats.max_raw)
            except pa.ArrowNotImplementedError:
                no_stats.add(fid)
    offsets.sort()
    for fid in no_stats:  # pyiceberg drops what a row group could not tell
        bounds.pop(fid, None)
        nulls.pop(fid, None)

    lower: dict[int, bytes] = {}
    upper: dict[int, bytes] = {}
    for fid, aggregate in bounds.items():
        if (low := aggregate.lower()) is not None:
            lower[fid] = low
        if (high := aggregate.upper()) is not None:
            upper[fid] = high

    def pairs(mapping: Mapping[int, Any]) -> list[dict[str, Any]]:
        return [{"key": k, "value": v} for k, v in mapping.items()]

    return {
        "content": 0,  # DATA
        "file_path": uri,
        "file_format": "PARQUET",
        "partition": {},
        "record_count": metadata.num_rows,
        "file_size_in_bytes": os.path.getsize(path),
        "column_sizes": pairs(sizes),
        "value_counts": pairs(values),
        "null_value_counts": pairs(nulls),
        "nan_value_counts": [],  # pyiceberg gets none from Parquet footers
        "lower_bounds": pairs(lower),
        "upper_bounds": pairs(upper),
        "key_metadata": None,
        "split_offsets": offsets,
        "equality_ids": None,
        "sort_order_id": None,
    }
