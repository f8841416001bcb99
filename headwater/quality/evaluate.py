"""Run a table's checks in DuckDB: one scan for column checks, a query for each of the others."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from headwater.durations import parse_duration
from headwater.errors import HeadwaterError
from headwater.quality import rules as r
from headwater.quality.compile import CheckError, Compiled, compile_check, fill
from headwater.quality.results import CheckResult, SuiteResult

if TYPE_CHECKING:
    from headwater.lake.metadata import ColumnCounts

SAMPLE_ROWS = 5  # failing rows fetched per failed check, by default

# (table, check name) → earlier observed row counts, oldest first (for volume anomalies)
History = Callable[[str, str], Sequence[float]]


def evaluate(
    con: duckdb.DuckDBPyConnection,
    table: str,
    relation: str,
    checks: Sequence[r.Rule],
    resolve: Callable[[str], str],
    history: History | None = None,
    now: datetime | None = None,
    samples: int = SAMPLE_ROWS,
    known: ColumnCounts | None = None,
) -> SuiteResult:
    """Evaluate ``checks`` of ``table``, readable in ``con`` as ``relation`` (a view or a
    ``read_parquet(...)``); ``resolve`` maps another table's name to its relation.

    ``known`` are the table's row and NULL counts from its Iceberg manifests: row counts and
    not-NULL checks without a ``where`` are answered from them instead of the scan, which
    then reads fewer columns (or is not needed at all). Up to ``samples`` failing rows of
    each failed check are kept: collected by the scan for checks on the row alone, queried
    apart for the others (unique, relationships, custom SQL)."""
    now = now or datetime.now(UTC)
    columns = {
        row[0]: str(row[1]) for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    }
    compiled: list[Compiled | CheckResult] = []
    for index, check in enumerate(checks):
        try:
            cond = _condition(check.where)
            bounds = known.bounds if known is not None else None
            compiled.append(compile_check(check, index, table, columns, cond, bounds))
        except (CheckError, HeadwaterError) as exc:
            compiled.append(_broken(table, check, str(exc)))
    values, scanned, sampled = _plan_scan(compiled, known, samples)
    if scanned or sampled or "__rows" not in values:
        values = {**_scan(con, relation, scanned, sampled, samples), **values}
    results: list[CheckResult] = []
    for item in compiled:
        if isinstance(item, CheckResult):
            results.append(item)
            continue
        local = _row_local(item)
        try:
            result = _outcome(
                con,
                table,
                relation,
                item,
                values,
                columns,
                resolve,
                history,
                now,
                0 if local else samples,
            )
        except (duckdb.Error, CheckError, HeadwaterError) as exc:
            result = _broken(table, item.check, str(exc).splitlines()[0])
        rows = values.get(_sample_alias(item)) if local else None
        if rows and not result.passed and result.error is None:
            sample = tuple(_plain(row) for row in rows[:samples])
            result = dataclasses.replace(result, sample=sample)
        results.append(result)
    return SuiteResult(tuple(results))


def _plan_scan(
    compiled: Sequence[Compiled | CheckResult], known: ColumnCounts | None, samples: int
) -> tuple[dict[str, Any], list[Compiled], dict[str, str]]:
    """What the manifests' counts answer (alias → value), the checks left to the scan, and
    the failing-row conditions whose rows the scan collects as samples (alias → condition)."""
    values: dict[str, Any] = {}
    scanned: list[Compiled] = []
    sampled: dict[str, str] = {}
    for item in compiled:
        if not isinstance(item, Compiled):
            continue
        answered = _from_counts(item, known)
        if answered is None:
            scanned.append(item)
        else:
            values.update(answered)
        failing = answered is None or any(v for a, v in answered.items() if a.endswith("_fail"))
        if samples > 0 and failing and item.failing_rows and _row_local(item):
            sampled[_sample_alias(item)] = item.failing_rows
    if known is not None:
        values["__rows"] = known.rows
    return values, scanned, sampled


def _row_local(c: Compiled) -> bool:
    """Whether ``c``'s failing rows are told by a condition on the row alone: then the scan
    collects a few of them itself (a bounded ``min_by``), with no query of their own."""
    cond = c.failing_rows
    if not cond or c.sample_settings:
        return False
    return "{table}" not in cond and "{other}" not in cond


def _sample_alias(c: Compiled) -> str:
    return next(iter(c.expressions), "c").rsplit("_", 1)[0] + "_sample"


def _broken(table: str, check: r.Rule, message: str) -> CheckResult:
    return CheckResult(
        table=table,
        check=check.label,
        kind=str(getattr(check, "kind", "")),
        severity=check.severity,
        passed=False,
        error=message,
    )


def _condition(where: str | None) -> str | None:
    """A user's ``where`` checked to be one expression, so it cannot smuggle a statement."""
    if where is None:
        return None
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(where, dialect="duckdb", into=exp.Condition)
    except sqlglot.errors.SqlglotError as exc:  # a parse or a tokenizer (unclosed quote) error
        raise CheckError(f"`where: {where}` is not a SQL condition: {exc}") from None
    return tree.sql(dialect="duckdb")


