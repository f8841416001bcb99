"""The eight classicmodels tables, defined once for SQLite, MariaDB/MySQL and PostgreSQL.

Columns, column order, types, nullability and primary keys follow the MySQL sample database
dump (version 3.1). The plain ``KEY`` indexes of the dump are kept too, named
``ix_<table>_<column>`` because PostgreSQL index names share one namespace per schema.

Foreign-key constraints are deliberately **not** created:

* load order — with constraints every writer (the generator, the dump loader, an ingest test
  that truncates and reloads one table) would have to follow the dependency order exactly,
  and dropping the tables would need ``CASCADE`` or a reverse order on every engine;
* ``employees.reportsTo`` references ``employees`` itself, so rows would have to be inserted
  manager-first or with checks deferred, which MySQL cannot do;
* the dump itself disables ``FOREIGN_KEY_CHECKS`` while loading for the same reasons.

Referential integrity of the data is checked by the tests with SQL instead. The camelCase
identifiers are quoted by SQLAlchemy, so ``customerNumber`` stays ``customerNumber`` in
PostgreSQL too. Integer keys set ``autoincrement=False``: the values always come from the data.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

METADATA = sa.MetaData()

_MYSQL: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

_MEDIUMTEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_MEDIUMBLOB = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


def _key(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer, primary_key=True, autoincrement=False)


def _index(table: str, column: str) -> sa.Index:
    return sa.Index(f"ix_{table}_{column}", column)


customers = sa.Table(
    "customers",
    METADATA,
    _key("customerNumber"),
    sa.Column("customerName", sa.String(50), nullable=False),
    sa.Column("contactLastName", sa.String(50), nullable=False),
    sa.Column("contactFirstName", sa.String(50), nullable=False),
    sa.Column("phone", sa.String(50), nullable=False),
    sa.Column("addressLine1", sa.String(50), nullable=False),
    sa.Column("addressLine2", sa.String(50)),
    sa.Column("city", sa.String(50), nullable=False),
    sa.Column("state", sa.String(50)),
    sa.Column("postalCode", sa.String(15)),
    sa.Column("country", sa.String(50), nullable=False),
    sa.Column("salesRepEmployeeNumber", sa.Integer),
    sa.Column("creditLimit", sa.DECIMAL(10, 2)),
    _index("customers", "salesRepEmployeeNumber"),
    **_MYSQL,
)

employees = sa.Table(
    "employees",
    METADATA,
    _key("employeeNumber"),
    sa.Column("lastName", sa.String(50), nullable=False),
    sa.Column("firstName", sa.String(50), nullable=False),
    sa.Column("extension", sa.String(10), nullable=False),
    sa.Column("email", sa.String(100), nullable=False),
    sa.Column("officeCode", sa.String(10), nullable=False),
    sa.Column("reportsTo", sa.Integer),
    sa.Column("jobTitle", sa.String(50), nullable=False),
    _index("employees", "reportsTo"),
    _index("employees", "officeCode"),
    **_MYSQL,
)

offices = sa.Table(
    "offices",
    METADATA,
    sa.Column("officeCode", sa.String(10), primary_key=True),
    sa.Column("city", sa.String(50), nullable=False),
    sa.Column("phone", sa.String(50), nullable=False),
    sa.Column("addressLine1", sa.String(50), nullable=False),
    sa.Column("addressLine2", sa.String(50)),
    sa.Column("state", sa.String(50)),
    sa.Column("country", sa.String(50), nullable=False),
    sa.Column("postalCode", sa.String(15), nullable=False),
    sa.Column("territory", sa.String(10), nullable=False),
    **_MYSQL,
)

orderdetails = sa.Table(
    "orderdetails",
    METADATA,
    sa.Column("orderNumber", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("productCode", sa.String(15), primary_key=True),
    sa.Column("quantityOrdered", sa.Integer, nullable=False),
    sa.Column("priceEach", sa.DECIMAL(10, 2), nullable=False),
    sa.Column("orderLineNumber", sa.SmallInteger, nullable=False),
    _index("orderdetails", "productCode"),
    **_MYSQL,
)

orders = sa.Table(
    "orders",
    METADATA,
    _key("orderNumber"),
    sa.Column("orderDate", sa.Date, nullable=False),
    sa.Column("requiredDate", sa.Date, nullable=False),
    sa.Column("shippedDate", sa.Date),
    sa.Column("status", sa.String(15), nullable=False),
    sa.Column("comments", sa.Text),
    sa.Column("customerNumber", sa.Integer, nullable=False),
    _index("orders", "customerNumber"),
    **_MYSQL,
)

payments = sa.Table(
    "payments",
    METADATA,
    sa.Column("customerNumber", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("checkNumber", sa.String(50), primary_key=True),
    sa.Column("paymentDate", sa.Date, nullable=False),
    sa.Column("amount", sa.DECIMAL(10, 2), nullable=False),
    **_MYSQL,
)

productlines = sa.Table(
    "productlines",
    METADATA,
    sa.Column("productLine", sa.String(50), primary_key=True),
    sa.Column("textDescription", sa.String(4000)),
    sa.Column("htmlDescription", _MEDIUMTEXT),
    sa.Column("image", _MEDIUMBLOB),
    **_MYSQL,
)

products = sa.Table(
    "products",
    METADATA,
    sa.Column("productCode", sa.String(15), primary_key=True),
    sa.Column("productName", sa.String(70), nullable=False),
    sa.Column("productLine", sa.String(50), nullable=False),
    sa.Column("productScale", sa.String(10), nullable=False),
    sa.Column("productVendor", sa.String(50), nullable=False),
    sa.Column("productDescription", sa.Text, nullable=False),
    sa.Column("quantityInStock", sa.SmallInteger, nullable=False),
    sa.Column("buyPrice", sa.DECIMAL(10, 2), nullable=False),
    sa.Column("MSRP", sa.DECIMAL(10, 2), nullable=False),
    _index("products", "productLine"),
    **_MYSQL,
)

#: every table in a load order that would satisfy the dump's foreign keys
TABLES: tuple[sa.Table, ...] = (
    offices,
    productlines,
    employees,
    customers,
    products,
    orders,
    orderdetails,
    payments,
)

TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in TABLES)
