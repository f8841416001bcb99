"""Reading and checking classicmodels tables the same way on every engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from headwater.samples.schema import (
    TABLES,
    customers,
    employees,
    offices,
    orderdetails,
    orders,
    payments,
    productlines,
    products,
)

Contents = dict[str, list[tuple[Any, ...]]]


def normalise(value: Any) -> Any:
    """Driver differences that are not data differences (PostgreSQL may return memoryview)."""
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def sort_key(table: sa.Table) -> Any:
    positions = [list(table.columns).index(column) for column in table.primary_key.columns]
    return lambda row: tuple(row[i] for i in positions)


def contents(url: str) -> Contents:
    """Every table's rows through the schema's types, sorted by primary key in Python.

    Sorting in Python, not SQL: MariaDB, PostgreSQL and SQLite collate strings differently.
    """
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(
                    (tuple(normalise(v) for v in row) for row in conn.execute(sa.select(table))),
                    key=sort_key(table),
                )
                for table in TABLES
            }
    finally:
        engine.dispose()


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in TABLES
            }
    finally:
        engine.dispose()


def _orphans(conn: sa.Connection, child: sa.Column[Any], parent: sa.Column[Any]) -> int:
    """Rows of ``child``'s table whose non-NULL ``child`` value has no ``parent`` row."""
    parent_table = parent.table.alias("parent")
    parent_column = parent_table.c[parent.name]
    query = (
        sa.select(sa.func.count())
        .select_from(child.table.outerjoin(parent_table, parent_column == child))
        .where(child.is_not(None), parent_column.is_(None))
    )
    return int(conn.execute(query).scalar_one())


REFERENCES: Sequence[tuple[sa.Column[Any], sa.Column[Any]]] = (
    (customers.c.salesRepEmployeeNumber, employees.c.employeeNumber),
    (employees.c.reportsTo, employees.c.employeeNumber),
    (employees.c.officeCode, offices.c.officeCode),
    (orderdetails.c.orderNumber, orders.c.orderNumber),
    (orderdetails.c.productCode, products.c.productCode),
    (orders.c.customerNumber, customers.c.customerNumber),
    (payments.c.customerNumber, customers.c.customerNumber),
    (products.c.productLine, productlines.c.productLine),
)


def integrity_violations(url: str) -> dict[str, int]:
    """For every foreign key of the original dump, how many rows break it (all 0 when sound)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = {
                f"{child.table.name}.{child.name} -> {parent.table.name}.{parent.name}": _orphans(
                    conn, child, parent
                )
                for child, parent in REFERENCES
            }
            lineless = (
                sa.select(sa.func.count())
                .select_from(
                    orders.outerjoin(
                        orderdetails, orderdetails.c.orderNumber == orders.c.orderNumber
                    )
                )
                .where(orderdetails.c.orderNumber.is_(None))
            )
            found["orders without lines"] = int(conn.execute(lineless).scalar_one())
            return found
    finally:
        engine.dispose()
