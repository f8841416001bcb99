"""What a format's reader hands the file resource: SELECTs of one schema, and their rejects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from headwater.ingest.extraction import Reject

if TYPE_CHECKING:
    import duckdb

# The column every scan adds with the file each row came from (what DuckDB was given).
FILE = "__headwater_file"


@dataclass
class Scan:
    """SELECTs run one after another on one connection, each with the same columns + ``FILE``.

    ``locations`` maps what ``FILE`` holds back to the file's path under the storage root;
    ``rejects`` is asked once every SELECT is drained, on the same connection.
    """

    queries: list[str]
    locations: dict[str, str]
    rejects: Callable[[duckdb.DuckDBPyConnection], list[Reject]] = lambda con: []
    found: list[Reject] = field(default_factory=list)  # rejects known before reading
