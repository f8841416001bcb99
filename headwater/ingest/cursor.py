"""Cursor values: their maximum over Arrow batches, how they are stored, the lag window.

A cursor value is kept in the table's snapshot summary as JSON with its Arrow type, so it
comes back as the same Python value (int, float, Decimal, date, datetime, str).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from headwater.durations import parse_duration
from headwater.errors import ProjectError


def behind(value: Any, lag: str | float | None) -> Any:
    """``value`` moved back by ``lag`` (a number for numeric cursors, a duration for times)."""
    if lag is None or value is None:
        return value
    if isinstance(value, datetime | date):
        delta = parse_duration(lag) if isinstance(lag, str) else timedelta(seconds=float(lag))
        return value - delta
    if isinstance(value, str):
        raise ProjectError(
            "`lag` needs a numeric, date or timestamp cursor; this cursor holds text",
            hint="remove `lag`, or use a typed cursor column",
        )
    amount = Decimal(str(lag)) if isinstance(value, Decimal) else float(lag)
    result = value - amount
    return int(result) if isinstance(value, int) and float(lag).is_integer() else result


def batch_max(column: pa.Array | pa.ChunkedArray) -> Any:
    """The largest non-null value of ``column``, or None."""
    if len(column) == column.null_count:
        return None
    return pc.max(column).as_py()


def later(a: Any, b: Any) -> Any:
    """The larger of two cursor values, either of which may be None."""
    if a is None:
        return b
    if b is None:
        return a
    return b if _comparable(b) > _comparable(a) else a


def _comparable(value: Any) -> Any:
    # an aware and a naive timestamp never meet in one column; naive ones are taken as UTC
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def encode(value: Any) -> str | None:
    """The stored form of a cursor value."""
    if value is None:
        return None
    if isinstance(value, datetime):
        kind, text = "timestamp", value.isoformat()
    elif isinstance(value, date):
        kind, text = "date", value.isoformat()
    elif isinstance(value, Decimal):
        kind, text = "decimal", str(value)
    elif isinstance(value, bool):
        kind, text = "bool", str(value)
    elif isinstance(value, int):
        kind, text = "int", str(value)
    elif isinstance(value, float):
        kind, text = "float", repr(value)
    else:
        kind, text = "string", str(value)
    return json.dumps({"type": kind, "value": text})


def decode(stored: str | None) -> Any:
    """The cursor value from its stored form."""
    if not stored:
        return None
    data = json.loads(stored)
    kind, text = data["type"], data["value"]
    if kind == "timestamp":
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "decimal":
        return Decimal(text)
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text == "True"
    return text


def like(value: Any, example: Any) -> Any:
    """``value`` as the type of ``example`` when a driver returned it otherwise (SQLite gives
    DATETIME as text); None when it cannot be."""
    if value is None or example is None or type(value) is type(example):
        return value
    try:
        return typed(str(value), pa.scalar(example).type)
    except ProjectError:
        return None


def typed(value: Any, arrow_type: pa.DataType) -> Any:
    """A configured value (``initial``: text or a number) as a value of the column's type."""
    if value is None or not isinstance(value, str | int | float):
        return value
    try:
        return pa.scalar(value).cast(arrow_type).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ProjectError(
            f"cursor start `{value}` cannot be read as {arrow_type}: {exc}",
            hint="write `initial` in the cursor column's type, e.g. 2024-01-01 or 2024-01-01T00:00:00",
        ) from exc
