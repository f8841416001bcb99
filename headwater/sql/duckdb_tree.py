"""A statement as DuckDB's own parser reads it (``json_serialize_sql``): the tables it reads
and the functions it calls, whatever sqlglot makes of the statement."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def parse(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any]:
    """DuckDB's parse tree of one SELECT; ``{"error": True, "error_message": …}`` otherwise."""
    row = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    assert row is not None
    tree: dict[str, Any] = json.loads(row[0])
    return tree


def nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object of the tree."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def tables(tree: Any) -> list[tuple[str, str, str]]:
    """(catalog, schema, table) of every table the statement names, each once, sorted;
    names it does not give are ``""`` (a CTE's reference has neither catalog nor schema)."""
    found = set()
    for node in nodes(tree):
        if node.get("type") == "BASE_TABLE" and isinstance(node.get("table_name"), str):
            parts = (node.get("catalog_name"), node.get("schema_name"), node["table_name"])
            found.add(tuple(str(part or "") for part in parts))
    return sorted(found)  # type: ignore[arg-type]


def functions(tree: Any) -> set[str]:
    """Every function the statement calls, and table functions named without parentheses
    (``FROM pragma_database_list``)."""
    found = set()
    for node in nodes(tree):
        name = node.get("function_name") or (
            node.get("table_name") if node.get("type") == "BASE_TABLE" else None
        )
        if isinstance(name, str):
            found.add(name)
    return found
