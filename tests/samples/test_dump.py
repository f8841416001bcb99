"""The dump loader writes what the MariaDB client loads, exactly, in SQLite, MariaDB, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater.errors import SourceError
from headwater.samples import build_classicmodels
from headwater.samples.schema import TABLE_NAMES, TABLES
from tests.samples.conftest import Reference
from tests.samples.tables import Contents, contents, counts, integrity_violations

#: rows per table in mysqlsampledatabase.sql version 3.1
DUMP_COUNTS = {
    "offices": 7,
    "productlines": 7,
    "employees": 23,
    "customers": 122,
    "products": 110,
    "orders": 326,
    "orderdetails": 2996,
    "payments": 273,
}


def typed(row: tuple[Any, ...]) -> list[tuple[str, Any]]:
    """A row with each value's type: Decimal('1') and 1 are equal but not the same data."""
    return [(type(value).__name__, value) for value in row]


def assert_same_rows(loaded: Contents, reference: Contents) -> None:
    for table in TABLE_NAMES:
        assert len(loaded[table]) == len(reference[table]), table
        for ours, theirs in zip(loaded[table], reference[table], strict=True):
            assert typed(ours) == typed(theirs), f"{table}: loaded {ours!r}, MariaDB has {theirs!r}"


@pytest.mark.mysql  # the reference is loaded by the MariaDB client
def test_the_mariadb_client_loaded_the_whole_dump(reference: Reference) -> None:
    assert {table: len(rows) for table, rows in reference.rows.items()} == DUMP_COUNTS


