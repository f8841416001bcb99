"""Lock a DuckDB session to the lake's own files: a served query reads tables, not the server.

DuckDB's SQL can read any file the process can (``read_csv('/etc/passwd')``), attach
databases and load extensions. A session answering remote callers may only open files under
the warehouse (and the folders of external tables), and its settings are locked so no
statement can undo that.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from headwater.errors import QueryError

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


# Functions that tell about the server rather than the lake: its settings (the warehouse's
# path among them), databases, extensions, secrets and files.
_SERVER_FUNCTIONS = ("current_setting", "which_secret", "getenv")
_SERVER_PREFIXES = ("duckdb_", "pragma_")


def refuse_server_functions(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise QueryError when ``sql`` calls a function that describes the server (its settings,
    paths, extensions): found by DuckDB's own parser, whatever the spelling or nesting."""
    from headwater.sql import duckdb_tree
    from headwater.sql.statements import split_prefix

    _, body = split_prefix(sql)
    tree = duckdb_tree.parse(con, body)
    if tree.get("error"):
        raise QueryError(
            f"a served query must be one SELECT ({tree.get('error_message', 'not one')})",
            hint="send a SELECT (or WITH … SELECT) over the lake's tables",
        )
    called = sorted(
        name
        for name in duckdb_tree.functions(tree)
        if name.lower() in _SERVER_FUNCTIONS or name.lower().startswith(_SERVER_PREFIXES)
    )
    if called:
        raise QueryError(
            f"{', '.join(called)}: functions about the server are not served",
            hint="query the lake's tables; `headwater query` on the server's machine can call them",
        )
