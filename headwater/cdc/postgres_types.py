"""PostgreSQL column types to Arrow types, and whole columns of PostgreSQL's text output
(what pgoutput and ``COPY … (FORMAT csv)`` send) cast to them in one vectorised step.

The text is the one the capture's sessions ask for (:data:`SESSION_OPTIONS`): ISO dates,
UTC timestamps, hex ``bytea``, exact floats. Types without an exact Arrow counterpart
(intervals, arrays, enums, ranges, ``numeric`` without precision…) stay text, exactly as the
server wrote them.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import CdcError

#: the settings of every session a capture opens, so that values read the same whatever the
#: server's or the role's defaults
SESSION_OPTIONS = (
    "-c DateStyle=ISO -c TimeZone=UTC -c bytea_output=hex -c extra_float_digits=3 "
    "-c IntervalStyle=postgres"
)

# The built-in types by OID (pg_type.dat); pgoutput names only other types (Type messages).
BUILTIN: dict[int, str] = {
    16: "bool",
    17: "bytea",
    18: "char",
    19: "name",
    20: "int8",
    21: "int2",
    23: "int4",
    25: "text",
    26: "oid",
    114: "json",
    700: "float4",
    701: "float8",
    1042: "bpchar",
    1043: "varchar",
    1082: "date",
    1083: "time",
    1114: "timestamp",
    1184: "timestamptz",
    1186: "interval",
    1266: "timetz",
    1700: "numeric",
    2950: "uuid",
    3802: "jsonb",
}

_SIMPLE: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "bytea": pa.binary(),
}

# numeric's type modifier: ((precision << 16) | scale) + VARHDRSZ
_VARHDRSZ = 4


def type_name(oid: int, named: dict[int, str] | None = None) -> str:
    """The type's name: a built-in's, or one a Type message (or the catalog) gave; else
    ``oid:<n>``."""
    return BUILTIN.get(oid) or (named or {}).get(oid) or f"oid:{oid}"


def arrow_type(name: str, typmod: int = -1) -> pa.DataType:
    """The Arrow type for a PostgreSQL type name (as :data:`BUILTIN` spells them) and its
    modifier; text for anything without an exact counterpart."""
    if name == "numeric":
        if typmod >= _VARHDRSZ:
            precision = ((typmod - _VARHDRSZ) >> 16) & 0xFFFF
            scale = (typmod - _VARHDRSZ) & 0xFFFF
            if 0 < precision <= 38 and scale <= precision:
                return pa.decimal128(precision, scale)
        return pa.string()  # no declared precision: any scale, kept exact as text
    return _SIMPLE.get(name, pa.string())


def to_arrow(text: pa.Array, target: pa.DataType, where: str = "") -> pa.Array:
    """A string array of PostgreSQL's text output as ``target`` (from :func:`arrow_type`)."""
    try:
        if target == pa.string():
            return text
        if target == pa.bool_():
            return pc.equal(text, "t")
        if target == pa.binary():
            return _hex_bytes(text)
        if pa.types.is_time(target):
            # Arrow has no string → time cast: read the time as a time of day on one date
            stamps = pc.cast(
                pc.binary_join_element_wise("2000-01-01 ", text, ""), pa.timestamp("us")
            )
            return pc.cast(stamps, target)
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise CdcError(
            f"cannot read {where or 'a column'} as {target}: {exc}",
            hint="values such as 'infinity' dates or NaN numerics have no Arrow form; "
            "change them in the source, or change the column's type",
        ) from exc


def _hex_bytes(text: pa.Array) -> pa.Array:
    """``\\x0a1b`` strings as bytes: the hex digits of the whole column decoded in one call
    over the array's data buffer, the offsets halved by Arrow."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    # drop the leading \x; a fresh array, so its buffers start at offset 0
    text = pc.utf8_slice_codeunits(text, 2)
    if len(text) == 0:
        return pa.array([], pa.binary())
    validity, offsets_buffer, data_buffer = text.buffers()
    offsets = pa.Array.from_buffers(pa.int32(), len(text) + 1, [None, offsets_buffer])
    start, end = offsets[0].as_py(), offsets[-1].as_py()
    digits = data_buffer.to_pybytes()[start:end] if data_buffer is not None else b""
    data = bytes.fromhex(digits.decode("ascii"))  # ValueError: not hex
    two, first = pa.scalar(2, pa.int32()), pa.scalar(start, pa.int32())
    halves = pc.divide(pc.subtract(offsets, first), two)
    return pa.Array.from_buffers(
        pa.binary(), len(text), [validity, halves.buffers()[1], pa.py_buffer(data)]
    )
