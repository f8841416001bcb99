"""Config of HTTP API connections and REST sources (endpoints, auth, pagination)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from headwater.project.base import SourceBase, Strict, TableBase


class HttpConnection(Strict):
    """An HTTP API: base URL, auth, limits and retries shared by its endpoints."""

    type: Literal["http"] = "http"
    base_url: str


class RestTable(TableBase):
    """One endpoint whose records land in one table."""

    path: str


class RestSource(SourceBase):
    """Endpoints of an HTTP API connection."""

    type: Literal["http"] = "http"
    tables: tuple[RestTable, ...] = Field(min_length=1)
