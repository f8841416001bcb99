"""Profile a table in DuckDB and suggest the checks its data already satisfies.

Two scans: DuckDB's ``SUMMARIZE`` gives the displayed statistics of every column at once
(approximate distinct counts, mean, spread, quartiles); one exact aggregate query then gives
what the suggestions rely on (NULL and distinct counts, typed minimum and maximum, the values
of low-cardinality text columns), so that each suggested check passes on the profiled data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import duckdb

from headwater.connect.sql.quoting import ident
from headwater.errors import ProjectError
from headwater.quality.compile import NUMERIC

MAX_VALUES = 10  # a text column with at most this many distinct values gets accepted_values
BOUNDED = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")  # temporal types `between` takes
_NESTED = ("STRUCT", "MAP", "UNION")


@dataclass(frozen=True)
class ColumnProfile:
    """One column's statistics: exact counts and bounds, SUMMARIZE's estimates as text."""

    name: str
    type: str
    nulls: int
    distinct: int | None  # exact; None for nested types
    approx_distinct: int
    min: str | None  # as SUMMARIZE shows it
    max: str | None
    mean: str | None
    std: str | None
    q25: str | None
    q50: str | None
    q75: str | None
    low: Any = None  # the typed minimum, for numeric and date/timestamp columns
    high: Any = None
    values: tuple[str, ...] = ()  # every value of a low-cardinality text column


@dataclass(frozen=True)
class TableProfile:
    """A table's row count and the profile of each of its columns, in schema order."""

    table: str
    rows: int
    columns: tuple[ColumnProfile, ...]
    profiled_at: datetime


def profile(con: duckdb.DuckDBPyConnection, table: str, relation: str) -> TableProfile:
    """Profile ``table``, readable in ``con`` as ``relation`` (a view or a table function)."""
    summary = con.execute(f"SUMMARIZE SELECT * FROM {relation}")
    names = [d[0] for d in summary.description or ()]
    stats = [dict(zip(names, row, strict=True)) for row in summary.fetchall()]
    expressions = {"rows": "count(*)"}
    for i, s in enumerate(stats):
        c, kind = ident(s["column_name"]), str(s["column_type"])
        expressions[f"n{i}"] = f"count({c})"
        if not _nested(kind):
            expressions[f"d{i}"] = f"count(DISTINCT {c})"
        if _bounded(kind):
            expressions[f"lo{i}"] = f"min({c})"
            expressions[f"hi{i}"] = f"max({c})"
        if kind == "VARCHAR" and int(s["approx_unique"] or 0) <= 2 * MAX_VALUES:
            expressions[f"v{i}"] = f"list_sort(list(DISTINCT {c}) FILTER (WHERE {c} IS NOT NULL))"
    select = ", ".join(f"{sql} AS {ident(alias)}" for alias, sql in expressions.items())
    row = con.execute(f"SELECT {select} FROM {relation}").fetchone() or ()
    got = dict(zip(expressions, row, strict=True))
    rows = int(got["rows"])
    columns = []
    for i, s in enumerate(stats):
        values = got.get(f"v{i}")
        columns.append(
            ColumnProfile(
                name=s["column_name"],
                type=str(s["column_type"]),
                nulls=rows - int(got[f"n{i}"]),
                distinct=got.get(f"d{i}"),
                approx_distinct=int(s["approx_unique"] or 0),
                min=s["min"],
                max=s["max"],
                mean=s["avg"],
                std=s["std"],
                q25=s["q25"],
                q50=s["q50"],
                q75=s["q75"],
                low=got.get(f"lo{i}"),
                high=got.get(f"hi{i}"),
                values=tuple(values) if values and len(values) <= MAX_VALUES else (),
            )
        )
    return TableProfile(table, rows, tuple(columns), datetime.now(UTC))


HEADERS = (
    "column",
    "type",
    "nulls",
    "null %",
    "distinct",
    "min",
    "max",
    "mean",
    "std",
    "q25",
    "median",
    "q75",
)


