"""The typed shape of ``feeds:`` in headwater.yaml: an MQTT broker's topics feeding a stream."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from headwater.project.base import DurationText, Strict

TOPIC_KEY = "topic"


def check_topic_filter(value: str) -> str:
    """An MQTT topic filter: `+` stands for one whole level, `#` for the rest (last, alone)."""
    if not value:
        raise ValueError("a topic filter is empty")
    if "\x00" in value:
        raise ValueError(f"topic filter `{value}` holds a NUL character")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError(
                f"topic filter `{value}`: `#` must be a level of its own and the last one "
                "(sensors/#)"
            )
        if "+" in level and level != "+":
            raise ValueError(
                f"topic filter `{value}`: `+` must be a whole level (sensors/+/reading)"
            )
    return value


class FeedConfig(Strict):
    """An MQTT source feeding a stream: the topics a feed subscribes to on its connection, and
    how each message becomes a record of ``stream``."""

    description: str | None = None
    connection: str = Field(description="an mqtt connection")
    topics: tuple[str, ...] = Field(
        min_length=1, description="topic filters, with `+` (one level) and `#` (the rest)"
    )
    stream: str = Field(description="the stream the messages are put into")
    qos: Literal[0, 1] = Field(
        default=1,
        description="1: the broker keeps and redelivers what the feed has not acknowledged "
        "(at least once); 0: at most once, nothing kept while the feed is down",
    )
    key: str = Field(
        default=TOPIC_KEY,
        description="the partition key: `topic`, or a field of a JSON payload (device_id)",
    )
    client_id: str | None = Field(
        default=None,
        description="the MQTT client id, which names the broker's session of the feed; "
        "default headwater-<project>-<feed>",
    )
    payload: Literal["json", "text", "bytes"] = Field(
        default="json",
        description="json: each payload is a record as published (invalid ones go to "
        "<stream>__errors); text or bytes: wrapped as {topic, payload, received_at}",
    )
    include_topic: bool = Field(
        default=False, description="json: add the message's topic to each object as `_topic`"
    )
    deduplicate: bool = Field(
        default=False,
        description="drop a redelivered message by a hash of its topic and payload; only for "
        "publishers that never send the same payload twice on a topic (a timestamp, counter "
        "or event id in every message)",
    )
    session_expiry: DurationText = Field(
        default="7d",
        description="how long the broker keeps the feed's session and its queued messages "
        "while the feed is stopped",
    )
    batch_messages: int = Field(
        default=500, ge=1, le=65_535, description="messages put into the stream at once, at most"
    )
    batch_ms: int = Field(
        default=50,
        ge=0,
        le=60_000,
        description="how long a batch waits for more messages after its first one",
    )

    @field_validator("topics")
    @classmethod
    def _filters(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for topic in value:
            check_topic_filter(topic)
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("`key` is empty: use `topic` or a field of the JSON payload")
        return value

    @model_validator(mode="after")
    def _json_only(self) -> FeedConfig:
        if self.payload != "json" and self.key != TOPIC_KEY:
            raise ValueError(
                f"`key: {self.key}` names a JSON field, but payloads are read as "
                f"{self.payload}: use `key: topic`, or `payload: json`"
            )
        if self.payload != "json" and self.include_topic:
            raise ValueError(
                "`include_topic` adds `_topic` to JSON objects; text and bytes payloads carry "
                "their topic already"
            )
        return self

    @property
    def errors_stream(self) -> str:
        """Where messages that cannot become records go, with the error and raw payload."""
        return f"{self.stream}__errors"

    def client_id_for(self, project: str, feed: str) -> str:
        return self.client_id or f"headwater-{project}-{feed}"
