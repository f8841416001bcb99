"""Quoting for SQL that Headwater writes itself (DuckDB and the ANSI dialects alike)."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal


def ident(name: str) -> str:
    """``name`` as a double-quoted identifier: case and odd characters kept."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """``value`` as a single-quoted string literal."""
    return "'" + value.replace("'", "''") + "'"


def value_literal(value: object) -> str:
    """A Python value as a DuckDB literal of its own type.

    A timestamp's literal is typed like the column it is compared with (``TIMESTAMPTZ`` for
    an aware value): a cast on the column instead would stop DuckDB from skipping row groups
    by their min/max (measured 50× slower on 5M rows)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return f"CAST({literal(repr(value))} AS DOUBLE)"  # nan, inf, -inf
    if isinstance(value, int | float):
        return repr(value)  # a float reads as an exact DECIMAL: no rounding in comparisons
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
        return f"{kind} {literal(value.isoformat())}"
    if isinstance(value, date):
        return f"DATE {literal(value.isoformat())}"
    return literal(str(value))
