"""Fixtures for the sample database: a generated SQLite build and the dump loaded natively."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

from headwater.samples import build_classicmodels
from headwater.samples.schema import TABLES
from tests import services
from tests.conftest import CLASSICMODELS_DUMP
from tests.samples.tables import Contents, normalise, sort_key


@dataclass(frozen=True)
class Reference:
    """The dump as MariaDB itself loaded it with its command-line client."""

    url: str
    rows: Contents
    #: table -> [(column, position, column_type, is_nullable, column_key, column_default)]
    columns: dict[str, list[tuple[Any, ...]]]
    #: table -> primary-key columns in key order
    primary_keys: dict[str, list[str]]


@dataclass(frozen=True)
class Build:
    url: str
    counts: dict[str, int]


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("HEADWATER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; HEADWATER_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def load_natively(dump: Path, url: sa.URL) -> None:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        _unavailable("the mariadb/mysql command-line client is not installed")
    text = dump.read_bytes()
    # point the dump's hard-coded database at the fresh one; the shared file is never modified
    text, created = re.subn(rb"CREATE DATABASE[^;]*;", b"", text)
    text, used = re.subn(rb"USE `classicmodels`;", f"USE `{url.database}`;".encode(), text)
    assert (created, used) == (1, 1), "the dump no longer names its database the way it did"
    command = [client, f"-h{url.host}", f"-P{url.port or 3306}", f"-u{url.username}"]
    if url.password:
        command.append(f"-p{url.password}")
    subprocess.run([*command, str(url.database)], input=text, check=True, capture_output=True)


def _read_reference(url: str) -> Reference:
    """Raw driver values (``SELECT *``), independent of the schema's type processing."""
    engine = sa.create_engine(url)
    database = sa.make_url(url).database
    try:
        with engine.connect() as conn:
            rows: Contents = {}
            for table in TABLES:
                result = conn.exec_driver_sql(f"SELECT * FROM `{table.name}`")
                assert list(result.keys()) == [column.name for column in table.columns]
                rows[table.name] = sorted(
                    (tuple(normalise(v) for v in row) for row in result), key=sort_key(table)
                )
            columns: dict[str, list[tuple[Any, ...]]] = {}
            for row in conn.exec_driver_sql(
                "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE,"
                " COLUMN_KEY, COLUMN_DEFAULT FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
                (database,),
            ):
                columns.setdefault(row[0], []).append(tuple(row[1:]))
            primary_keys: dict[str, list[str]] = {}
            for row in conn.exec_driver_sql(
                "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
                " WHERE TABLE_SCHEMA = %s AND CONSTRAINT_NAME = 'PRIMARY'"
                " ORDER BY TABLE_NAME, ORDINAL_POSITION",
                (database,),
            ):
                primary_keys.setdefault(row[0], []).append(row[1])
            return Reference(url, rows, columns, primary_keys)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def reference() -> Iterator[Reference]:
    """The real dump loaded by the MariaDB client into a fresh database (dropped afterwards)."""
    if not CLASSICMODELS_DUMP.exists():
        _unavailable(f"the classicmodels dump is not at {CLASSICMODELS_DUMP}")
    for url in services.mysql_database("hw_ref"):
        load_natively(CLASSICMODELS_DUMP, sa.make_url(url))
        yield _read_reference(url)


@pytest.fixture(scope="module")
def scale1(tmp_path_factory: pytest.TempPathFactory) -> Build:
    """The generated dataset at scale 1, seed 42, in SQLite."""
    url = f"sqlite:///{tmp_path_factory.mktemp('scale1') / 'classicmodels.db'}"
    return Build(url, build_classicmodels(url, scale=1, seed=42))
