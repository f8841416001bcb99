"""The typed shape of ``streams:`` in headwater.yaml and of the broker connections streams live
on (NATS JetStream, Kinesis, MQTT; Redis connections are shared with Redis sources)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from headwater.project.base import DurationText, Strict


class NatsConnection(Strict):
    """A NATS server with JetStream enabled."""

    type: Literal["nats"] = "nats"
    url: str = Field(description="nats://host:port (several, comma-separated, for a cluster)")
    dedup_window: DurationText = Field(
        default="2m",
        description="how long JetStream remembers a message id to drop a second put of it",
    )


class KinesisConnection(Strict):
    """Amazon Kinesis Data Streams (or a compatible endpoint), through boto3."""

    type: Literal["kinesis"] = "kinesis"
    region: str = Field(default="us-east-1", description="AWS region")
    endpoint_url: str | None = Field(
        default=None, description="another endpoint (a local server); none: AWS's own"
    )
    access_key_id: SecretStr | None = Field(
        default=None, description="none: boto3's usual credential chain (env, profile, role)"
    )
    secret_access_key: SecretStr | None = None


class MqttConnection(Strict):
    """An MQTT broker (Mosquitto, …): a source of IoT events that feeds a stream."""

    type: Literal["mqtt"] = "mqtt"
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None


class StreamConfig(Strict):
    """A stream: where it lives, its shards and how much of it is kept."""

    description: str | None = None
    connection: str | None = Field(
        default=None,
        description="a nats, redis or kinesis connection; none: the embedded log in "
        ".headwater/streams",
    )
    shards: int = Field(default=1, ge=1, le=1024, description="shards (partitions) to create")
    retention: DurationText = Field(
        default="24h", description="how long records are kept (90m, 24h, 7d)"
    )
    retention_mb: int | None = Field(
        default=None, gt=0, description="the most a shard keeps, oldest dropped first"
    )
    fsync: bool = Field(
        default=False,
        description="embedded log: sync each put to disk (survives a power cut, not only a "
        "killed process), at the disk's speed",
    )
