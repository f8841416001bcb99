"""Stream backends for tests: where the local brokers are, and each backend opened on them."""

from __future__ import annotations

import os
from pathlib import Path

from headwater.streams.log import StreamLog
from tests import services

NATS_URL = os.environ.get("HEADWATER_TEST_NATS_URL", "nats://127.0.0.1:4222")
BACKENDS = ("embedded", "redis", "nats", "kinesis")


def nats_host_port(url: str = NATS_URL) -> tuple[str, int]:
    host, _, port = url.removeprefix("nats://").rpartition(":")
    return host, int(port)


def require_nats() -> None:
    """Skip (or fail under HEADWATER_REQUIRE_SERVICES=1) when the local NATS does not answer."""
    services.require_service("NATS", *nats_host_port())


def require_redis() -> None:
    """Skip (or fail under HEADWATER_REQUIRE_SERVICES=1) when the local Redis does not answer."""
    import redis

    kwargs = redis.Redis.from_url(services.REDIS_URL).connection_pool.connection_kwargs
    services.require_service("Redis", kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379))


def open_log(
    kind: str, *, folder: Path, redis_prefix: str = "hw:", s3: services.S3Server | None = None
) -> StreamLog:
    """A backend of ``kind``: the embedded log in ``folder``, the local Redis under
    ``redis_prefix``, the local NATS, or Kinesis on the moto server ``s3`` (which serves every
    AWS API it mocks, Kinesis included)."""
    if kind == "embedded":
        from headwater.streams.embedded import EmbeddedLog

        return EmbeddedLog(folder)
    if kind == "redis":
        from headwater.streams.redis_log import RedisLog

        require_redis()
        return RedisLog(services.REDIS_URL, prefix=redis_prefix)
    if kind == "nats":
        from headwater.streams.nats_log import NatsLog

        require_nats()
        return NatsLog(NATS_URL, dedup_window=60)
    if kind == "kinesis":
        from headwater.project.streams import KinesisConnection
        from headwater.streams.kinesis_log import KinesisLog

        assert s3 is not None
        return KinesisLog(
            KinesisConnection(
                endpoint_url=s3.endpoint,
                region=s3.region,
                access_key_id=s3.access_key,  # type: ignore[arg-type]
                secret_access_key=s3.secret_key,  # type: ignore[arg-type]
            ),
            "aws",
        )
    raise ValueError(f"no stream backend `{kind}`")