def _scan(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    compiled: list[Compiled],
    sampled: dict[str, str],
    samples: int,
) -> dict[str, Any]:
    """One SELECT with every check's aggregates, and up to ``samples`` rows meeting each
    condition of ``sampled``; a failing one is found by running them apart."""
    expressions = {"__rows": "count(*)"}
    for c in compiled:
        expressions.update(c.expressions)
    for alias, cond in sampled.items():  # any `samples` of them: the key is a constant
        expressions[alias] = f"min_by({_ROW}, 0, {int(samples)}) FILTER (WHERE {cond})"
    relation = f"{relation} AS {_ROW}"
    # checks often ask for the same aggregate (rows, non-NULL values of a column): once each
    distinct = list(dict.fromkeys(expressions.values()))
    select = ", ".join(f"{sql} AS v{i}" for i, sql in enumerate(distinct))
    try:
        row = con.execute(f"SELECT {select} FROM {relation}").fetchone()
        by_sql = dict(zip(distinct, row or (), strict=True))
        return {alias: by_sql[sql] for alias, sql in expressions.items()}
    except duckdb.Error:
        pass  # one check's SQL is wrong: evaluate them one by one to tell which
    values: dict[str, Any] = {}
    for alias, sql in expressions.items():
        try:
            got = con.execute(f"SELECT {sql} FROM {relation}").fetchone()
            values[alias] = got[0] if got else None
        except duckdb.Error as exc:
            values[alias] = _Failed(str(exc).splitlines()[0])
    return values


def _from_counts(c: Compiled, known: ColumnCounts | None) -> dict[str, Any] | None:
    """The values of ``c``'s aggregates when the manifests' counts already hold them."""
    check = c.check
    if known is None or check.where is not None:
        return None
    if isinstance(check, r.NotNull) and check.column in known.nulls:
        values = {}
        for alias in c.expressions:
            values[alias] = known.nulls[check.column] if alias.endswith("_fail") else known.rows
        return values
    if isinstance(check, r.RowCount | r.VolumeAnomaly):
        return dict.fromkeys(c.expressions, known.rows)
    return None


_ROW = "__headwater_row"  # the scanned relation's alias: its rows as structs, for samples


class _Failed:
    def __init__(self, message: str) -> None:
        self.message = message


