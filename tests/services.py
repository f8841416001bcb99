"""Real database servers for tests: a fresh database per test, dropped afterwards.

A test that needs a server skips with the reason when it is unreachable, unless
HEADWATER_REQUIRE_SERVICES=1 (set by CI), where it fails instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

MYSQL_ADMIN_URL = os.environ.get("HEADWATER_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
POSTGRES_ADMIN_URL = os.environ.get(
    "HEADWATER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail under HEADWATER_REQUIRE_SERVICES=1) when host:port does not answer."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        reason = f"{name} is not reachable at {host}:{port} ({exc})"
    if os.environ.get("HEADWATER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; HEADWATER_REQUIRE_SERVICES=1 requires it", pytrace=False)
    pytest.skip(reason)


def _fresh_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def mysql_database(prefix: str = "hw_test") -> Iterator[str]:
    """Create a MariaDB/MySQL database; yield its SQLAlchemy URL; drop it afterwards."""
    admin = sa.make_url(MYSQL_ADMIN_URL)
    require_service("MariaDB/MySQL", admin.host or "127.0.0.1", admin.port or 3306)
    name = _fresh_name(prefix)
    engine = sa.create_engine(admin)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            # a session a failed test left open would hold a metadata lock and block the drop
            sessions = conn.exec_driver_sql(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                (name,),
            ).scalars()
            for session in list(sessions):
                try:
                    conn.exec_driver_sql(f"KILL {int(session)}")
                except sa.exc.OperationalError as exc:
                    if "1094" not in str(exc.orig):  # it ended between the look and the kill
                        raise
            conn.exec_driver_sql("SET SESSION lock_wait_timeout = 30")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        engine.dispose()


def postgres_database(prefix: str = "hw_test") -> Iterator[str]:
    """Create a PostgreSQL database; yield its SQLAlchemy URL; drop it afterwards."""
    admin = sa.make_url(POSTGRES_ADMIN_URL)
    require_service("PostgreSQL", admin.host or "127.0.0.1", admin.port or 5432)
    name = _fresh_name(prefix)
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


REDIS_URL = os.environ.get("HEADWATER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_prefix(prefix: str = "hw_test") -> Iterator[str]:
    """A fresh key prefix on the local Redis; yield it; delete its keys afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    kwargs = client.connection_pool.connection_kwargs
    require_service("Redis", kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379))
    name = _fresh_name(prefix) + ":"
    try:
        yield name
    finally:
        keys = list(client.scan_iter(match=name + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


class S3Server:
    """A moto S3 server in this process: a real S3 HTTP API on 127.0.0.1, on a free port."""

    region = "us-east-1"
    access_key = "testing"
    secret_key = "testing"

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        """A boto3 S3 client for arranging test data."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def bucket(self, prefix: str = "hw-test") -> str:
        """A fresh, empty bucket."""
        name = _fresh_name(prefix).replace("_", "-")
        self.client().create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """Environment variables that point AWS SDKs at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def stop(self) -> None:
        self._server.stop()
