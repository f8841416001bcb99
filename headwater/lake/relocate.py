"""Make a copied or moved project's lake its own: register each table on the copies of its files.

A copy's catalog points at metadata in the original folder (see lake.home). Its own warehouse
holds copies of every file at the same path under the table's folder, so each table is read
from those copies and registered again at its own location: its catalog row is dropped, and one
commit (``headwater.lake.commit``) creates the table with the same schema and table properties,
adopting the copied data files as they are (nothing is rewritten) and carrying the load state
(cursor, source state) of its newest load's snapshot. The snapshots before are not carried: the
new table starts its history with that one snapshot. If the commit fails, the old row is
registered again, so a table is never lost from the catalog.

A copied catalog is a catalog of its own from then on: it gets its own id (lake.identity), the
tables it creates carry it, and the copies of the original's metadata files in each relocated
table's folder (the old table's, and those of its earlier versions the original dropped and
created again) are deleted, so that the copy's orphan removal does not take the folder for one
shared with the original's catalog.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from headwater.errors import LakeError
from headwater.lake import home
from headwater.lake.catalog import Lake
from headwater.lake.change import WrittenFile
from headwater.lake.commits import NAME_MAPPING
from headwater.lake.metadata import TableMetadata, local_path, read
from headwater.lake.properties import CATALOG_ID, LOADED, MAINTENANCE, carried
from headwater.lake.writer import Staging

if TYPE_CHECKING:
    from pyiceberg.schema import Schema

log = logging.getLogger("headwater.lake")

RELOCATED = "relocate"  # the snapshot property MAINTENANCE of a relocation's snapshot


@dataclass(frozen=True)
class Relocated:
    """One table registered on its copied files."""

    table: str
    previous: str  # the folder its catalog row pointed into
    location: str  # where it lives now
    files: int
    rows: int


def relocate(lake: Lake, on_table: Callable[[str], None] | None = None) -> list[Relocated]:
    """Register every table whose files are outside ``lake``'s local warehouse on the copies
    of its files in the warehouse, one table at a time (a failure stops, and the tables done
    stay done: running again goes on with the rest)."""
    done = []
    with lake.relocating():
        rows = sorted(lake.elsewhere())
        # a copied catalog gets an id of its own even when its tables stay in shared storage
        lake.own_catalog_id()
        formers = lake.former_catalog_ids()
        for namespace, name, location in rows:
            if on_table is not None:
                on_table(f"{namespace}.{name}")
            done.append(_relocate(lake, namespace, name, location, formers))
    lake.tables()  # every table is home now: the lake is usable again
    return done


def _relocate(
    lake: Lake, namespace: str, name: str, location: str, formers: frozenset[str]
) -> Relocated:
    table = f"{namespace}.{name}"
    old = home.table_folder(namespace, name, location)
    if old is None:
        raise LakeError(
            f"cannot relocate `{table}`: its metadata file {location} is not in a "
            f"`{namespace}/{name}` folder, so its copy cannot be found",
            hint="register it with the engine that wrote it, or start with an empty lake",
        )
    new = lake.table_location(namespace, name)

    def here(uri: str) -> str:
        return new + uri[len(old) :] if uri.startswith(old + "/") else uri

    def opener(uri: str) -> IO[bytes]:
        filesystem, path = lake.filesystem(here(uri))
        stream: IO[bytes] = filesystem.open_input_stream(path)
        return stream

    try:
        current = read(here(location), opener)
        _check_unpartitioned(table, current)
        entries = current.data_files
        files = [_copied(lake, here(e.path), e.record_count, e.size) for e in entries]
    except LakeError as exc:
        raise LakeError(
            f"cannot relocate `{table}` from {local_path(old) or old} to "
            f"{local_path(new) or new}: {exc.message}; it was left as it was",
            hint="copy the project's whole `.headwater` folder (and lake.warehouse) along with "
            "it, then run `headwater relocate` again; or start with an empty lake",
        ) from exc
    properties = {
        key: here(value)
        for key, value in current.properties.items()
        if key not in (NAME_MAPPING, CATALOG_ID)
    }
    snapshot = {**_load_state(current), MAINTENANCE: RELOCATED}
    schema = current.arrow_schema()
    lake.drop(table)
    try:
        with Staging(lake, table, schema) as staging:
            _check_field_ids(table, current, staging, files)
            change = staging.change(files, properties=snapshot)
            result = staging.publish(dataclasses.replace(change, table_properties=properties))
    except BaseException:
        _restore(lake, namespace, name, location)
        raise
    _forget_copies(lake, new, str(current.document.get("table-uuid")), formers)
    log.info("relocated %s from %s to %s", table, old, new)
    return Relocated(table, old, new, result.files, result.rows)


def _forget_copies(lake: Lake, folder: str, uuid: str, formers: frozenset[str]) -> None:
    """Delete the copied metadata files in a relocated table's ``folder``: those of the table
    it was (``uuid``) and of tables its original catalog (``formers``) had there before."""
    filesystem, path = lake.filesystem(f"{folder}/metadata")
    listed = filesystem.get_file_info(pafs.FileSelector(path, allow_not_found=True))
    for info in listed:
        if info.type != pafs.FileType.File or not info.base_name.endswith(".metadata.json"):
            continue
        try:
            document = read(info.path, filesystem.open_input_stream)
        except LakeError:
            continue  # not a metadata document: orphan removal judges it by its age
        owner = document.properties.get(CATALOG_ID)
        if document.document.get("table-uuid") == uuid or (owner is not None and owner in formers):
            filesystem.delete_file(info.path)


def _check_unpartitioned(table: str, current: TableMetadata) -> None:
    specs = current.document.get("partition-specs", [])
    default = current.document.get("default-spec-id", 0)
    if any(spec.get("spec-id") == default and spec.get("fields") for spec in specs):
        raise LakeError(
            f"`{table}` is partitioned, and relocation registers unpartitioned tables only",
            hint="register it with the engine that partitioned it",
        )


def _copied(lake: Lake, uri: str, rows: int, size: int) -> WrittenFile:
    """A copied data file, as a file for the change; it must be there, whole."""
    filesystem, path = lake.filesystem(uri)
    try:
        with filesystem.open_input_file(path) as handle:
            footer = pq.read_metadata(handle)
    except (OSError, ValueError) as exc:
        raise LakeError(f"its data file {local_path(uri) or uri} cannot be read ({exc})") from exc
    ids = any(
        field.metadata and b"PARQUET:field_id" in field.metadata
        for field in footer.schema.to_arrow_schema()
    )
    return WrittenFile(uri, rows, size, field_ids=ids)


def _load_state(current: TableMetadata) -> dict[str, str]:
    """The Headwater properties of the newest load's snapshot (cursor, source state), as
    compaction carries them; {} for a table no load wrote."""
    return next((carried(s) for s in current.lineage() if LOADED in s), {})


def _check_field_ids(
    table: str, current: TableMetadata, staging: Staging, files: list[WrittenFile]
) -> None:
    """Files written with field ids are read by them: the new table must give each column the
    id it had (a column dropped and added again has a new one, which a new table cannot keep)."""
    if not any(f.field_ids for f in files):
        return  # read by column names (a name mapping), whatever the ids
    from pyiceberg.schema import index_by_name

    before = index_by_name(_schema(current))
    after = index_by_name(staging.iceberg_schema)
    moved = sorted(column for column, field_id in before.items() if after.get(column) != field_id)
    if moved:
        raise LakeError(
            f"cannot relocate `{table}`: its column(s) {', '.join(moved)} would get other "
            "field ids in a new table, and its data files are read by them",
            hint=f"reload it instead: start with an empty lake, or drop `{table}` and run "
            "`headwater run --full-refresh`",
        )


def _schema(current: TableMetadata) -> Schema:
    from pyiceberg.schema import Schema

    return Schema.model_validate(current.schema())


def _restore(lake: Lake, namespace: str, name: str, location: str) -> None:
    """Register the table's old metadata file again after a failed relocation (its create
    did not commit, so the name is free)."""
    try:
        lake.catalog.register_table((namespace, name), location)
    except FileNotFoundError:
        # the row is in; pyiceberg then loads the file, which a moved original no longer has
        log.debug("restored %s.%s at %s, whose file is gone", namespace, name, location)
