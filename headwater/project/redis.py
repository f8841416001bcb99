"""Config of Redis connections and key-pattern sources."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from headwater.project.base import SourceBase, Strict, TableBase


class RedisConnection(Strict):
    """A Redis server, by URL (redis://host:port/db)."""

    type: Literal["redis"] = "redis"
    url: str


class RedisTable(TableBase):
    """Keys matching a pattern, each key one row."""

    pattern: str


class RedisSource(SourceBase):
    """Tables made of Redis keys."""

    type: Literal["redis"] = "redis"
    tables: tuple[RedisTable, ...] = Field(min_length=1)
