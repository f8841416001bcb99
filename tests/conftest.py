from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import lake_reads, services

REPO = Path(__file__).resolve().parent.parent
CLASSICMODELS_DUMP = REPO.parent / "shared" / "data" / "classicmodels" / "mysqlsampledatabase.sql"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No HEADWATER_VAR_* from the caller's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("HEADWATER_VAR_"):
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _lake_reads_match_pyiceberg(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every table a test leaves in a lake it opened reads the same through Headwater's one
    read path as through pyiceberg (tests/lake_reads.py)."""
    from headwater.lake.catalog import Lake

    init = Lake.__init__

    def record(self: Lake, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        lake_reads.MADE.append(self)

    lake_reads.MADE.clear()
    monkeypatch.setattr(Lake, "__init__", record)
    yield
    monkeypatch.setattr(Lake, "__init__", init)
    lake_reads.verify_made()


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """URL of a fresh MariaDB/MySQL database, dropped after the test."""
    for url in services.mysql_database():
        yield url
        lake_reads.verify_made()  # a lake kept in it is read before the database goes


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database, dropped after the test."""
    for url in services.postgres_database():
        yield url
        lake_reads.verify_made()  # a lake kept in it is read before the database goes


@pytest.fixture(scope="session")
def s3_server() -> Iterator[services.S3Server]:
    """A moto S3 server (real HTTP on 127.0.0.1) shared by the session; buckets per test."""
    server = services.S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: services.S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; AWS_* variables point SDKs at the moto server for the test."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server.bucket()


@pytest.fixture
def classicmodels_dump() -> Path:
    """The real MySQL sample dump, read from shared data (never copied into the repo)."""
    if not CLASSICMODELS_DUMP.exists():
        if os.environ.get("HEADWATER_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the classicmodels dump is missing at {CLASSICMODELS_DUMP}", pytrace=False)
        pytest.skip(f"the classicmodels dump is not at {CLASSICMODELS_DUMP}")
    return CLASSICMODELS_DUMP
