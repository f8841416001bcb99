"""Where a lake's tables live, and the refusal to use a lake whose tables live elsewhere.

Iceberg metadata, manifest lists and manifests hold absolute paths. A project folder copied or
moved with its ``.headwater`` keeps a catalog whose tables point into the original folder: its
loads would write there, and the original's orphan removal would then delete those files. So a
lake with a local warehouse checks the catalog's rows (already read by every listing, without
pyiceberg) and refuses every use when a table is not under its own warehouse, until
``headwater relocate`` registers the tables on the copied files. A copy whose tables stay in
shared storage (an S3 warehouse) has none outside it: its catalog is refused for writes and
maintenance by the file its id was made in instead (lake.identity), until relocated too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from headwater.errors import LakeMoved
from headwater.lake import metadata

Row = tuple[str, str, str]  # (namespace, name, metadata location), as the catalog lists them


def outside(warehouse: str, rows: Sequence[Row]) -> list[Row]:
    """The rows of tables not under a local ``warehouse``; none for an S3 warehouse, whose
    tables any copy of the project shares on purpose."""
    home = metadata.local_path(warehouse)
    if home is None:
        return []
    prefix = home.rstrip("/") + "/"
    return [row for row in rows if not (metadata.local_path(row[2]) or "").startswith(prefix)]


def table_folder(namespace: str, name: str, location: str) -> str | None:
    """The folder a table's metadata file lies in, as ``<warehouse>/<namespace>/<name>`` (the
    layout every writer of the lake keeps); None when the file is laid out otherwise."""
    cut = location.rfind(f"/{namespace}/{name}/")
    return None if cut < 0 else location[: cut + len(f"/{namespace}/{name}")]


def _root(row: Row) -> str:
    """The warehouse a foreign table was written in, as a local path when it is one."""
    folder = table_folder(*row) or row[2].rsplit("/metadata/", 1)[0]
    root = folder.removesuffix(f"/{row[0]}/{row[1]}")
    return metadata.local_path(root) or root


def moved(catalog_url: str, warehouse: str, foreign: Sequence[Row]) -> LakeMoved:
    """The error for a lake whose catalog holds the tables of ``foreign`` outside its own
    ``warehouse``: it names both folders and the commands that fix it."""
    roots = sorted({_root(row) for row in foreign})
    elsewhere = ", ".join(
        root if Path(root).exists() or "://" in root else f"{root} (no longer there)"
        for root in roots
    )
    here = metadata.local_path(warehouse) or warehouse
    catalog = metadata.catalog_file(catalog_url)
    tables = sorted(f"{ns}.{name}" for ns, name, _ in foreign)
    example = ", ".join(f"`{t}`" for t in tables[:3]) + (" …" if len(tables) > 3 else "")
    message = (
        f"the catalog {catalog or 'of lake.catalog_url'} holds {len(tables)} table(s) "
        f"({example}) whose files are in {elsewhere}, not in this project's warehouse {here}: "
        "the project was copied or moved (or lake.warehouse changed), and using the lake would "
        "read and write that other folder; nothing was read or written"
    )
    if catalog is not None:
        hint = (
            "run `headwater relocate` to register the tables on their copies under "
            f"{here} (rows, schema and load cursors are kept, snapshot history is not), "
            f"or start with an empty lake: delete {catalog} and {here}"
        )
    else:
        hint = (
            f"set lake.warehouse to {roots[0]} to share that folder on purpose, or give this "
            "project its own catalog (lake.catalog_url) to start with an empty lake"
        )
    return LakeMoved(message, hint=hint, warehouse=here, elsewhere=tuple(roots))


def copied(path: Path, original: str, warehouse: str) -> LakeMoved:
    """The error for a SQLite catalog copied or moved from ``original`` whose tables stay in
    shared storage: writing or maintaining them would treat the original's files as its own."""
    gone = "" if Path(original).exists() else " (no longer there)"
    return LakeMoved(
        f"the catalog {path} was made as {original}{gone} and copied or moved here; its tables "
        f"are in {warehouse}, where that catalog's tables are too, and each one's maintenance "
        "would delete the files the other writes; nothing was written",
        hint="run `headwater relocate` to make this catalog one of its own (its tables stay "
        "where they are), or give this project another warehouse and an empty catalog",
        warehouse=warehouse,
        elsewhere=(original,),
    )
