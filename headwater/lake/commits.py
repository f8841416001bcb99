"""The one way a table of the lake changes: :func:`commit` publishes a :class:`TableChange` in
a single Iceberg commit, through pyiceberg.

Two doors lead here and nowhere else: Headwater's own writers build a ``TableChange`` (see
:mod:`headwater.lake.change`), and the Iceberg REST catalog's write routes hand over the
requirements and updates other engines send (:func:`commit_updates`). Both end in the
catalog's ``commit_table``, where the catalog row moves from the metadata file the commit was
based on to the new one, or the commit fails (optimistic concurrency). pyiceberg writes every
manifest, manifest list and metadata file.

A change that may rebase (``Base.ANY``) is applied again on top of the newer table when another
writer won the race, up to :data:`ATTEMPTS` times; a change computed from one snapshot is not
(it raises :class:`CommitConflict`, and the task that made it runs again).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headwater.errors import CommitConflict, LakeError
from headwater.lake.catalog import Lake, split_name
from headwater.lake.change import Base, Keep, TableChange
from headwater.lake.properties import CATALOG_ID

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table, Transaction
    from pyiceberg.table.update import TableRequirement, TableUpdate

log = logging.getLogger("headwater.lake")

ATTEMPTS = 5  # tries of a rebasable change that keeps losing the race to other writers
NAME_MAPPING = "schema.name-mapping.default"
# SQLite takes one writer at a time: commits of one process queue here instead of failing
_COMMIT_LOCK = threading.Lock()


@dataclass(frozen=True)
class WriteResult:
    """What one commit published."""

    table: str
    snapshot_id: int | None
    rows: int
    bytes: int
    files: int


class _Raced(Exception):
    """Another writer committed between this commit's read of the table and its write."""


