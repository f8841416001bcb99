"""MySQL/MariaDB column types as Arrow types, one mapping for the snapshot and the binary log.

A column is described by its type's name as ``information_schema.COLUMNS.DATA_TYPE`` writes
it (``int``, ``varchar``, ``blob``, ``timestamp``…). The snapshot reads that name from the
catalog; the binary log names it from the table map event's field type and character set
(:func:`binlog_type_name`). Both then take the same Arrow type, so a table keeps its schema
from the snapshot into its changes. Integers follow the SQL readers
(:mod:`headwater.connect.sql.types`): up to ``int`` in ``int32``, ``int unsigned`` and
``bigint`` in ``int64``, ``bigint unsigned`` in ``decimal128(20, 0)``.

The two paths hand over different Python values for a few types (PyMySQL's ``BIT`` is bytes,
the binary log's a string of bits; the binary log's ``SET`` a Python set, PyMySQL's the
server's text), so each path has its converters, and the tests read both.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pymysqlreplication.constants import FIELD_TYPE

from headwater.errors import CdcError

Convert = Callable[[Any], Any] | None

_INT32 = frozenset({"tinyint", "smallint", "mediumint", "year"})
_TEXT = frozenset(
    {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}
)
_BINARY = frozenset(
    {
        "binary",
        "varbinary",
        "tinyblob",
        "blob",
        "mediumblob",
        "longblob",
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
    }
)
_TEMPORAL: dict[str, pa.DataType] = {
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    # TIMESTAMP is stored in UTC; both paths hand it over in UTC (the snapshot's session
    # time zone is +00:00, the binary log holds seconds since the epoch)
    "timestamp": pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"),
}

#: the type names the capture reads; others (MariaDB's uuid, inet4, inet6, vector) are
#: stored differently in the binary log than the server shows them
SUPPORTED = (
    _INT32 | _TEXT | _BINARY | set(_TEMPORAL) | {"int", "bigint", "float", "double", "decimal"}
) | {"bit", "real", "numeric", "bool", "boolean"}


@dataclass(frozen=True)
class ColumnType:
    """A column's type as the catalog names it, with what its Arrow type depends on."""

    name: str
    unsigned: bool = False
    precision: int | None = None
    scale: int | None = None

    def arrow(self) -> pa.DataType:
        name = self.name
        if name in _INT32 or name in ("bool", "boolean"):
            return pa.int32()
        if name == "int":
            return pa.int64() if self.unsigned else pa.int32()
        if name == "bigint":
            return pa.decimal128(20, 0) if self.unsigned else pa.int64()
        if name == "bit":
            return pa.int64()
        if name == "float":
            # FLOAT holds 32 bits: the binary log's value widened to 64 bits and the text
            # protocol's shortest decimal form meet again only as float32
            return pa.float32()
        if name in ("double", "real"):
            return pa.float64()
        if name in ("decimal", "numeric"):
            precision = self.precision or 10
            if precision > 38:  # beyond decimal128 (and Iceberg's decimal): kept exact as text
                return pa.string()
            return pa.decimal128(precision, self.scale or 0)
        if name in _TEXT:
            return pa.string()
        if name in _BINARY:
            return pa.binary()
        if name in _TEMPORAL:
            return _TEMPORAL[name]
        raise CdcError(
            f"column type `{name}` cannot be captured",
            hint="leave this table out, or change the column to a type in "
            "`headwater guide cdc mysql-and-mariadb`",
        )


def binlog_type_name(column: Any) -> str:
    """The catalog's name for a column of a table map event (a pymysqlreplication Column)."""
    kind = column.type
    binary = getattr(column, "character_set_name", None) == "binary"
    if kind in (FIELD_TYPE.VARCHAR, FIELD_TYPE.VAR_STRING, FIELD_TYPE.STRING):
        return "varbinary" if binary else "varchar"
    if kind in (
        FIELD_TYPE.BLOB,
        FIELD_TYPE.TINY_BLOB,
        FIELD_TYPE.MEDIUM_BLOB,
        FIELD_TYPE.LONG_BLOB,
    ):
        return "blob" if binary else "text"
    try:
        return _BINLOG_NAMES[kind]
    except KeyError:
        raise CdcError(
            f"binary log column `{column.name}` has field type {kind}, which the capture "
            "does not read",
            hint="leave this table out of the capture",
        ) from None