def display_rows(p: TableProfile, width: int = 24) -> list[tuple[str, ...]]:
    """One row of text per column, under ``HEADERS``: what ``headwater profile`` shows."""

    def short(value: Any) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= width else text[: width - 1] + "…"

    return [
        (
            c.name,
            c.type,
            f"{c.nulls:,}",
            f"{100 * c.nulls / p.rows:.1f}" if p.rows else "",
            "" if c.distinct is None else f"{c.distinct:,}",
            *(short(v) for v in (c.min, c.max, _round(c.mean), _round(c.std), c.q25, c.q50, c.q75)),
        )
        for c in p.columns
    ]


def _round(text: str | None) -> str | None:
    """SUMMARIZE's mean and spread to six significant digits (a date's mean stays as it is)."""
    try:
        return f"{float(text):.6g}" if text is not None else None
    except ValueError:
        return text


def suggest(p: TableProfile) -> list[dict[str, Any]]:
    """Checks the profiled data passes, as suite entries: not_null where nothing is NULL,
    unique where every value differs, between the observed bounds, accepted_values where
    at most ``MAX_VALUES`` text values repeat, and a non-empty table."""
    if not p.rows:
        return []
    checks: list[dict[str, Any]] = [{"row_count": {"min": 1}}]
    for c in p.columns:
        if c.nulls == 0:
            checks.append({"not_null": c.name})
        if p.rows > 1 and c.distinct == p.rows:
            checks.append({"unique": c.name})
        low, high = _outward(c.low, down=True), _outward(c.high, down=False)
        if low is not None and high is not None:
            checks.append({"between": {"column": c.name, "min": low, "max": high}})
        if c.values and len(c.values) < p.rows - c.nulls:
            checks.append({"accepted_values": {"column": c.name, "values": list(c.values)}})
    return checks


def suite_yaml(p: TableProfile) -> str:
    """The suggested checks as a suite file (``<table>: [checks]``) in the style of
    docs/quality.md, headed by where they came from."""
    at = p.profiled_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# Suggested by `headwater profile {p.table}` on {p.rows:,} rows, {at}."]
    lines.append(f"{_flow(p.table)}:" + ("" if p.rows else " []"))
    for entry in suggest(p):
        ((kind, args),) = entry.items()
        lines.append(f"  - {kind}: {_flow(args)}")
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    """``value`` as inline YAML (quoted where YAML needs it)."""
    import yaml

    text = yaml.safe_dump(
        [value], default_flow_style=True, allow_unicode=True, width=1 << 30, sort_keys=False
    )
    return text.strip()[1:-1]


def write_suite(path: Path, p: TableProfile) -> None:
    """Write the suggested suite to ``path``; an existing file is never overwritten."""
    refuse_existing(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:
            file.write(suite_yaml(p))
    except FileExistsError:
        refuse_existing(path)


def refuse_existing(path: Path) -> None:
    """Raise if ``path`` exists: a suite someone wrote is not replaced by a suggestion."""
    if path.exists():
        raise ProjectError(
            f"{path} exists; profile does not overwrite a suite",
            hint="choose another file name, or remove the file first",
        )


def _nested(kind: str) -> bool:
    return kind.startswith(_NESTED) or kind.endswith("]")


def _bounded(kind: str) -> bool:
    return not _nested(kind) and (kind.startswith(NUMERIC) or kind in BOUNDED)


def _outward(v: Any, down: bool) -> Any:
    """A bound on the safe side of ``v`` with at most 15 significant digits: DuckDB reads a
    longer decimal literal into a double inexactly, which could fail the observed extreme."""
    if v is None or isinstance(v, bool | int):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if not isinstance(v, float | Decimal):
        return v  # a date or a timestamp
    exact = Decimal(v)
    if exact == exact.to_integral_value() and abs(exact) < 2**53:
        return int(exact)
    step = Decimal(1).scaleb(exact.adjusted() - 14)
    return float(exact.quantize(step, rounding=ROUND_FLOOR if down else ROUND_CEILING))
