"""A missing table is told with the lake's closest tables, not DuckDB's system tables."""

from __future__ import annotations

import duckdb
import pytest

from headwater.sql.missing_tables import suggest_lake_tables

LAKE = ["gold.status_totals", "raw.customers", "raw.orders"]


def duckdb_error(sql: str) -> str:
    with pytest.raises(duckdb.CatalogException, match="does not exist") as raised:
        duckdb.connect().execute(sql)
    return str(raised.value)


def test_duckdbs_suggestion_is_replaced_by_the_lakes_tables() -> None:
    text = duckdb_error("SELECT * FROM pg_attrdeff")
    assert 'Did you mean "pg_attrdef"?' in text  # what DuckDB alone says
    assert suggest_lake_tables(text, LAKE) == text.replace(
        'Table with name pg_attrdeff does not exist!\nDid you mean "pg_attrdef"?',
        "Table with name pg_attrdeff does not exist!",
    )
    told = suggest_lake_tables(duckdb_error("SELECT * FROM status_total"), LAKE)
    assert told.startswith(
        "Catalog Error: Table with name status_total does not exist! Did you mean "
        "`gold.status_totals`? (the lake's tables are read as namespace.name)\n"
    )
    assert "LINE 1: SELECT * FROM status_total" in told


def test_the_same_name_in_any_namespace_comes_first() -> None:
    told = suggest_lake_tables(duckdb_error("SELECT * FROM customers"), LAKE)
    assert "Did you mean `raw.customers`?" in told
    assert suggest_lake_tables("Binder Error: column x not found", LAKE) == (
        "Binder Error: column x not found"
    )