def _outcome(
    con: duckdb.DuckDBPyConnection,
    table: str,
    relation: str,
    c: Compiled,
    values: dict[str, Any],
    columns: dict[str, str],
    resolve: Callable[[str], str],
    history: History | None,
    now: datetime,
    samples: int,
) -> CheckResult:
    check = c.check
    for alias in c.expressions:
        if isinstance(values.get(alias), _Failed):
            raise CheckError(values[alias].message)
    prefix = next(iter(c.expressions), "").rsplit("_", 1)[0]
    got = {
        alias.rsplit("_", 1)[1]: v for alias, v in values.items() if alias.startswith(prefix + "_")
    }
    total = int(values.get("__rows") or 0)
    evaluated, failing, passed = 0, 0, True
    observed: Any = None
    sample_sql = ""
    other = resolve(check.to) if isinstance(check, r.Relationships) else None

    if "eval" in got:  # value checks, not_null, unique
        evaluated, failing = int(got["eval"] or 0), int(got["fail"] or 0)
        observed = failing
        passed = failing <= math.floor((1 - check.mostly) * evaluated + 1e-9)
    elif isinstance(check, r.RowCount):
        rows = int(got["rows"] or 0)
        evaluated, observed = rows, rows
        if check.equal_to:
            other_rows = con.execute(fill(c.query, other=resolve(check.equal_to))).fetchone()
            expected_rows = int(other_rows[0]) if other_rows else 0
            passed = rows == expected_rows
            observed = {"rows": rows, "other": expected_rows}
        passed = passed and (check.min is None or rows >= check.min)
        passed = passed and (check.max is None or rows <= check.max)
    elif isinstance(check, r.Freshness):
        newest = got["max"]
        evaluated, observed = total, newest
        passed = newest is not None and _age(newest, now) <= parse_duration(check.max_age)
    elif isinstance(check, r.AggregateBetween):
        observed = got["agg"]
        evaluated = total
        passed = (
            observed is not None
            and (check.min is None or observed >= check.min)
            and (check.max is None or observed <= check.max)
        )
    elif isinstance(check, r.VolumeAnomaly):
        rows = int(got["rows"] or 0)
        evaluated, observed = rows, rows
        past = list(history(table, check.label)) if history else []
        if len(past) >= check.min_history:
            mean, spread = statistics.fmean(past), statistics.pstdev(past)
            z = abs(rows - mean) / spread if spread else (0.0 if rows == mean else math.inf)
            observed = {"rows": rows, "mean": round(mean, 2), "z": round(z, 2)}
            passed = z <= check.z
    elif isinstance(check, r.Relationships):
        _has_column(con, str(other), check.to, check.field)
        row = con.execute(fill(c.query, table=relation, other=other)).fetchone()
        evaluated, failing = (int(row[0]), int(row[1])) if row else (0, 0)
        observed = failing
        passed = failing <= math.floor((1 - check.mostly) * evaluated + 1e-9)
    elif isinstance(check, r.CustomSql):
        sql = _select_only(check.sql).replace("{table}", relation)
        row = con.execute(fill(c.query, sql=sql)).fetchone()
        evaluated, failing = total, int(row[0]) if row else 0
        observed = failing
        passed = failing <= math.floor((1 - check.mostly) * evaluated + 1e-9)
        c.failing_rows = None
        sample_sql = f"SELECT * FROM ({sql}) AS failures LIMIT {int(samples)}"
    elif isinstance(check, r.SchemaRule):
        observed, passed = _schema(check, columns)
        evaluated = len(columns)

    sample: tuple[dict[str, Any], ...] = ()
    if not passed and samples > 0:
        if c.failing_rows:
            cond = fill(c.failing_rows, table=relation, other=other)
            sample_sql = f"SELECT * FROM {relation} WHERE {cond} LIMIT {int(samples)}"
            for name, setting in c.sample_settings.items():
                con.execute(f"SET {name} = {int(setting)}")
            try:
                sample = _rows(con, sample_sql)
            finally:
                for name in c.sample_settings:
                    con.execute(f"RESET {name}")
        elif isinstance(check, r.CustomSql):
            sample = _rows(con, sample_sql)
    return CheckResult(
        table=table,
        check=check.label,
        kind=str(getattr(check, "kind", "")),
        severity=check.severity,
        passed=passed,
        evaluated=evaluated,
        failing=failing,
        observed=_plain(observed),
        expected=c.expected,
        sample=sample,
    )


def _has_column(con: duckdb.DuckDBPyConnection, relation: str, table: str, column: str) -> None:
    """Refuse a reference to a column ``table`` lacks, naming the columns it has (DuckDB's
    own error, from inside a subquery, names neither)."""
    columns = [str(row[0]) for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    if column.lower() not in (name.lower() for name in columns):
        raise CheckError(f"no column `{column}` in `{table}`; columns: {', '.join(columns)}")


def _select_only(sql: str) -> str:
    """Refuse a custom check whose SQL is not a single SELECT (it must not write)."""
    from headwater.sql.references import is_query, parse_select

    try:
        tree = parse_select(sql.replace("{table}", "__checked_table"))
    except Exception as exc:  # sqlglot's ParseError
        raise CheckError(f"the check's SQL does not parse: {exc}") from None
    if not is_query(tree):
        raise CheckError(
            "a sql check must be a SELECT returning the failing rows; it may not write"
        )
    return sql


def _schema(check: r.SchemaRule, columns: dict[str, str]) -> tuple[Any, bool]:
    names = list(columns)
    problems = []
    missing = [c for c in check.columns if c not in columns]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if check.exact:
        extra = [c for c in names if c not in check.columns]
        if extra:
            problems.append(f"unexpected {', '.join(extra)}")
    if (
        check.ordered
        and not missing
        and [c for c in names if c in check.columns] != list(check.columns)
    ):
        problems.append(f"order is {', '.join(n for n in names if n in check.columns)}")
    for name, wanted in check.types.items():
        have = columns.get(name)
        if have is None:
            problems.append(f"missing {name}")
        elif not have.upper().startswith(str(wanted).upper()):
            problems.append(f"{name} is {have}, not {wanted}")
    return ("; ".join(problems) or "as expected"), not problems


def _age(newest: Any, now: datetime) -> Any:
    if isinstance(newest, datetime):
        moment = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
        return now - moment
    if isinstance(newest, date):
        return now - datetime.combine(newest, datetime.min.time(), tzinfo=UTC)
    raise CheckError(f"freshness cannot compare {newest!r} with the time")


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[dict[str, Any], ...]:
    result = con.execute(sql)
    names = [d[0] for d in result.description or ()]
    return tuple(
        {n: _plain(v) for n, v in zip(names, row, strict=True)} for row in result.fetchall()
    )


def _plain(v: Any) -> Any:
    """A value JSON can hold (dates and decimals as text)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)
