"""Config of Redis connections and key-pattern sources."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from headwater.project.base import SourceBase, Strict, TableBase, identifier

RedisValue = Literal["auto", "hash", "json", "string"]


class RedisConnection(Strict):
    """A Redis server, by URL (redis://host:port/db)."""

    type: Literal["redis"] = "redis"
    url: str = Field(description="redis://[user:password@]host:port/db")


class RedisTable(TableBase):
    """Keys matching a pattern, each key one row."""

    pattern: str = Field(description="key pattern, e.g. `user:*`")
    value: RedisValue = Field(
        default="auto",
        description="hash: fields become columns; json: a JSON object per key; string: the text; "
        "auto: hash for hash keys, json for string keys",
    )
    key_column: str = Field(default="_key", description="the column holding the key")
    types: dict[str, str] = Field(
        default_factory=dict,
        description="field → DuckDB type (hash fields are text otherwise); bad values are rejects",
    )

    @field_validator("key_column")
    @classmethod
    def _valid_key_column(cls, value: str) -> str:
        return identifier(value, "key_column")


class RedisSource(SourceBase):
    """Tables made of Redis keys, read in full each time (merge on the key column)."""

    type: Literal["redis"] = "redis"
    tables: tuple[RedisTable, ...] = Field(min_length=1)
    scan_count: int = Field(default=1000, gt=0, description="keys asked for per SCAN and pipeline")
