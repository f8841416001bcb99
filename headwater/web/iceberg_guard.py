"""What a write through the Iceberg REST catalog may bring, so the lake stays one Headwater reads.

Other engines write their data files, manifests and manifest lists themselves and send only
their paths. Headwater's maintenance later deletes the files a table no longer references
(snapshot expiry) and the unreferenced files under its location (orphan removal), and a purge
deletes every file the table references: a path outside the table's own folder could make
either delete another table's files, or a file that is no part of the lake. So a table lives
at ``<warehouse>/<namespace>.db/<name>``, as Headwater's own tables do, and every path a commit
adds must lie under it.

Headwater's queries, checks and maintenance read data files only: a snapshot that adds delete
files (an engine's merge-on-read ``DELETE`` or ``UPDATE``) is refused rather than published as
a table Headwater would misread.

Snapshot summary keys ``headwater.*`` carry the state of Headwater's loads (their cursor): a
snapshot that brings one is refused, and so is removing the snapshots that hold it (as
Headwater's own expiry keeps them).

Table properties are merged into the settings of the server's own file IO when it commits, and
two of them name Python classes pyiceberg imports (``py-io-impl``,
``write.py-location-provider.impl``): properties that load code or configure storage clients
are refused, and ``write.data.path`` / ``write.metadata.path`` must stay inside the table.
``headwater.catalog-id`` names the catalog a table belongs to, which orphan removal trusts to
tell a folder shared with another catalog: it is set by the server, and a client may neither
change nor remove it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from headwater.lake.catalog import Lake
from headwater.lake.properties import CATALOG_ID
from headwater.web.errors import ApiError

if TYPE_CHECKING:
    from pyiceberg.io import FileIO
    from pyiceberg.table import Table
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.table.snapshots import Snapshot
    from pyiceberg.table.update import TableUpdate

# properties of the server's file IO, or Python classes pyiceberg would import on the server
SERVER_SIDE = ("py-", "write.py-", "s3.", "gcs.", "adls.", "hdfs.", "hf.", "oss.", "client.")
PATH_PROPERTIES = ("write.data.path", "write.metadata.path")
RESERVED_SUMMARY = "headwater."  # snapshot properties of Headwater's loads (their cursor…)


def table_location(lake: Lake, namespace: str, name: str) -> str:
    """Where a table of the lake lives (the layout of Headwater's own writers)."""
    return lake.table_location(namespace, name)


def check_location(given: str | None, expected: str) -> None:
    """A location a client asks for is the table's own, or absent."""
    if given is not None and normal(given) != normal(expected):
        raise _refused(
            f"location `{given}` is not this table's: tables of this catalog live at {expected}",
            "leave the location out",
        )


def check_properties(properties: Mapping[str, str], location: str, catalog_id: str) -> None:
    """Refuse properties that load code or reconfigure storage on the server, paths that
    leave the table's folder, and another catalog's id (``catalog_id`` is this one's)."""
    for key, value in properties.items():
        if key == CATALOG_ID and value != catalog_id:
            raise _refused(
                f"table property `{CATALOG_ID}` = `{value}` is not this catalog's id: it names "
                "the catalog a table belongs to, and the server sets it",
                f"leave `{CATALOG_ID}` out",
            )
        if key.startswith(SERVER_SIDE):
            raise _refused(
                f"table property `{key}` configures the catalog server's own file access",
                "leave it out; storage is configured in headwater.yaml (lake)",
            )
        if key in PATH_PROPERTIES and not inside(value, location):
            raise _refused(
                f"table property `{key}` = `{value}` is outside the table's location {location}",
                "leave it out, or point it under the table's location",
            )


def check_updates(
    lake: Lake, location: str, table: Table | None, updates: Iterable[TableUpdate]
) -> None:
    """Every location, property and file path ``updates`` bring lies inside ``location``.

    A new snapshot's manifest list and its new manifests are read (with pyiceberg) to check the
    data and delete files they add; manifests the parent snapshot already had were checked
    when they were committed.
    """
    from pyiceberg.io import load_file_io
    from pyiceberg.table.update import (
        AddSnapshotUpdate,
        RemovePropertiesUpdate,
        RemoveSnapshotsUpdate,
        SetLocationUpdate,
        SetPartitionStatisticsUpdate,
        SetPropertiesUpdate,
        SetStatisticsUpdate,
    )

    current = table.metadata if table is not None else None
    io: FileIO | None = None
    for update in updates:
        if isinstance(update, SetLocationUpdate):
            check_location(update.location, current.location if current else location)
        elif isinstance(update, SetPropertiesUpdate):
            check_properties(update.updates, location, lake.catalog_id)
        elif isinstance(update, RemovePropertiesUpdate) and CATALOG_ID in update.removals:
            raise _refused(
                f"table property `{CATALOG_ID}` cannot be removed: it names the catalog the "
                "table belongs to",
                f"leave `{CATALOG_ID}` out of the removals",
            )
        elif isinstance(update, SetStatisticsUpdate):
            _check_path(update.statistics.statistics_path, location, "statistics file")
        elif isinstance(update, SetPartitionStatisticsUpdate):
            _check_path(update.partition_statistics.statistics_path, location, "statistics file")
        elif isinstance(update, AddSnapshotUpdate):
            io = io or load_file_io(dict(lake.catalog.properties), location)
            _check_snapshot(io, location, current, update.snapshot)
        elif isinstance(update, RemoveSnapshotsUpdate) and table is not None:
            _check_state_kept(table, update.snapshot_ids)


def _check_state_kept(table: Table, removed: Iterable[int]) -> None:
    """The snapshots from the current one back to the one holding the last load's cursor stay,
    as Headwater's own expiry keeps them: without them the next load would start over."""
    from headwater.lake.maintenance.state import state_lineage

    kept = {s.snapshot_id for s in state_lineage(table)}
    held = sorted(kept.intersection(removed))
    if held:
        raise _refused(
            f"snapshot {held[0]} cannot be removed: the table's last load keeps its cursor in "
            "the snapshots from the current one back to it",
            "expire snapshots with `headwater maintain`, which keeps them",
        )


def _check_snapshot(
    io: FileIO, location: str, current: TableMetadata | None, snapshot: Snapshot
) -> None:
    from pyiceberg.manifest import ManifestContent

    summary = snapshot.summary.additional_properties if snapshot.summary else {}
    reserved = sorted(key for key in summary if key.startswith(RESERVED_SUMMARY))
    if reserved:
        raise _refused(
            f"snapshot summary key `{reserved[0]}` is Headwater's: its loads keep their cursor "
            "and state there",
            f"leave out the `{RESERVED_SUMMARY}*` keys",
        )
    _check_path(snapshot.manifest_list, location, "manifest list")
    parent = (
        current.snapshot_by_id(snapshot.parent_snapshot_id)
        if current is not None and snapshot.parent_snapshot_id is not None
        else None
    )
    known = {m.manifest_path for m in parent.manifests(io)} if parent is not None else set()
    for manifest in snapshot.manifests(io):
        if manifest.manifest_path in known:
            continue
        if manifest.content == ManifestContent.DELETES:
            raise _refused(
                f"the snapshot adds delete files ({manifest.manifest_path}): Headwater reads "
                "data files only, so row-level deletes are not accepted",
                "delete or update by rewriting the data files (copy-on-write, the tables' "
                "`write.delete.mode`), or with a Headwater load",
            )
        _check_path(manifest.manifest_path, location, "manifest")
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=False):
            _check_path(entry.data_file.file_path, location, "data file")


def _check_path(path: str, location: str, what: str) -> None:
    if not inside(path, location):
        raise _refused(
            f"the {what} {path} is outside the table's location {location}",
            "write the table's files under its location (the `location` of its metadata)",
        )


def inside(path: str, folder: str) -> bool:
    """True when ``path`` lies under ``folder`` (both URIs; ``..`` resolved, scheme-less
    absolute paths taken as local files)."""
    return normal(path).startswith(normal(folder).rstrip("/") + "/")


def normal(uri: str) -> str:
    """``uri`` spelt one way: ``file:/a``, ``file:///a`` and ``/a`` alike; ``..`` resolved."""
    if uri.startswith("file:") or uri.startswith("/"):
        path = "/" + uri.removeprefix("file:").lstrip("/")
        return "file://" + posixpath.normpath(path)
    scheme, separator, rest = uri.partition("://")
    if not separator:
        return uri  # a relative path: inside nothing
    bucket, _, key = rest.partition("/")
    return f"{scheme}://{bucket}" + posixpath.normpath("/" + key).rstrip("/")


def _refused(message: str, hint: str) -> ApiError:
    return ApiError(400, "BadRequestException", message, hint=hint)
