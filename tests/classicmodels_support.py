"""Helpers for the classicmodels end-to-end tests: a private copy of the example, and the
star schema's SQL translated to run directly in a source engine for comparison."""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlglot import exp

from headwater import Workspace

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "classicmodels"
TABLES = [
    "customers",
    "employees",
    "offices",
    "orderdetails",
    "orders",
    "payments",
    "productlines",
    "products",
]
MODELS = ["dim_customers", "dim_products", "dim_locations", "fact_orders"]


def copy_example(target: Path) -> Path:
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".headwater"))
    return target


def normalise(value: Any) -> Any:
    """One comparable form for values that engines return in different Python types."""
    if isinstance(value, decimal.Decimal | float):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()  # SQLite hands untyped SQL its dates as text
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def sorted_rows(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(normalise(v) for v in row.values()) for row in rows),
        key=lambda r: tuple((v is None, str(v)) for v in r),
    )


def source_rows(url: str, sql: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def in_source_dialect(model_sql: str, dialect: str, inline: dict[str, str]) -> str:
    """A model's SELECT as the source engine would run it: raw.x → x, gold.y → (its SQL)."""
    tree = sqlglot.parse_one(model_sql, read="duckdb")

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.db == "raw":
            return exp.table_(node.name, alias=node.alias or None)
        if isinstance(node, exp.Table) and node.db == "gold":
            sub = sqlglot.parse_one(
                in_source_dialect(inline[node.name], dialect, inline), read=_write(dialect)
            )
            return exp.Subquery(
                this=sub, alias=exp.TableAlias(this=exp.to_identifier(node.alias or node.name))
            )
        return node

    return tree.transform(rewrite).sql(dialect=_write(dialect), identify=True)


def _write(dialect: str) -> str:
    return {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}.get(dialect, dialect)


def model_sql() -> dict[str, str]:
    return {m: (EXAMPLE / "models" / "gold" / f"{m}.sql").read_text() for m in MODELS}


def assert_lake_matches_source(ws: Workspace, url: str) -> None:
    """Every raw table holds exactly the source's rows and values; every gold table equals
    the same SQL run directly in the source engine."""
    dialect = sa.make_url(url).get_backend_name()
    quote = "`" if dialect in ("mysql", "mariadb") else '"'
    for table in TABLES:
        lake_rows = ws.lake.table(f"raw.{table}").scan().to_arrow().to_pylist()
        src = source_rows(url, f"SELECT * FROM {quote}{table}{quote}")
        assert len(lake_rows) == len(src), table
        assert sorted_rows(lake_rows) == sorted_rows(src), table
    if dialect in ("mysql", "mariadb"):
        # MySQL's default collations ignore trailing spaces (and case), DuckDB compares bytes:
        # the real dump has 'Auckland' and 'Auckland  ', which MySQL's DISTINCT merges. Make
        # the source compare like DuckDB so that the two engines' semantics agree.
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for table in TABLES:
                conn.exec_driver_sql(
                    f"ALTER TABLE `{table}` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"
                )
        engine.dispose()
    sqls = model_sql()
    for model in MODELS:
        lake_rows = ws.query(f"SELECT * FROM gold.{model}").to_pylist()
        src = source_rows(url, in_source_dialect(sqls[model], dialect, sqls))
        assert len(src) == len(lake_rows), model
        assert sorted_rows(lake_rows) == sorted_rows(src), model
