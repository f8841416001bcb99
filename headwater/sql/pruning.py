"""File pruning: the filters of a statement on one table, as an Iceberg expression for planning.

pyiceberg's scan planning then drops the data files whose partition values or column bounds
cannot match (a partitioned table's other partitions, an appended table's older files), so
DuckDB never opens them; DuckDB still applies every filter itself, row group by row group.

Only what is certainly implied by the WHERE clause is translated: comparisons of a column of
the table with a literal of the column's own kind, IN, BETWEEN, LIKE 'prefix%', and AND/OR of
those. Anything else is left out, which only keeps more files. Floating-point columns are left
out too: DuckDB orders NaN above every number, Iceberg's bounds leave NaN out.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.expressions import BooleanExpression
    from pyiceberg.schema import Schema
    from pyiceberg.types import IcebergType
    from sqlglot import exp

_INTEGER = re.compile(r"^-?\d+$")
_JOINS = (None, "", "INNER", "OUTER", "CROSS")  # joins after which WHERE still filters each side


def filtered(table: exp.Table) -> bool:
    """True when a WHERE clause filters the rows of ``table`` (before any work on them)."""
    return _select(table) is not None


def row_filter(table: exp.Table, schema: Schema) -> BooleanExpression | None:
    """What the WHERE clause of ``table``'s SELECT requires of ``table``'s rows, or None."""
    select = _select(table)
    if select is None:
        return None
    alone = not select.args.get("joins")
    scope = _Scope(table.alias_or_name.lower(), alone, schema)
    return scope.translate(select.args["where"].this)


def _select(table: exp.Table) -> exp.Select | None:
    """The SELECT whose FROM or JOIN reads ``table``, when it has a WHERE that filters it."""
    from sqlglot import exp

    parent = table.parent
    if isinstance(parent, exp.Join):
        joined = parent.args.get("kind")
        if parent.args.get("method") or (joined or None) not in _JOINS:
            return None
    elif not isinstance(parent, exp.From):
        return None
    select = parent.parent
    if not isinstance(select, exp.Select) or select.args.get("where") is None:
        return None
    return select


class _Scope:
    """Translation of predicates on the columns of one table of a SELECT."""

    def __init__(self, alias: str, alone: bool, schema: Schema) -> None:
        self.alias = alias
        self.alone = alone  # the only table of the SELECT: unqualified columns are its own
        self.schema = schema

    def translate(self, node: exp.Expression) -> BooleanExpression | None:
        from pyiceberg.expressions import And, Or
        from sqlglot import exp

        if isinstance(node, exp.Paren):
            return self.translate(node.this)
        if isinstance(node, exp.And):
            left, right = self.translate(node.this), self.translate(node.expression)
            # a conjunct left out only weakens the filter, which keeps more files
            if left is not None and right is not None:
                return And(left, right)
            return left if left is not None else right
        if isinstance(node, exp.Or):
            left, right = self.translate(node.this), self.translate(node.expression)
            return Or(left, right) if left is not None and right is not None else None
        try:
            return self._predicate(node)
        except (ValueError, TypeError, ArithmeticError, InvalidOperation):
            return None  # a literal that does not convert exactly: no pruning on it

    def _predicate(self, node: exp.Expression) -> BooleanExpression | None:
        from pyiceberg import expressions as ice
        from sqlglot import exp

        comparisons: dict[type, tuple[Any, Any]] = {
            exp.EQ: (ice.EqualTo, ice.EqualTo),
            exp.NEQ: (ice.NotEqualTo, ice.NotEqualTo),
            exp.GT: (ice.GreaterThan, ice.LessThan),
            exp.GTE: (ice.GreaterThanOrEqual, ice.LessThanOrEqual),
            exp.LT: (ice.LessThan, ice.GreaterThan),
            exp.LTE: (ice.LessThanOrEqual, ice.GreaterThanOrEqual),
        }
        if type(node) in comparisons:
            forward, flipped = comparisons[type(node)]
            if (field := self._field(node.this)) is not None:
                value = _value(node.expression, field.field_type)
                return None if value is None else forward(term=field.name, value=value)
            if (field := self._field(node.expression)) is not None:
                value = _value(node.this, field.field_type)
                return None if value is None else flipped(term=field.name, value=value)
            return None
        if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("unnest"):
            field = self._field(node.this)
            if field is None or not node.expressions:
                return None
            values = [_value(v, field.field_type) for v in node.expressions]
            return None if None in values else ice.In(term=field.name, values=set(values))
        if isinstance(node, exp.Between) and not node.args.get("symmetric"):
            field = self._field(node.this)
            if field is None:
                return None
            low = _value(node.args["low"], field.field_type)
            high = _value(node.args["high"], field.field_type)
            if low is None or high is None:
                return None
            return ice.And(
                ice.GreaterThanOrEqual(term=field.name, value=low),
                ice.LessThanOrEqual(term=field.name, value=high),
            )
        if isinstance(node, exp.Like):
            return self._prefix(node)
        # IS [NOT] NULL keeps NULL-extended rows of an outer join: only for a lone table
        if self.alone and isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            field = self._field(node.this)
            return None if field is None else ice.IsNull(term=field.name)
        if (
            self.alone
            and isinstance(node, exp.Not)
            and isinstance(node.this, exp.Is)
            and isinstance(node.this.expression, exp.Null)
        ):
            field = self._field(node.this.this)
            return None if field is None else ice.NotNull(term=field.name)
        return None

    def _prefix(self, node: exp.Like) -> BooleanExpression | None:
        """``column LIKE 'abc%'`` → starts with ``abc``."""
        from pyiceberg.expressions import StartsWith
        from pyiceberg.types import StringType
        from sqlglot import exp

        field = self._field(node.this)
        pattern = node.expression
        if field is None or not isinstance(field.field_type, StringType):
            return None
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            return None
        text = pattern.this
        stem = text[:-1]
        if not text.endswith("%") or "%" in stem or "_" in stem or "\\" in stem or not stem:
            return None
        return StartsWith(term=field.name, value=stem)

    def _field(self, node: exp.Expression) -> Any:
        """The table's top-level field that ``node`` names, or None."""
        from sqlglot import exp

        if not isinstance(node, exp.Column) or node.args.get("db") or node.args.get("catalog"):
            return None
        qualifier = node.table.lower()
        if qualifier != self.alias and (qualifier or not self.alone):
            return None
        try:
            return self.schema.find_field(node.name, case_sensitive=False)
        except ValueError:
            return None  # a select-list alias, or another table's column


