"""Checks in Python: the same rules as ``checks/*.yaml``, for ``checks/<suite>.py`` files.

A Python suite is a module in the checks folder with a ``CHECKS`` mapping of table name to a
list of checks, built with these functions (or written as the YAML entries, as dicts)::

    # checks/orders.py
    from headwater import checks

    CHECKS = {
        "raw.orders": [
            checks.not_null("orderNumber"),
            checks.between("amount", min=0, severity="warn"),
            checks.sql("SELECT * FROM {table} WHERE shippedDate < orderDate", name="shipped_late"),
        ],
    }
"""

from __future__ import annotations

from typing import Any

from headwater.quality import rules as r


def not_null(column: str, **common: Any) -> r.Rule:
    return r.NotNull(column=column, **common)


def unique(*columns: str, **common: Any) -> r.Rule:
    return r.Unique(columns=columns, **common)


def accepted_values(column: str, values: list[Any], **common: Any) -> r.Rule:
    return r.AcceptedValues(column=column, values=tuple(values), **common)


def not_in_set(column: str, values: list[Any], **common: Any) -> r.Rule:
    return r.NotInSet(column=column, values=tuple(values), **common)


def between(column: str, min: Any = None, max: Any = None, **common: Any) -> r.Rule:
    return r.Between(column=column, min=min, max=max, **common)


def regex(column: str, pattern: str, **common: Any) -> r.Rule:
    return r.Regex(column=column, pattern=pattern, **common)


def length(column: str, min: int | None = None, max: int | None = None, **common: Any) -> r.Rule:
    return r.Length(column=column, min=min, max=max, **common)


def row_count(
    min: int | None = None, max: int | None = None, equal_to: str | None = None, **common: Any
) -> r.Rule:
    return r.RowCount(min=min, max=max, equal_to=equal_to, **common)


def freshness(column: str, max_age: str, **common: Any) -> r.Rule:
    return r.Freshness(column=column, max_age=max_age, **common)


def schema(*columns: str, **options: Any) -> r.Rule:
    return r.SchemaRule(columns=columns, **options)


def relationships(column: str, to: str, field: str, **common: Any) -> r.Rule:
    return r.Relationships(column=column, to=to, field=field, **common)


def sql(query: str, **common: Any) -> r.Rule:
    return r.CustomSql(sql=query, **common)


def aggregate(column: str, function: str, **options: Any) -> r.Rule:
    return r.AggregateBetween(column=column, function=function, **options)  # type: ignore[arg-type]


def volume_anomaly(**options: Any) -> r.Rule:
    return r.VolumeAnomaly(**options)


__all__ = [
    "accepted_values",
    "aggregate",
    "between",
    "freshness",
    "length",
    "not_in_set",
    "not_null",
    "regex",
    "relationships",
    "row_count",
    "schema",
    "sql",
    "unique",
    "volume_anomaly",
]
