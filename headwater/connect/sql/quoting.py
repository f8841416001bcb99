"""Quoting for SQL that Headwater writes itself (DuckDB and the ANSI dialects alike)."""

from __future__ import annotations


def ident(name: str) -> str:
    """``name`` as a double-quoted identifier: case and odd characters kept."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """``value`` as a single-quoted string literal."""
    return "'" + value.replace("'", "''") + "'"
