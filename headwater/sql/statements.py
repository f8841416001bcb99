"""Which statements may run over the lake: reads only, one at a time, checked by both parsers.

sqlglot names what a statement does (for the error message) and DuckDB, which runs it, has the
last word: a statement sqlglot cannot parse is still classified by DuckDB's own parser, so
nothing but a read reaches the engine.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from headwater.errors import QueryError

if TYPE_CHECKING:
    import duckdb
    from sqlglot import exp

# EXPLAIN wraps a read, but sqlglot parses it as an opaque command: it is split off
_PREFIX = re.compile(
    r"^(?P<prefix>(?:\s|--[^\n]*(?:\n|$)|/\*.*?\*/)*EXPLAIN(?:\s+ANALYZE)?\s+)",
    re.IGNORECASE | re.DOTALL,
)
_ALLOWED = "only SELECT statements (and WITH, UNION, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) can be run here"
_READ_COMMANDS = ("SHOW", "DESCRIBE", "SUMMARIZE")
_HINT = "tables are written by pipelines (sources and models), not by ad-hoc SQL"


def split_prefix(sql: str) -> tuple[str, str]:
    """``"EXPLAIN SELECT …"`` → ``("EXPLAIN ", "SELECT …")``; no EXPLAIN → ``("", sql)``."""
    match = _PREFIX.match(sql)
    if match is None:
        return "", sql
    return match.group("prefix"), sql[match.end() :]


def is_read(tree: exp.Expression) -> bool:
    """True for statements that only read: queries, VALUES, DESCRIBE, SHOW, SUMMARIZE, PIVOT."""
    from sqlglot import exp

    reads = exp.Query | exp.Values | exp.Describe | exp.Show | exp.Summarize | exp.Pivot
    return isinstance(tree, reads)


def kind_of(tree: exp.Expression) -> str:
    """What a statement does, as SQL says it: ``DELETE``, ``CREATE TABLE``, ``COPY``…"""
    from sqlglot import exp

    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    kind = tree.args.get("kind")
    name = tree.key.upper()
    return f"{name} {kind.upper()}" if isinstance(kind, str) and kind else name


def refuse(tree: exp.Expression) -> None:
    """Raise QueryError naming the statement when ``tree`` is not a read."""
    from sqlglot import exp

    if isinstance(tree, exp.Block):
        raise QueryError("give one statement at a time", hint="remove the extra `;` statements")
    if isinstance(tree, exp.Command) and str(tree.this).upper() in _READ_COMMANDS:
        return  # sqlglot does not parse every form of these; DuckDB's parser decides
    if not is_read(tree):
        raise QueryError(f"{kind_of(tree)} statements cannot be run: {_ALLOWED}", hint=_HINT)


def require_read(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise QueryError unless DuckDB reads ``sql`` as exactly one SELECT (or EXPLAIN of one)."""
    import duckdb

    _, body = split_prefix(sql)  # EXPLAIN [ANALYZE] of a read is a read
    try:
        statements = con.extract_statements(body)
    except duckdb.Error as exc:
        raise QueryError(str(exc).strip(), hint="fix the SQL and run again") from exc
    if not statements:
        raise QueryError("the statement is empty", hint="give one SELECT statement")
    if len(statements) != 1:
        kinds = ", ".join(st.type.name for st in statements)
        if ";" not in body.strip().rstrip(";"):  # one statement that DuckDB expands into several
            raise QueryError(
                f"this statement runs as several ({kinds}), which a read-only query cannot",
                hint="for a PIVOT, list its values: `ON column IN ('a', 'b')`",
            )
        raise QueryError("give one statement at a time", hint="remove the extra `;` statements")
    kind = statements[0].type.name
    if kind != "SELECT":
        raise QueryError(f"{kind} statements cannot be run: {_ALLOWED}", hint=_HINT)
