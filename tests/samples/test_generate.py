"""The generated dataset: deterministic, the original's size and shape, referentially sound."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater.errors import HeadwaterError
from headwater.samples import build_classicmodels
from headwater.samples.generate import GENERATORS, Plan, generated_rows
from headwater.samples.generate.orders import STATUSES
from headwater.samples.schema import TABLES, customers, orders, products
from tests.samples.conftest import Build
from tests.samples.tables import contents, counts, integrity_violations

GENERATED = ("employees", "customers", "products", "orders", "orderdetails", "payments")


def _engine(build: Build) -> sa.Engine:
    return sa.create_engine(build.url)


def _scalar(build: Build, sql: str) -> object:
    engine = _engine(build)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def test_scale_1_has_the_original_size(scale1: Build) -> None:
    assert scale1.counts == counts(scale1.url)
    fixed = {"offices": 7, "productlines": 7, "employees": 23}
    assert {table: scale1.counts[table] for table in fixed} == fixed
    assert scale1.counts["customers"] == 122
    assert scale1.counts["products"] == 110
    assert scale1.counts["orders"] == 326
    assert 2996 * 0.9 <= scale1.counts["orderdetails"] <= 2996 * 1.1
    assert 273 * 0.85 <= scale1.counts["payments"] <= 273 * 1.15


def test_scale_3_grows_the_business_not_the_fixed_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    built = build_classicmodels(url, scale=3)
    assert built == counts(url)
    assert (built["offices"], built["productlines"]) == (7, 7)
    assert 23 < built["employees"] <= 40  # grows with the square root of the scale
    assert (built["customers"], built["products"], built["orders"]) == (366, 330, 978)
    assert 3 * 2996 * 0.95 <= built["orderdetails"] <= 3 * 2996 * 1.05
    assert 3 * 273 * 0.9 <= built["payments"] <= 3 * 273 * 1.1
    assert set(integrity_violations(url).values()) == {0}


def test_same_seed_gives_identical_tables(scale1: Build, tmp_path: Path) -> None:
    again = f"sqlite:///{tmp_path / 'again.db'}"
    build_classicmodels(again, scale=1, seed=42)
    assert contents(again) == contents(scale1.url)


def test_another_seed_gives_other_data(scale1: Build, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    build_classicmodels(other, scale=1, seed=7)
    ours, theirs = contents(scale1.url), contents(other)
    assert [table for table in GENERATED if ours[table] == theirs[table]] == []
    assert ours["offices"] == theirs["offices"]  # fixed at every seed


def test_every_reference_resolves(scale1: Build) -> None:
    violations = integrity_violations(scale1.url)
    assert len(violations) == 9
    assert violations == dict.fromkeys(violations, 0)


def test_the_integrity_check_finds_an_orphan(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'orphan.db'}"
    build_classicmodels(url, scale=0.3)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE orders SET customerNumber = 99999 WHERE orderNumber = 10100"))
        conn.execute(sa.text("UPDATE products SET productLine = 'Rockets' WHERE rowid = 1"))
    engine.dispose()
    found = {check: n for check, n in integrity_violations(url).items() if n}
    assert found == {
        "orders.customerNumber -> customers.customerNumber": 1,
        "products.productLine -> productlines.productLine": 1,
    }


@pytest.mark.parametrize("scale", [0.01, 1, 3])
def test_primary_keys_are_unique_in_the_generated_rows(scale: float) -> None:
    """Checked on the streams, before any database constraint could hide a duplicate."""
    streams = generated_rows(Plan.of(scale, 42))
    for table in TABLES:
        key = [column.name for column in table.primary_key.columns]
        seen = Counter(tuple(row[name] for name in key) for row in streams[table.name])
        assert [k for k, n in seen.items() if n > 1] == [], table.name


def test_values_fit_their_columns() -> None:
    """VARCHAR lengths and SMALLINT range hold (SQLite would not complain; MariaDB would)."""
    streams = generated_rows(Plan.of(5, 3))
    for table in TABLES:
        limits = {
            column.name: column.type.length
            for column in table.columns
            if isinstance(column.type, sa.String) and column.type.length
        }
        for row in streams[table.name]:
            too_long = {
                name: row[name]
                for name, size in limits.items()
                if row[name] and len(row[name]) > size
            }
            assert too_long == {}, table.name
            for column in table.columns:
                if not column.nullable:
                    assert row[column.name] is not None, (table.name, column.name)
                if isinstance(column.type, sa.SmallInteger):
                    assert -32768 <= row[column.name] <= 32767


def test_types_come_back_as_python_types(scale1: Build) -> None:
    engine = _engine(scale1)
    with engine.connect() as conn:
        credit = conn.execute(sa.select(customers.c.creditLimit).limit(1)).scalar_one()
        stock, msrp = conn.execute(
            sa.select(products.c.quantityInStock, products.c.MSRP).limit(1)
        ).one()
        ordered = conn.execute(sa.select(orders.c.orderDate).limit(1)).scalar_one()
    engine.dispose()
    assert isinstance(credit, Decimal) and credit.as_tuple().exponent == -2
    assert isinstance(msrp, Decimal) and msrp.as_tuple().exponent == -2
    assert type(ordered) is dt.date
    assert type(stock) is int


def test_customers_look_like_the_original(scale1: Build) -> None:
    engine = _engine(scale1)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(customers)).mappings().all()
    engine.dispose()
    n = len(rows)
    assert 0.6 * n < sum(r["addressLine2"] is None for r in rows) < n
    assert 0.3 * n < sum(r["state"] is None for r in rows) < n
    assert 0 < sum(r["postalCode"] is None for r in rows) < 0.2 * n
    no_rep = [r for r in rows if r["salesRepEmployeeNumber"] is None]
    assert 0.1 * n < len(no_rep) < 0.35 * n
    assert {r["creditLimit"] for r in no_rep} == {Decimal("0.00")}
    assert all(r["creditLimit"] > 0 for r in rows if r["salesRepEmployeeNumber"] is not None)
    non_ascii = [
        r for r in rows if not (r["customerName"] + r["contactLastName"] + r["city"]).isascii()
    ]
    assert len(non_ascii) >= 5
    assert len({r["country"] for r in rows}) >= 10


def test_sales_reps_and_hierarchy(scale1: Build) -> None:
    engine = _engine(scale1)
    with engine.connect() as conn:
        top = (
            conn.execute(sa.text("SELECT jobTitle FROM employees WHERE reportsTo IS NULL"))
            .scalars()
            .all()
        )
        rep_titles = set(
            conn.execute(
                sa.text(
                    "SELECT DISTINCT e.jobTitle FROM customers c"
                    " JOIN employees e ON e.employeeNumber = c.salesRepEmployeeNumber"
                )
            ).scalars()
        )
        cycles = conn.execute(
            sa.text(
                "WITH RECURSIVE chain(start, boss, depth) AS ("
                " SELECT employeeNumber, reportsTo, 1 FROM employees"
                " UNION ALL SELECT chain.start, e.reportsTo, depth + 1 FROM chain"
                " JOIN employees e ON e.employeeNumber = chain.boss WHERE depth < 10)"
                " SELECT COUNT(*) FROM chain WHERE boss IS NOT NULL AND depth >= 10"
            )
        ).scalar_one()
    engine.dispose()
    assert top == ["President"]
    assert rep_titles == {"Sales Rep"}
    assert cycles == 0  # everyone reaches the president


def test_products_are_priced_sensibly(scale1: Build) -> None:
    engine = _engine(scale1)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(products)).mappings().all()
        lines = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM orderdetails d"
                " JOIN products p ON p.productCode = d.productCode"
                " WHERE d.priceEach > p.MSRP OR d.priceEach < 0.8 * p.MSRP - 0.01"
            )
        ).scalar_one()
    engine.dispose()
    assert all(re.fullmatch(r"S\d+_\d{4}", r["productCode"]) for r in rows)
    assert all(r["productCode"].split("_")[0][1:] == r["productScale"].split(":")[1] for r in rows)
    assert all(0 < r["buyPrice"] < r["MSRP"] for r in rows)
    assert all(15 <= r["quantityInStock"] <= 9997 for r in rows)
    assert len({r["productLine"] for r in rows}) == 7
    assert lines == 0


def test_orders_tell_a_consistent_story(scale1: Build) -> None:
    engine = _engine(scale1)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(orders)).mappings().all()
        line_numbers = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM (SELECT orderNumber, MIN(orderLineNumber) AS lo,"
                " MAX(orderLineNumber) AS hi, COUNT(DISTINCT orderLineNumber) AS n, COUNT(*) AS c"
                " FROM orderdetails GROUP BY orderNumber) WHERE lo != 1 OR hi != c OR n != c"
            )
        ).scalar_one()
    engine.dispose()
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= set(STATUSES)
    assert statuses["Shipped"] > 0.85 * len(rows)
    assert len(statuses) >= 4
    assert all(dt.date(2003, 1, 1) <= r["orderDate"] <= dt.date(2005, 5, 31) for r in rows)
    assert all(r["requiredDate"] > r["orderDate"] for r in rows)
    assert all(r["shippedDate"] is None or r["shippedDate"] >= r["orderDate"] for r in rows)
    open_orders = [r for r in rows if r["status"] in ("In Process", "On Hold")]
    assert all(r["shippedDate"] is None for r in open_orders)
    assert all(r["shippedDate"] is not None for r in rows if r["status"] == "Shipped")
    assert 0.5 * len(rows) < sum(r["comments"] is None for r in rows) < len(rows)
    dates = [r["orderDate"] for r in sorted(rows, key=lambda r: r["orderNumber"])]
    assert dates == sorted(dates)
    assert line_numbers == 0


def test_progress_reports_every_chunk(tmp_path: Path) -> None:
    calls: list[tuple[str, int]] = []
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    built = build_classicmodels(
        url, scale=4, progress=lambda table, rows: calls.append((table, rows))
    )
    tables = [table for table, _ in calls]
    assert list(dict.fromkeys(tables)) == [table.name for table in TABLES]
    for table in built:
        reported = [rows for name, rows in calls if name == table]
        assert reported[-1] == built[table]
        assert reported == sorted(set(reported))
    assert [rows for name, rows in calls if name == "orderdetails"][:1] == [10_000]


def test_a_rebuild_replaces_the_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    build_classicmodels(url, scale=2, seed=1)
    smaller = build_classicmodels(url, scale=0.5, seed=2)
    assert counts(url) == smaller
    assert smaller["customers"] == 61


def test_generators_cover_every_table() -> None:
    assert set(GENERATORS) == {table.name for table in TABLES}


@pytest.mark.parametrize("scale", [0, -1, float("nan"), float("inf")])
def test_a_scale_must_be_positive(scale: float, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    with pytest.raises(HeadwaterError, match="scale must be a positive number"):
        build_classicmodels(url, scale=scale)
    assert not (tmp_path / "classicmodels.db").exists()
