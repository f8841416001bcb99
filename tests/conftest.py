from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services

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
    from tests.lake_reads import verify

    made: list[Lake] = []
    init = Lake.__init__

    def record(self: Lake, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        made.append(self)

    monkeypatch.setattr(Lake, "__init__", record)
    yield
    monkeypatch.setattr(Lake, "__init__", init)
    seen: set[str] = set()
    for lake in made:
        if lake.catalog_url in seen or not _reachable(lake):
            continue
        seen.add(lake.catalog_url)
        verify(lake)


def _reachable(lake: object) -> bool:
    """A lake whose catalog is still there to read (a test's folder or database may be gone)."""
    url = str(getattr(lake, "catalog_url", ""))
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    import sqlalchemy as sa

    try:
        with sa.create_engine(url).connect():
            return True
    except sa.exc.SQLAlchemyError:
        return False


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """URL of a fresh MariaDB/MySQL database, dropped after the test."""
    yield from services.mysql_database()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database, dropped after the test."""
    yield from services.postgres_database()


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