@pytest.mark.mysql  # the reference is loaded by the MariaDB client
def test_dump_into_sqlite_matches_the_mariadb_client(
    reference: Reference, classicmodels_dump: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    assert build_classicmodels(url, dump=classicmodels_dump) == DUMP_COUNTS
    assert_same_rows(contents(url), reference.rows)


@pytest.mark.mysql
def test_dump_into_mariadb_matches_the_mariadb_client(
    reference: Reference, classicmodels_dump: Path, mysql_url: str
) -> None:
    assert build_classicmodels(mysql_url, dump=classicmodels_dump) == DUMP_COUNTS
    assert_same_rows(contents(mysql_url), reference.rows)


@pytest.mark.postgres
def test_dump_into_postgres_matches_the_mariadb_client(
    reference: Reference, classicmodels_dump: Path, postgres_url: str
) -> None:
    assert build_classicmodels(postgres_url, dump=classicmodels_dump) == DUMP_COUNTS
    assert_same_rows(contents(postgres_url), reference.rows)


def test_dump_values_survive_escapes_and_non_ascii(
    classicmodels_dump: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    build_classicmodels(url, dump=classicmodels_dump)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        customer = conn.execute(
            sa.text("SELECT contactFirstName, city FROM customers WHERE customerNumber = 144")
        ).one()
        office = conn.execute(
            sa.text("SELECT addressLine1 FROM offices WHERE officeCode = '4'")
        ).one()
        descriptions = dict(
            conn.execute(
                sa.text(
                    "SELECT productCode, productDescription FROM products"
                    " WHERE productCode IN ('S700_2610', 'S72_3212')"
                )
            ).all()
        )
        names = set(conn.execute(sa.text("SELECT productName FROM products")).scalars())
        no_rep = conn.execute(
            sa.text("SELECT COUNT(*) FROM customers WHERE salesRepEmployeeNumber IS NULL")
        ).scalar_one()
    engine.dispose()
    assert tuple(customer) == ("Christina ", "Luleå")  # trailing space kept, å intact
    assert office[0] == "43 Rue Jouffroy D'abbans"  # \' unescaped
    assert '31 1/2" Length x 22 3/8" High' in descriptions["S700_2610"]  # \"
    assert "Includes a stand.\r\nMany extras" in descriptions["S72_3212"]  # \r\n
    assert "1980\u2019s GM Manhattan Express" in names  # a character outside latin-1
    assert no_rep == 22  # NULL stays NULL


def test_real_data_passes_the_integrity_checks(classicmodels_dump: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    build_classicmodels(url, dump=classicmodels_dump)
    assert set(integrity_violations(url).values()) == {0}


def _mariadb_type_in_postgres(column_type: str) -> tuple[str, int | None, int | None]:
    """(data_type, length or precision, scale) PostgreSQL should report for a MariaDB type."""
    if match := re.fullmatch(r"varchar\((\d+)\)", column_type):
        return ("character varying", int(match[1]), None)
    if match := re.fullmatch(r"decimal\((\d+),(\d+)\)", column_type):
        return ("numeric", int(match[1]), int(match[2]))
    simple = {
        "int(11)": "integer",
        "smallint(6)": "smallint",
        "date": "date",
        "text": "text",
        "mediumtext": "text",
        "mediumblob": "bytea",
    }
    return (simple[column_type], None, None)


def _mariadb_type_in_sqlite(column_type: str) -> str:
    if match := re.fullmatch(r"decimal\((\d+),(\d+)\)", column_type):
        return f"DECIMAL({match[1]}, {match[2]})"
    simple = {"int(11)": "INTEGER", "smallint(6)": "SMALLINT", "mediumtext": "TEXT"}
    return simple.get(column_type, column_type.replace("mediumblob", "blob").upper())


@pytest.mark.mysql
def test_mariadb_schema_is_the_dump_schema(reference: Reference, mysql_url: str) -> None:
    build_classicmodels(mysql_url, scale=0.1)
    database = sa.make_url(mysql_url).database
    engine = sa.create_engine(mysql_url)
    with engine.connect() as conn:
        ours: dict[str, list[tuple[Any, ...]]] = {}
        for row in conn.exec_driver_sql(
            "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE,"
            " COLUMN_KEY, COLUMN_DEFAULT FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (database,),
        ):
            ours.setdefault(row[0], []).append(tuple(row[1:]))
        inspector = sa.inspect(conn)
        primary_keys = {
            name: inspector.get_pk_constraint(name)["constrained_columns"] for name in TABLE_NAMES
        }
    engine.dispose()
    assert ours == reference.columns
    assert primary_keys == reference.primary_keys


@pytest.mark.postgres
def test_postgres_schema_is_the_dump_schema(reference: Reference, postgres_url: str) -> None:
    build_classicmodels(postgres_url, scale=0.1)
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        ours: dict[str, list[tuple[Any, ...]]] = {}
        for row in conn.execute(
            sa.text(
                # integers report their binary precision: only text and decimal sizes matter
                "SELECT table_name, column_name, ordinal_position, data_type,"
                " CASE WHEN data_type = 'numeric' THEN numeric_precision"
                " ELSE character_maximum_length END,"
                " CASE WHEN data_type = 'numeric' THEN numeric_scale END,"
                " is_nullable FROM information_schema.columns WHERE table_schema = 'public'"
                " ORDER BY table_name, ordinal_position"
            )
        ):
            ours.setdefault(row[0], []).append(tuple(row[1:]))
        inspector = sa.inspect(conn)
        primary_keys = {
            name: inspector.get_pk_constraint(name)["constrained_columns"] for name in TABLE_NAMES
        }
    engine.dispose()
    expected = {
        table: [
            (name, position, *_mariadb_type_in_postgres(kind), nullable)
            for name, position, kind, nullable, _key, _default in columns
        ]
        for table, columns in reference.columns.items()
    }
    assert ours == expected
    assert primary_keys == reference.primary_keys


@pytest.mark.mysql  # the reference is loaded by the MariaDB client
def test_sqlite_schema_is_the_dump_schema(reference: Reference, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    build_classicmodels(url, scale=0.1)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ours = {
            table: [
                (name, position + 1, kind, "NO" if notnull else "YES", pk)
                for position, name, kind, notnull, _default, pk in conn.exec_driver_sql(
                    f'PRAGMA table_info("{table}")'
                )
            ]
            for table in TABLE_NAMES
        }
    engine.dispose()
    expected = {
        table: [
            (
                name,
                position,
                _mariadb_type_in_sqlite(kind),
                nullable,
                reference.primary_keys[table].index(name) + 1
                if name in reference.primary_keys[table]
                else 0,
            )
            for name, position, kind, nullable, _key, _default in columns
        ]
        for table, columns in reference.columns.items()
    }
    assert ours == expected


# --- errors: each names the file and what to do, and leaves the database as it was -----------


def _generated(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    build_classicmodels(url, scale=0.2)
    return url


def test_missing_dump_says_where_to_get_it(tmp_path: Path) -> None:
    url = _generated(tmp_path)
    before = counts(url)
    missing = tmp_path / "nowhere" / "mysqlsampledatabase.sql"
    with pytest.raises(SourceError) as caught:
        build_classicmodels(url, dump=missing)
    assert f"the classicmodels dump {missing} does not exist" in str(caught.value)
    assert "mysqlsampledatabase.sql" in (caught.value.hint or "")
    assert "leave the dump out to generate" in (caught.value.hint or "")
    assert counts(url) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello, this is not SQL at all", "is not a MySQL dump sqlglot can read"),
        ("SELECT 1;", "is not a classicmodels dump: it has no CREATE TABLE"),
        (
            "CREATE TABLE film (film_id int); INSERT INTO film VALUES (1);",
            "is not a classicmodels dump: it creates film, not offices, productlines",
        ),
    ],
)
def test_a_file_that_is_not_the_dump_is_refused(tmp_path: Path, text: str, message: str) -> None:
    url = _generated(tmp_path)
    before = counts(url)
    other = tmp_path / "sakila.sql"
    other.write_text(text)
    with pytest.raises(SourceError) as caught:
        build_classicmodels(url, dump=other)
    assert str(other) in str(caught.value)
    assert message in str(caught.value)
    assert counts(url) == before


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            b"(10100,'2003-01-06'",
            b"(10100,'2003-13-06'",
            ":3289: table `orders` row 1: cannot read orderDate='2003-13-06' as DATE",
        ),
        (
            b"(10100,'2003-01-06'",
            b"(10100,NOW()",
            ":3289: table `orders` row 1: orderDate is `NOW()`",
        ),
        (
            b"(103,'Atelier graphique',",
            b"(103,",
            ":55: row 1 of the INSERT into `customers` has 12 values for 13 columns",
        ),
        (
            b"`territory` varchar(10) NOT NULL,",
            b"",
            ":229: table `offices` has the columns ['officeCode'",
        ),
        (
            b"DROP TABLE IF EXISTS `customers`;",
            b"CREATE TABLE `film` (`id` int);",
            "creates tables film that are not part of classicmodels",
        ),
    ],
)
def test_an_edited_dump_points_at_the_line(
    classicmodels_dump: Path, tmp_path: Path, old: bytes, new: bytes, message: str
) -> None:
    url = _generated(tmp_path)
    before = counts(url)
    edited = tmp_path / "edited.sql"
    original = classicmodels_dump.read_bytes()
    edited.write_bytes(original.replace(old, new, 1))
    assert edited.read_bytes() != original
    with pytest.raises(SourceError) as caught:
        build_classicmodels(url, dump=edited)
    assert f"{edited}" in str(caught.value)
    assert message in str(caught.value)
    assert counts(url) == before


def test_values_are_typed_for_the_columns(classicmodels_dump: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'classicmodels.db'}"
    build_classicmodels(url, dump=classicmodels_dump)
    loaded = contents(url)
    columns = {table.name: [column.name for column in table.columns] for table in TABLES}
    first_payment = dict(zip(columns["payments"], loaded["payments"][0], strict=True))
    assert first_payment == {
        "customerNumber": 103,
        "checkNumber": "HQ336336",
        "paymentDate": dt.date(2004, 10, 19),
        "amount": Decimal("6066.78"),
    }
