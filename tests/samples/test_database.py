"""The target database is created when missing, and a server that is down says so."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater.errors import HeadwaterError, MissingDependency, SourceError, SourceUnreachable
from headwater.samples import build_classicmodels
from tests import services
from tests.samples.conftest import load_natively
from tests.samples.tables import counts


def test_sqlite_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "classicmodels.db"
    built = build_classicmodels(f"sqlite:///{path}", scale=0.1)
    assert path.is_file()
    assert counts(f"sqlite:///{path}") == built


@pytest.mark.mysql
def test_a_missing_mariadb_database_is_created() -> None:
    admin = sa.make_url(services.MYSQL_ADMIN_URL)
    services.require_service("MariaDB/MySQL", admin.host or "127.0.0.1", admin.port or 3306)
    name = f"hw_test_{uuid.uuid4().hex[:10]}"
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(admin)
    try:
        built = build_classicmodels(url, scale=0.1)
        assert counts(url) == built
        with engine.connect() as conn:
            charset = conn.execute(
                sa.text(
                    "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA"
                    " WHERE SCHEMA_NAME = :n"
                ),
                {"n": name},
            ).scalar_one()
        assert charset == "utf8mb4"
        assert build_classicmodels(url, scale=0.1) == built  # exists now: reused, not an error
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


@pytest.mark.postgres
def test_a_missing_postgres_database_is_created() -> None:
    admin = sa.make_url(services.POSTGRES_ADMIN_URL)
    services.require_service("PostgreSQL", admin.host or "127.0.0.1", admin.port or 5432)
    name = f"hw_test_{uuid.uuid4().hex[:10]}"
    url = admin.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        built = build_classicmodels(url, scale=0.1)
        assert counts(url) == built
        assert build_classicmodels(url, scale=0.1) == built
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT COUNT(*) FROM pg_database WHERE datname = :n"), {"n": name}
            )
            assert found.scalar_one() == 1
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://root@127.0.0.1:1/classicmodels",
        "postgresql+psycopg://postgres@127.0.0.1:1/classicmodels",
    ],
)
def test_a_server_that_is_down_is_named(url: str) -> None:
    with pytest.raises(SourceUnreachable) as caught:
        build_classicmodels(url, scale=0.1)
    assert caught.value.address == "127.0.0.1:1/classicmodels"
    assert "cannot connect to" in str(caught.value)
    assert "127.0.0.1:1" in str(caught.value)
    assert "is the server running" in str(caught.value)
    assert caught.value.retryable


def test_an_unknown_driver_is_a_missing_dependency() -> None:
    with pytest.raises(MissingDependency, match="no database driver for 'nosuchdb'"):
        build_classicmodels("nosuchdb://localhost/classicmodels", scale=0.1)


def test_a_url_that_is_not_a_url() -> None:
    with pytest.raises(
        HeadwaterError, match=r"`classicmodels\.db` is not a SQLAlchemy URL"
    ) as caught:
        build_classicmodels("classicmodels.db")
    assert "sqlite:///" in (caught.value.hint or "")


@pytest.mark.mysql
def test_a_rebuild_over_the_real_dump_with_its_foreign_keys(
    mysql_url: str, classicmodels_dump: Path
) -> None:
    load_natively(classicmodels_dump, sa.make_url(mysql_url))
    engine = sa.create_engine(mysql_url)
    with engine.connect() as conn:
        foreign_keys = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS"
                " WHERE CONSTRAINT_SCHEMA = DATABASE()"
            )
        ).scalar_one()
    engine.dispose()
    assert foreign_keys == 8
    built = build_classicmodels(mysql_url, scale=0.2)
    assert counts(mysql_url) == built


@pytest.mark.postgres
def test_a_postgres_rebuild_over_tables_with_foreign_keys(postgres_url: str) -> None:
    build_classicmodels(postgres_url, scale=0.2)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            'ALTER TABLE orders ADD FOREIGN KEY ("customerNumber")'
            ' REFERENCES customers ("customerNumber")'
        )
        conn.exec_driver_sql(
            'ALTER TABLE employees ADD FOREIGN KEY ("reportsTo") REFERENCES employees ("employeeNumber")'
        )
        conn.exec_driver_sql(
            'ALTER TABLE orderdetails ADD FOREIGN KEY ("productCode") REFERENCES products ("productCode")'
        )
    engine.dispose()
    built = build_classicmodels(postgres_url, scale=0.3)
    assert counts(postgres_url) == built


def test_a_sqlite_path_that_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        build_classicmodels(f"sqlite:///{tmp_path}", scale=0.1)
    assert "unable to open database file" in str(caught.value)
    assert f"check that {tmp_path} is a SQLite file" in (caught.value.hint or "")
