"""Find the catalog tables a SQL statement reads, with the line of each reference (sqlglot)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # sqlglot loads on first parse: an ingest-only run never needs it
    from sqlglot import exp

DIALECT = "duckdb"


@dataclass(frozen=True)
class TableRef:
    """A table referenced in SQL: ``namespace.name`` when qualified, else just the name."""

    name: str
    line: int | None
    qualified: bool


def parse_select(sql: str) -> exp.Expression:
    """Parse one statement; raises sqlglot.errors.ParseError with line information."""
    import logging

    import sqlglot

    # a statement sqlglot reads only as an opaque command is handed to DuckDB's parser
    # (sql/scans.py): its "falling back to parsing as a Command" warning is not the user's
    logging.getLogger("sqlglot").setLevel(logging.ERROR)

    tree: exp.Expression = sqlglot.parse_one(sql, read=DIALECT)  # type: ignore[assignment]
    return tree


def is_query(tree: exp.Expression) -> bool:
    """True for SELECT / WITH … SELECT / set operations — statements that only read."""
    from sqlglot import exp

    return isinstance(tree, exp.Query)


def table_references(tree: exp.Expression) -> list[TableRef]:
    """Every table read by ``tree``, CTE names and table functions excluded, first line wins."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    seen: dict[str, TableRef] = {}
    for table in tree.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Func):
            continue
        if table.catalog:
            name = f"{table.catalog}.{table.db}.{table.name}"
        elif table.db:
            name = f"{table.db}.{table.name}"
        else:
            if table.name.lower() in ctes:
                continue
            name = table.name
        line = table.this.meta.get("line") if isinstance(table.this, exp.Expression) else None
        seen.setdefault(name, TableRef(name=name, line=line, qualified="." in name))
    return list(seen.values())
