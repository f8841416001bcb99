"""SQLAlchemy column types to exact Arrow types (DECIMAL(p,s) → decimal128(p,s), and so on)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

Convert = Callable[[Any], Any] | None

# An unconstrained NUMERIC has no declared scale; this one keeps cents and rates exact.
DEFAULT_DECIMAL = pa.decimal128(38, 10)


def arrow_type(
    column_type: sa.types.TypeEngine[Any], dialect: str = ""
) -> tuple[pa.DataType, Convert]:
    """The Arrow type for a column, and a value converter when the driver's value needs one.

    SQLite's INTEGER holds 64 bits whatever its declared name, so it always maps to int64.
    """
    t = column_type
    if dialect == "sqlite" and isinstance(t, sa.Integer) and not isinstance(t, sa.Boolean):
        return pa.int64(), None
    if isinstance(t, sa.Boolean):
        return pa.bool_(), None
    if isinstance(t, sa.Integer):
        unsigned = bool(getattr(t, "unsigned", False))
        if isinstance(t, sa.BigInteger):
            return (pa.decimal128(20, 0) if unsigned else pa.int64()), None
        if isinstance(t, sa.SmallInteger) or type(t).__name__ in ("TINYINT", "MEDIUMINT"):
            return pa.int32(), None
        return (pa.int64() if unsigned else pa.int32()), None
    if isinstance(t, sa.Float):
        return pa.float64(), _float if t.asdecimal else None
    if isinstance(t, sa.Numeric):
        if t.precision and t.precision <= 38:
            return pa.decimal128(t.precision, t.scale or 0), None
        return DEFAULT_DECIMAL, None
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if t.timezone else None), None
    if isinstance(t, sa.Date):
        return pa.date32(), None
    if isinstance(t, sa.Time):
        return pa.time64("us"), None
    if isinstance(t, sa.Interval):
        return pa.duration("us"), None
    if isinstance(t, sa.LargeBinary | sa.types._Binary):
        return pa.binary(), None
    if isinstance(t, sa.JSON):
        return pa.string(), _json
    if isinstance(t, sa.Uuid):  # PostgreSQL's UUID too (a subclass)
        return pa.string(), _text
    if isinstance(t, sa.ARRAY):
        item, convert = arrow_type(t.item_type, dialect)
        return pa.list_(item), None if convert is None else (
            lambda v: None if v is None else [convert(x) for x in v]
        )
    if isinstance(t, sa.String | sa.Enum):
        return pa.string(), None
    return pa.string(), _text


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _json(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
