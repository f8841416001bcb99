"""Turn a literal of a MySQL dump into the Python value its column holds (int, Decimal, date…)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlglot import exp

Literal = str | bytes | None
Converter = Callable[[str | bytes], object]

#: what a converter raises on a value it cannot read
CONVERSION_ERRORS = (ValueError, InvalidOperation, UnicodeDecodeError)


class NotALiteral(Exception):
    """A VALUES entry that is an expression (a function call, arithmetic), not a literal."""


def literal(node: exp.Expression) -> Literal:
    """The text (or bytes, for hex literals) of a VALUES entry; None for NULL."""
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return f"-{node.this.this}"
    if isinstance(node, exp.HexString):
        digits = str(node.this)
        # MySQL reads an odd number of hex digits as if a 0 led them: 0xABC is 0x0ABC
        return bytes.fromhex(digits.zfill(len(digits) + len(digits) % 2))
    if isinstance(node, exp.Boolean):
        return "1" if node.this else "0"
    raise NotALiteral(node.sql(dialect="mysql"))


def converter(column: sa.Column[object]) -> Converter:
    """The function reading a literal as ``column``'s Python type."""
    kind = column.type
    if isinstance(kind, sa.Integer):
        return _to_int
    if isinstance(kind, sa.Numeric):
        return _to_decimal
    if isinstance(kind, sa.Date):
        return _to_date
    if isinstance(kind, sa.LargeBinary):
        return _to_bytes
    return _text


def _to_int(value: str | bytes) -> int:
    return int(_text(value))


def _to_decimal(value: str | bytes) -> Decimal:
    number = Decimal(_text(value))
    if not number.is_finite():
        raise ValueError(f"{number} is not a finite number")
    return number


def _to_date(value: str | bytes) -> date:
    return date.fromisoformat(_text(value))


def _to_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
