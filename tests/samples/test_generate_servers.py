"""The same seed builds the same rows in MariaDB and PostgreSQL as in SQLite."""

from __future__ import annotations

import pytest

from headwater.samples import build_classicmodels
from tests.samples.conftest import Build
from tests.samples.tables import contents, counts, integrity_violations


def _rebuild_and_compare(url: str, scale1: Build) -> None:
    # a first, different build proves the second one drops and recreates the tables
    build_classicmodels(url, scale=0.3, seed=9)
    built = build_classicmodels(url, scale=1, seed=42)
    assert built == scale1.counts == counts(url)
    assert set(integrity_violations(url).values()) == {0}
    assert contents(url) == contents(scale1.url)


@pytest.mark.mysql
def test_mariadb_build_equals_the_sqlite_build(mysql_url: str, scale1: Build) -> None:
    _rebuild_and_compare(mysql_url, scale1)


@pytest.mark.postgres
def test_postgres_build_equals_the_sqlite_build(postgres_url: str, scale1: Build) -> None:
    _rebuild_and_compare(postgres_url, scale1)
