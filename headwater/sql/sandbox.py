"""Lock a DuckDB session to the lake's own files: a served query reads tables, not the server.

DuckDB's SQL can read any file the process can (``read_csv('/etc/passwd')``), attach
databases and load extensions. A session answering remote callers may only open files under
the warehouse (and the folders of external tables), and its settings are locked so no
statement can undo that.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from headwater.lake.catalog import Lake


def lake_locations(lake: Lake) -> list[str]:
    """Folders (or URL prefixes) where the lake's tables keep their data files."""
    locations = [lake.warehouse]
    if hasattr(lake, "external"):  # external tables: files registered where they lie
        locations.extend(table.location for table in lake.external.tables())
    return sorted({_folder(location) for location in locations})


def lock_to_lake(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Let ``con`` open files under :func:`lake_locations` only; lock its settings."""
    from headwater.connect.sql.quoting import literal

    folders = ", ".join(literal(folder) for folder in lake_locations(lake))
    con.execute(f"SET allowed_directories = [{folders}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _folder(location: str) -> str:
    """``file:///w/h`` → ``/w/h/``; other URLs (``s3://b/p``) keep their scheme."""
    if location.startswith("file://"):
        location = urllib.parse.unquote(urllib.parse.urlparse(location).path)
    return location.rstrip("/") + "/"