def commit(lake: Lake, change: TableChange) -> WriteResult:
    """Publish ``change`` in one Iceberg commit, or nothing (see the module docstring)."""
    from tenacity import (
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_random_exponential,
    )

    lake.ensure_namespace(split_name(change.table)[0])
    rebase = change.base is Base.ANY
    retrying = Retrying(
        stop=stop_after_attempt(ATTEMPTS if rebase else 1),
        wait=wait_random_exponential(multiplier=0.02, max=0.5),
        retry=retry_if_exception_type(_Raced),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                return _commit_once(lake, change)
    except _Raced as exc:
        raise CommitConflict(
            f"table `{change.table}` changed while it was being written ({exc})",
            table=change.table,
            hint="run again; another writer committed first",
        ) from exc
    raise AssertionError("unreachable")  # Retrying either returns or raises


def open_transaction(
    lake: Lake,
    name: str,
    schema: pa.Schema | None,
    properties: dict[str, str] | None = None,
    replace_schema: bool = False,
) -> tuple[Transaction, Table | None]:
    """A pyiceberg transaction on ``name`` with its schema evolved to ``schema`` (created with it
    when the table is missing), and the table it starts from (None for a new table).

    Nothing is written until the transaction commits: :class:`~headwater.lake.writer.Staging`
    opens one to learn the field ids and location new files are written with, and drops it.
    """
    from pyiceberg.exceptions import NoSuchTableError

    props = {
        "write.target-file-size-bytes": str(lake.target_file_bytes),
        **(properties or {}),
        # whose table this is (lake.identity); a table written before tables carried it gets it
        CATALOG_ID: lake.catalog_id,
    }
    try:
        table: Table | None = _without_commit_retries(lake.table(name))
    except (NoSuchTableError, LakeError):
        table = None
    if table is None:
        if schema is None:
            raise LakeError(
                f"table `{name}` does not exist", hint="a change that creates it needs a schema"
            )
        namespace, table_name = split_name(name)
        lake.ensure_namespace(namespace)
        txn: Transaction = lake.catalog.create_table_transaction(
            (namespace, table_name),
            schema=schema,
            location=lake.table_location(namespace, table_name),
            properties=props,
        )
        return txn, None
    txn = table.transaction()
    if schema is not None and replace_schema:
        _replace_schema(txn, schema)
    elif schema is not None:
        _evolve_schema(txn, name, schema)
    changed = {k: v for k, v in props.items() if table.metadata.properties.get(k) != v}
    if changed:
        txn.set_properties(changed)
    return txn, table


def _commit_once(lake: Lake, change: TableChange) -> WriteResult:
    from pyiceberg.exceptions import CommitFailedException

    txn, table = open_transaction(
        lake, change.table, change.schema, dict(change.table_properties), change.replace_schema
    )
    current = table.current_snapshot() if table is not None else None
    if change.base is not Base.ANY and (current.snapshot_id if current else None) != change.base:
        raise CommitConflict(
            f"table `{change.table}` changed while it was being written (it is no longer at "
            f"snapshot {change.base}, which this change was computed from)",
            table=change.table,
            hint="run again; another writer committed first",
        )
    _check_field_ids(txn, change)
    if any(not f.field_ids for f in change.add):
        txn.set_properties(
            {NAME_MAPPING: txn.table_metadata.schema().name_mapping.model_dump_json()}
        )
    if change.expire_snapshots:
        from pyiceberg.table.update.snapshot import ExpireSnapshots

        ExpireSnapshots(txn).by_ids(list(change.expire_snapshots)).commit()
    properties = {k: str(v) for k, v in change.snapshot_properties.items()}
    if change.remove_where is not None and table is not None:
        _delete_where(txn, change, properties)
    if change.add or change.keep is Keep.NONE or change.remove or change.snapshot_properties:
        removed = _removed(table, change)
        added = _data_files(txn, change)
        update = txn.update_snapshot(snapshot_properties=properties)
        producer: Any = update.overwrite() if removed else update.fast_append()
        with producer:
            for data_file in removed:
                producer.delete_data_file(data_file)
            for data_file in added:
                producer.append_data_file(data_file)
    try:
        committed = txn.commit_transaction()
    except CommitFailedException as exc:
        if change.base is Base.ANY:
            raise _Raced(str(exc)) from exc
        raise CommitConflict(
            f"table `{change.table}` changed while it was being written: {exc}",
            table=change.table,
            hint="run again; another writer committed first",
        ) from exc
    snapshot = committed.current_snapshot()
    return WriteResult(
        table=change.table,
        snapshot_id=snapshot.snapshot_id if snapshot else None,
        rows=change.rows,
        bytes=change.bytes,
        files=len(change.add),
    )


def commit_updates(
    lake: Lake,
    name: str,
    requirements: Iterable[TableRequirement],
    updates: Iterable[TableUpdate],
) -> tuple[str, Any]:
    """Commit another engine's requirements and updates (the REST catalog's write routes) on
    ``name``; returns the new metadata location and metadata. A requirement that does not hold
    raises :class:`CommitConflict` (the engine reloads the table and tries again)."""
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table.update import AssertCreate, SetPropertiesUpdate

    lake.ensure_namespace(split_name(name)[0])
    target: Any = _Named(split_name(name))
    requirements = tuple(requirements)
    updates = tuple(updates)
    if any(isinstance(r, AssertCreate) for r in requirements):  # a staged create: ours too
        updates = (*updates, SetPropertiesUpdate(updates={CATALOG_ID: lake.catalog_id}))
    try:
        response = lake.catalog.commit_table(target, requirements, updates)
    except CommitFailedException as exc:
        raise CommitConflict(
            f"table `{name}`: {exc}",
            table=name,
            hint="reload the table and commit again; another writer committed first",
        ) from exc
    return response.metadata_location, response.metadata


class _Named:
    """The one thing ``commit_table`` asks of the table it commits to: its name (a table that
    a first commit creates has nothing else yet)."""

    def __init__(self, identifier: tuple[str, str]) -> None:
        self._identifier = identifier

    def name(self) -> tuple[str, str]:
        return self._identifier


def catalog_class() -> type[SqlCatalog]:
    """pyiceberg's SQL catalog, with every commit of this process through one lock."""
    from pyiceberg.catalog.sql import SqlCatalog

    class HeadwaterCatalog(SqlCatalog):
        def commit_table(self, table: Any, requirements: Any, updates: Any) -> Any:
            with _COMMIT_LOCK:
                return super().commit_table(table, requirements, updates)

    return HeadwaterCatalog


def _delete_where(txn: Transaction, change: TableChange, properties: dict[str, str]) -> None:
    """Delete the rows ``change.remove_where`` matches, in the same transaction."""
    from pyiceberg.expressions.parser import parse

    try:
        condition = parse(change.remove_where or "")
    except Exception as exc:  # pyparsing's errors: the filter is not one pyiceberg reads
        raise LakeError(
            f"table `{change.table}`: cannot read the filter `{change.remove_where}` ({exc})",
            hint="write it as pyiceberg does, e.g. \"id < 5 and status = 'gone'\"",
        ) from exc
    txn.delete(delete_filter=condition, snapshot_properties=properties)


def _removed(table: Table | None, change: TableChange) -> list[DataFile]:
    """The data files of the table's current snapshot that ``change`` removes."""
    if table is None or not (change.keep is Keep.NONE or change.remove):
        return []
    live = {task.file.file_path: task.file for task in table.scan().plan_files()}
    missing = sorted(change.remove - live.keys())
    if missing:
        raise _Raced(f"{len(missing)} file(s) it replaces were removed, e.g. {missing[0]}")
    if change.keep is Keep.NONE:
        return list(live.values())
    return [live[path] for path in sorted(change.remove)]


def _check_field_ids(txn: Transaction, change: TableChange) -> None:
    """The added files' columns keep their field ids in the schema being committed; else
    another writer changed the schema while they were written (they must be written again)."""
    if not change.field_ids:
        return
    schema = txn.table_metadata.schema()
    moved = [
        name
        for name, field_id in change.field_ids.items()
        if name not in schema.column_names or schema.find_field(name).field_id != field_id
    ]
    if moved:
        raise CommitConflict(
            f"table `{change.table}` changed while it was being written: its column(s) "
            f"{', '.join(moved)} changed under the files of this change",
            table=change.table,
            hint="run again; another writer changed the table's schema first",
        )


def _data_files(txn: Transaction, change: TableChange) -> list[DataFile]:
    """The added files as pyiceberg describes them (statistics read from their footers)."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file

    metadata = txn.table_metadata
    io = txn._table.io  # the table's own FileIO, with its storage settings
    out = []
    for written in change.add:
        try:
            out.append(parquet_file_to_data_file(io, metadata, written.path))
        # files are written in the staging's schema and an engine's are checked when adopted
        # (Staging.adopt), so pyiceberg's own check (which prints its table too) rarely fails
        except ValueError as exc:
            raise LakeError(
                f"table `{change.table}`: the data file {written.path} does not fit the "
                f"table's schema ({_mismatch(exc)}); nothing was published",
                hint="cast the column in the source query or model to the table's type",
            ) from exc
    return out


def _mismatch(exc: BaseException) -> str:
    """pyiceberg's field table in one line: the mismatched rows, table side first."""
    rows = [line for line in str(exc).splitlines() if "❌" in line]
    cells = [[c.strip() for c in row.strip("│ ").split("│")] for row in rows]
    found = [f"table {c[1]} vs file {c[2]}" for c in cells if len(c) >= 3]
    return "; ".join(found) or " ".join(str(exc).split())


def _without_commit_retries(table: Table) -> Table:
    """``table`` as the base of a transaction pyiceberg commits once: :func:`commit` retries
    itself, with the whole change, and pyiceberg's own retries would nest inside. pyiceberg
    reads the count from the base's properties; the change stays local (a commit sends only
    its own updates)."""
    from pyiceberg.table import Table, TableProperties

    properties = {**table.metadata.properties, TableProperties.COMMIT_NUM_RETRIES: "0"}
    metadata = table.metadata.model_copy(update={"properties": properties})
    return Table(
        table.name(), metadata, table.metadata_location, table.io, table.catalog, table.config
    )


def _evolve_schema(txn: Transaction, name: str, schema: pa.Schema) -> None:
    """Add new columns and apply safe type promotions; refuse anything else with a diff."""
    from headwater.lake.arrow_types import storable_schema

    current = storable_schema(txn.table_metadata.schema().as_arrow())  # large_string → string
    if current.equals(schema, check_metadata=False):
        return
    try:
        with txn.update_schema() as update:
            update.union_by_name(schema)
    except Exception as exc:  # pyiceberg raises ValidationError/ValueError for incompatible types
        raise LakeError(
            f"the new data for `{name}` does not fit the table's schema: "
            f"{_schema_diff(current, schema)}",
            hint=f"drop the table to start over, or cast the column in the source query ({exc})",
        ) from exc


def _replace_schema(txn: Transaction, schema: pa.Schema) -> None:
    """Make the table's schema ``schema``: columns it lacks go, a column of another type is
    dropped and added again (a new field id: no old file is kept to read it), new ones are
    added, and the columns take ``schema``'s order."""
    from headwater.lake.arrow_types import storable_schema

    current = storable_schema(txn.table_metadata.schema().as_arrow())
    if current.equals(schema, check_metadata=False):
        return
    gone = [
        f.name
        for f in current
        if f.name not in schema.names or not schema.field(f.name).type.equals(f.type)
    ]
    if gone:
        with txn.update_schema() as update:
            for column in gone:
                update.delete_column(column)
    with txn.update_schema() as update:
        update.union_by_name(schema)
    if txn.table_metadata.schema().column_names[: len(schema)] != schema.names:
        with txn.update_schema() as update:
            update.move_first(schema.names[0])
            for before, column in zip(schema.names, schema.names[1:], strict=False):
                update.move_after(column, before)


def _schema_diff(old: pa.Schema, new: pa.Schema) -> str:
    changes = []
    for field in new:
        if field.name not in old.names:
            changes.append(f"+{field.name} {field.type}")
        elif not old.field(field.name).type.equals(field.type):
            changes.append(f"{field.name}: {old.field(field.name).type} → {field.type}")
    return ", ".join(changes) or "no column changes"
