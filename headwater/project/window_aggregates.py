"""The aggregates of a windowed processor, checked when the project is loaded: each one SQL
expression with an alias, parsed by sqlglot (DuckDB dialect), that aggregates — every column
it reads is inside an aggregate function — and holds no window function or subquery.

A function sqlglot does not know as an aggregate is looked up among DuckDB's aggregate
functions (``duckdb_functions()``), so DuckDB-only aggregates (``arg_max``, ``histogram``…)
are accepted and a scalar function alone is not.
"""

from __future__ import annotations

from functools import cache


def check_aggregate(text: str, where: str) -> str:
    """The alias of the aggregate ``text``; raises ValueError saying what is wrong."""
    import sqlglot
    from sqlglot import exp

    example = "e.g. `avg(temperature) AS avg_temperature`"
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"{where} `{text}` does not parse: {str(exc).splitlines()[0]}") from None
    if not isinstance(tree, exp.Alias) or not tree.alias:
        raise ValueError(f"{where} `{text}` needs an alias naming its field ({example})")
    body = tree.this
    if body.find(exp.Window) is not None:
        raise ValueError(f"{where} `{text}`: a window function (OVER) is not an aggregate")
    if body.find(exp.Subquery, exp.Select) is not None:
        raise ValueError(f"{where} `{text}`: a subquery is not allowed in an aggregate")
    aggregates = [n for n in body.walk() if _is_aggregate(n)]
    if not aggregates:
        raise ValueError(
            f"{where} `{text}` is not an aggregate: use count, sum, avg, min, max… ({example})"
        )
    for column in body.find_all(exp.Column):
        if not _inside_any(column, aggregates):
            raise ValueError(
                f"{where} `{text}`: `{column.sql('duckdb')}` is outside every aggregate; "
                "aggregate it, or add it to the window's `by`"
            )
    return str(tree.alias)


def _is_aggregate(node: object) -> bool:
    from sqlglot import exp

    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, exp.Filter):  # count(*) FILTER (WHERE …)
        return _is_aggregate(node.this)
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower() in duckdb_aggregates()
    return False


def _inside_any(node: object, aggregates: list[object]) -> bool:
    from sqlglot import exp

    assert isinstance(node, exp.Expression)
    parent = node.parent
    while parent is not None:
        if any(parent is a for a in aggregates):
            return True
        parent = parent.parent
    return False


@cache
def duckdb_aggregates() -> frozenset[str]:
    """The names of DuckDB's aggregate functions."""
    import duckdb

    with duckdb.connect() as db:
        rows = db.sql(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "WHERE function_type = 'aggregate'"
        ).fetchall()
    return frozenset(r[0] for r in rows)