def _value(node: exp.Expression, kind: IcebergType) -> Any:
    """The Python value of literal ``node`` for a column of Iceberg type ``kind``, or None when
    it is not a literal of the column's own kind (DuckDB's casts are not second-guessed)."""
    from pyiceberg import types as t
    from sqlglot import exp

    text: str | None = None
    number = False
    if isinstance(node, exp.Literal):
        text, number = node.this, not node.is_string
    elif isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.is_number:
        text, number = "-" + node.this.this, True
    elif isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        if not _cast_fits(node.to, kind):
            return None  # `code = CAST('5' AS INT)`: DuckDB compares as numbers, '05' matches
        text = node.this.this  # DATE '…', TIMESTAMP '…'
    elif isinstance(node, exp.Boolean):
        return bool(node.this) if isinstance(kind, t.BooleanType) else None
    if text is None:
        return None
    if isinstance(kind, t.IntegerType | t.LongType):
        return int(text) if number and _INTEGER.match(text) else None
    if isinstance(kind, t.DecimalType):
        if not number:
            return None
        value = Decimal(text)
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or -exponent > kind.scale:
            return None  # more digits than the column holds: rounding would change the test
        return value.quantize(Decimal(1).scaleb(-kind.scale))
    if number:
        return None
    if isinstance(kind, t.StringType):
        return text
    if isinstance(kind, t.DateType):
        return date.fromisoformat(text)
    if isinstance(kind, t.TimestampType | t.TimestamptzType):
        moment = datetime.fromisoformat(text)
        if isinstance(kind, t.TimestampType):
            return None if moment.tzinfo else moment
        # the session's time zone is UTC: a time without a zone is a UTC time
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None


def _cast_fits(to: exp.DataType, kind: IcebergType) -> bool:
    """Whether a string cast to ``to`` compares with a column of ``kind`` as ``kind`` does:
    text with text, dates and timestamps with either."""
    from pyiceberg import types as t
    from sqlglot import exp

    types = exp.DataType.Type
    if isinstance(kind, t.StringType):
        return to.this in exp.DataType.TEXT_TYPES
    if isinstance(kind, t.DateType | t.TimestampType | t.TimestamptzType):
        moments = (
            types.DATE,
            types.DATETIME,
            types.TIMESTAMP,
            types.TIMESTAMPNTZ,
            types.TIMESTAMPTZ,
        )
        return to.this in moments  # not TIMESTAMP_S/_MS/_NS: their precision is another
    return False
