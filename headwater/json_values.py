"""Query values as JSON, the same for ``headwater query --format json`` and the HTTP API."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from typing import Any


def json_value(value: Any) -> Any:
    """Values JSON has no type for: decimals as numbers, times in ISO 8601, bytes in base64,
    intervals in seconds (``json.dumps(..., default=json_value)``)."""
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def finite(value: Any) -> Any:
    """``value`` with NaN and ±Infinity (which JSON cannot hold) as None, in lists and dicts too;
    ``json.dumps`` writes floats itself and never asks ``default`` about them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    return value
