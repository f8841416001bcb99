"""The backend a stream lives on, from its connection: one factory per connection type, each
importing its broker's client only when a stream on it is used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.errors import StreamError
from headwater.project.streams import KinesisConnection

if TYPE_CHECKING:
    from headwater.project import Project
    from headwater.streams.log import StreamLog

EMBEDDED = "embedded"


def open_backend(project: Project, connection: str | None) -> StreamLog:
    """The backend of ``connection`` (None: the project's embedded log)."""
    if connection is None:
        from headwater.streams.embedded import EmbeddedLog

        synced = frozenset(
            name
            for name, stream in project.config.streams.items()
            if stream.connection is None and stream.fsync
        )
        return EmbeddedLog(project.state_dir / "streams", fsync_streams=synced)
    config = project.config.connections.get(connection)
    if config is None:
        raise StreamError(
            f"no connection `{connection}` in {project.file.name}",
            hint="declare it under `connections:` (type nats, redis or kinesis)",
        )
    if config.type == "redis":
        from headwater.streams.redis_log import RedisLog

        return RedisLog(config.url)
    if isinstance(config, KinesisConnection):
        from headwater.streams.kinesis_log import KinesisLog  # imports boto3

        return KinesisLog(config, connection)
    if config.type == "nats":
        from headwater.durations import parse_duration
        from headwater.streams.nats_log import NatsLog

        window = parse_duration(config.dedup_window).total_seconds()
        return NatsLog(config.url, dedup_window=window)
    raise StreamError(
        f"connection `{connection}` is of type `{config.type}`, which holds no streams",
        hint="a stream lives on a nats, redis or kinesis connection, or on the embedded log "
        "when its `connection` is left out",
    )