_BINLOG_NAMES = {
    FIELD_TYPE.TINY: "tinyint",
    FIELD_TYPE.SHORT: "smallint",
    FIELD_TYPE.INT24: "mediumint",
    FIELD_TYPE.LONG: "int",
    FIELD_TYPE.LONGLONG: "bigint",
    FIELD_TYPE.YEAR: "year",
    FIELD_TYPE.FLOAT: "float",
    FIELD_TYPE.DOUBLE: "double",
    FIELD_TYPE.DECIMAL: "decimal",
    FIELD_TYPE.NEWDECIMAL: "decimal",
    FIELD_TYPE.DATE: "date",
    FIELD_TYPE.NEWDATE: "date",
    FIELD_TYPE.DATETIME: "datetime",
    FIELD_TYPE.DATETIME2: "datetime",
    FIELD_TYPE.TIMESTAMP: "timestamp",
    FIELD_TYPE.TIMESTAMP2: "timestamp",
    FIELD_TYPE.TIME: "time",
    FIELD_TYPE.TIME2: "time",
    FIELD_TYPE.ENUM: "enum",
    FIELD_TYPE.SET: "set",
    FIELD_TYPE.BIT: "bit",
    FIELD_TYPE.JSON: "json",
    FIELD_TYPE.GEOMETRY: "geometry",
}


def binlog_column_type(column: Any) -> ColumnType:
    name = binlog_type_name(column)
    return ColumnType(
        name,
        unsigned=bool(column.unsigned),
        precision=getattr(column, "precision", None),
        scale=getattr(column, "decimals", None),
    )


def time_of_day(where: str) -> Callable[[Any], Any]:
    """TIME arrives as a timedelta (it may be negative or past 24 hours); Arrow's time64 holds
    a time of day, so a value outside one is an error naming the column, not a wrong value."""

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if not dt.timedelta(0) <= value < dt.timedelta(days=1):
            raise CdcError(
                f"TIME value {value} of {where} is not a time of day (00:00:00 to 23:59:59)",
                hint="capture durations as an integer number of seconds instead of TIME, "
                "or leave this column's table out",
            )
        return (dt.datetime.min + value).time()

    return convert


def binlog_converter(column: Any, type_: ColumnType, where: str) -> Convert:
    """What turns the binary log's value (pymysqlreplication's) into the Arrow value."""
    name = type_.name
    if name == "bit":
        return lambda v: None if v is None else int(v, 2)
    if name == "set":
        members: Sequence[str] = column.set_values or ()
        # a SET is written with its members in their declared order
        return lambda v: (
            v if v is None or isinstance(v, str) else ",".join(m for m in members if m in v)
        )
    if name == "time":
        return time_of_day(where)
    if name == "year":  # the year 0000 is stored as 0, which pymysqlreplication reads as 1900
        return lambda v: 0 if v == 1900 else v
    if name == "json":  # MySQL's binary JSON, decoded by pymysqlreplication
        return lambda v: None if v is None or isinstance(v, str) else json.dumps(_text_keys(v))
    if type_.arrow() == pa.string() and name in ("decimal", "numeric"):
        return lambda v: None if v is None else str(v)
    return None


def snapshot_converter(type_: ColumnType, where: str) -> Convert:
    """What turns PyMySQL's value (the text protocol's) into the Arrow value."""
    name = type_.name
    if name == "bit":
        return lambda v: None if v is None else int.from_bytes(v, "big")
    if name == "time":
        return time_of_day(where)
    if name in ("date", "datetime", "timestamp"):
        # PyMySQL hands a zero date (0000-00-00) over as its text; the binary log as None
        return lambda v: None if isinstance(v, str) else v
    if type_.arrow() == pa.string() and name in ("decimal", "numeric"):
        return lambda v: None if v is None else str(v)
    return None


def _text_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_text(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_keys(v) for v in value]
    return _text(value)


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
