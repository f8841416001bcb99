"""Replace a table's data with a stream of Arrow batches in one Iceberg commit.

The stream is written to data files as it arrives; the files become visible only when the
single OVERWRITE snapshot is committed. If anything fails before that, the files written so far
are deleted and the table is unchanged.

We write the Parquet files ourselves, batch by batch: pyiceberg's streaming write hands every
file to ``Executor.map``, which consumes the whole stream before the first file is written, and
its bin-packing holds a whole file's batches in memory twice. Measured in docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from headwater.errors import CommitConflict, LakeError
from headwater.lake.arrow_types import conform, storable_schema, widens
from headwater.lake.catalog import Lake, split_name
from headwater.lake.local_table import LocalFile, LocalTable
from headwater.lake.prefetch import prefetch

# pyiceberg loads with the first write through it: an append that LocalTable can commit
# does without it (see headwater.lake.local_table)
if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table, Transaction
    from pyiceberg.types import NestedField

log = logging.getLogger("headwater.lake")

NAME_MAPPING = "schema.name-mapping.default"
# Rows per Parquet row group: DuckDB scans a file's row groups in parallel, so a 5M-row file
# in groups of 1M (pyarrow's default) keeps a core idle for the last fifth of every scan
# (docs/benchmarks.md, "Data quality"); DuckDB writes groups of 122,880 rows.
ROW_GROUP_ROWS = 128 * 1024


@dataclass(frozen=True)
class WriteResult:
    table: str
    snapshot_id: int | None
    rows: int
    bytes: int
    files: int


# Produces the data files of one write, named with the write's commit UUID.
FileProducer = Callable[["Transaction", uuid.UUID], Iterator["DataFile"]]

# Looks at a write before it is published: given the transaction, the files written and the
# paths of the table's files that stay, returns the files to publish (the same, or others it
# wrote instead) or raises to publish nothing (write–audit–publish).
Audit = Callable[["Transaction", list["DataFile"], list[str]], list["DataFile"]]


def replace_table(
    lake: Lake,
    name: str,
    reader: pa.RecordBatchReader,
    properties: Mapping[str, str] | None = None,
    on_rows: Callable[[int], None] | None = None,
    audit: Audit | None = None,
) -> WriteResult:
    """Make ``name`` hold exactly the rows of ``reader``, creating the table if needed.

    ``on_rows`` is called with each batch's row count as it is read (from a reader thread).
    """
    schema = write_schema(lake, name, storable_schema(reader.schema))

    def transform(batch: pa.RecordBatch) -> pa.RecordBatch:
        if on_rows is not None:
            on_rows(batch.num_rows)
        return conform(batch, schema)

    def produce(txn: Transaction, commit_uuid: uuid.UUID) -> Iterator[DataFile]:
        stream = prefetch(reader, transform, schema)
        return write_files(txn, stream, commit_uuid, lake.target_file_bytes)

    return commit_files(lake, name, schema, produce, properties, ALL_FILES, audit)


def replace_table_with_files(
    lake: Lake,
    name: str,
    schema: pa.Schema,
    write: Callable[[str, str], list[str]],
    properties: Mapping[str, str] | None = None,
    audit: Audit | None = None,
) -> WriteResult | None:
    """Replace ``name`` with Parquet files that ``write(folder, prefix)`` puts in ``folder``.

    For engines that write Parquet faster than a Python loop can (DuckDB writes on all cores):
    the files carry no Iceberg field ids, so the table gets a name mapping, as the Iceberg
    spec provides for imported files. File names must start with ``prefix``; ``schema`` must be
    storable (see :func:`is_storable`). Returns None, writing nothing, when the table holds a
    column in a wider type than ``schema``'s: the caller streams the rows instead, cast.
    """
    if not write_schema(lake, name, schema).equals(schema):
        return None

    def produce(txn: Transaction, commit_uuid: uuid.UUID) -> Iterator[DataFile]:
        from pyiceberg.io.pyarrow import parquet_file_to_data_file

        mapping = txn.table_metadata.schema().name_mapping.model_dump_json()
        txn.set_properties({NAME_MAPPING: mapping})
        location = txn.table_metadata.location.rstrip("/") + "/data"
        local = location.removeprefix("file://")
        if local != location:
            Path(local).mkdir(parents=True, exist_ok=True)
        for path in write(local, str(commit_uuid)):
            uri = "file://" + path if local != location and not path.startswith("file://") else path
            yield parquet_file_to_data_file(txn._table.io, txn.table_metadata, uri)

    return commit_files(lake, name, schema, produce, properties, ALL_FILES, audit)


def replace_table_by_copy(
    lake: Lake,
    name: str,
    schema: pa.Schema,
    copy: Callable[[str, str], list[str]],
    stream: Callable[[], pa.RecordBatchReader],
    properties: Mapping[str, str] | None = None,
    on_rows: Callable[[int], None] | None = None,
    audit: Audit | None = None,
) -> WriteResult:
    """Replace ``name`` with the files an engine writes itself (``copy``, see
    :func:`replace_table_with_files`), or with ``stream()``'s batches when Iceberg cannot store
    the result's types as they are or the table holds a wider type."""
    if is_storable(schema):
        result = replace_table_with_files(lake, name, schema, copy, properties, audit)
        if result is not None:
            if on_rows is not None:
                on_rows(result.rows)
            return result
    return replace_table(lake, name, stream(), properties, on_rows, audit)


def write_schema(lake: Lake, name: str, schema: pa.Schema) -> pa.Schema:
    """The schema to write new data for ``name`` with: ``schema``, except that a column the
    table already holds in a wider type (int64 for int32, decimal(29,2) for decimal(20,2)) keeps
    that type, so a source that changed engine does not narrow the table."""
    if not lake.exists(name):
        return schema
    current = lake.arrow_schema(name)
    fields = []
    for field in schema:
        if field.name in current.names:
            wider = current.field(field.name).type
            if widens(field.type, wider):
                field = pa.field(field.name, wider, nullable=True)
        fields.append(field)
    return pa.schema(fields)


def is_storable(schema: pa.Schema) -> bool:
    """True when Iceberg stores every column of ``schema`` as it is."""
    target = storable_schema(schema)
    return all(a.type.equals(b.type) for a, b in zip(schema, target, strict=True))


def ALL_FILES(table: Table) -> list[DataFile]:
    """Every data file of the table's current snapshot."""
    return [task.file for task in table.scan().plan_files()]


def commit_files(
    lake: Lake,
    name: str,
    schema: pa.Schema,
    produce: FileProducer,
    properties: Mapping[str, str] | Callable[[], Mapping[str, str]] | None,
    remove: Callable[[Table], list[DataFile]] | None = None,
    audit: Audit | None = None,
    *,
    rebase: bool = True,
) -> WriteResult:
    """One snapshot: the files ``remove`` picks out, every produced file in, or nothing.

    Without ``remove`` it is an APPEND snapshot; with it an OVERWRITE. The table is created
    (with ``schema``) when missing, and its schema evolved to ``schema`` first. ``properties``
    go to the snapshot summary; a callable is asked once every file is produced (for state
    that is known only then, like a cursor). When another writer commits first, pyiceberg
    re-applies this commit on top of theirs if they do not conflict; ``rebase=False`` fails
    with CommitConflict instead, for commits whose properties were derived from the snapshot
    they replace (they would overwrite the other commit's).
    """
    namespace, _ = split_name(name)
    lake.ensure_namespace(namespace)
    table_props = {"write.target-file-size-bytes": str(lake.target_file_bytes)}
    txn: Transaction
    table: Table | None = None
    if lake.exists(name):
        table = lake.table(name) if rebase else _without_commit_retries(lake.table(name))
        txn = table.transaction()
        _evolve_schema(txn, name, schema)
        txn.set_properties(table_props)
        existing = remove(table) if remove is not None else []
    else:
        txn = lake.catalog.create_table_transaction(
            split_name(name), schema=schema, properties=table_props
        )
        existing = []

    written = []
    commit_uuid = None
    try:
        update = txn.update_snapshot()
        producer: Any = update.overwrite() if remove is not None else update.fast_append()
        with producer:
            commit_uuid = producer.commit_uuid
            for data_file in existing:
                producer.delete_data_file(data_file)
            written = list(produce(txn, producer.commit_uuid))
            produced = list(written)
            if audit is not None:
                gone = {f.file_path for f in existing}
                staying = (
                    []
                    if remove is ALL_FILES or table is None
                    else [
                        t.file.file_path
                        for t in table.scan().plan_files()
                        if t.file.file_path not in gone
                    ]
                )
                written = audit(txn, written, staying)
            for data_file in written:
                producer.append_data_file(data_file)
            props = properties() if callable(properties) else properties
            producer.snapshot_properties = {k: str(v) for k, v in (props or {}).items()}
        lake.commit(txn.commit_transaction)
    except BaseException as exc:
        from pyiceberg.exceptions import CommitFailedException, ValidationException

        if commit_uuid is not None:
            remove_files_of(lake, txn.table_metadata.location, str(commit_uuid))
        # pyiceberg retries a lost race itself; what is left conflicts with the other commit
        if isinstance(exc, CommitFailedException | ValidationException):
            raise CommitConflict(
                f"table `{name}` changed while it was being written: {exc}",
                table=name,
                hint="run again; another writer committed first",
            ) from exc
        raise
    # published: from here on a failure must never touch the commit's files
    if audit is not None:  # files the audit replaced were never published
        kept = {f.file_path for f in written}
        _delete(lake, (f.file_path for f in produced if f.file_path not in kept))
    committed = lake.table(name).current_snapshot()
    return WriteResult(
        table=name,
        snapshot_id=committed.snapshot_id if committed else None,
        rows=sum(f.record_count for f in written),
        bytes=sum(f.file_size_in_bytes for f in written),
        files=len(written),
    )


class DataFileWriter:
    """Write batches to a table's Parquet data files of about ``target`` bytes each.

    Each batch goes to the open file as it arrives (one row group per batch), so memory holds
    a batch and the encoder's buffers, whatever the file or table size; a new file starts once
    ``target`` is written. File names carry ``tag`` (the commit UUID) so that clean-up after a
    failure finds them. Not thread-safe: one writer per thread.
    """

    def __init__(
        self,
        txn: Transaction | LocalTable,
        schema: pa.Schema,
        tag: str,
        target: int,
        part: str = "",
    ) -> None:
        self._local = txn if isinstance(txn, LocalTable) else None
        if isinstance(txn, LocalTable):
            self._schema = txn.with_field_ids(schema)
            self._folder = txn.data_folder
            Path(self._folder).mkdir(parents=True, exist_ok=True)
        else:
            self._metadata = txn.table_metadata
            self._io = txn._table.io
            self._schema = with_field_ids(schema, self._metadata.schema())
            self._folder = self._metadata.location.rstrip("/") + "/data"
        self._prefix = f"{tag}{'-' + part if part else ''}"
        self._target = target
        self._sequence = itertools.count()
        self._path = ""
        self._rows = 0
        self._sink: Any = None
        self._writer: pq.ParquetWriter | None = None
        self.files: list[Any] = []  # DataFile, or LocalFile for a LocalTable

    def write(self, batch: pa.RecordBatch) -> list[Any]:
        """Write ``batch``; returns the files it completed (usually none)."""
        if batch.num_rows == 0:
            return []
        if self._writer is None:
            self._path = f"{self._folder}/{self._prefix}-{next(self._sequence):05d}.parquet"
            if self._local is not None:
                self._sink = pafs.LocalFileSystem().open_output_stream(self._path)
            else:
                self._sink = self._io.new_output(self._path).create(overwrite=False)
            self._writer = pq.ParquetWriter(self._sink, self._schema, compression="zstd")
            self._rows = 0
        self._writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
        self._rows += batch.num_rows
        if self._sink.tell() >= self._target:
            return [self._finish()]
        return []

    def close(self) -> list[Any]:
        """Finish the open file; returns it (or nothing)."""
        return [self._finish()] if self._writer is not None else []

    def abort(self) -> None:
        """Close a file left open by a failure, so that clean-up can delete it."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
                self._sink.close()
            self._writer = None

    def _finish(self) -> Any:
        assert self._writer is not None
        self._writer.close()
        size = self._sink.tell()
        self._sink.close()
        self._writer = None
        data_file: Any
        if self._local is not None:
            data_file = LocalFile(self._path, self._rows, size)
        else:
            from pyiceberg.io.pyarrow import parquet_file_to_data_file

            data_file = parquet_file_to_data_file(self._io, self._metadata, self._path)
        self.files.append(data_file)
        return data_file


def write_files(
    txn: Transaction, stream: pa.RecordBatchReader, commit_uuid: uuid.UUID, target: int
) -> Iterator[DataFile]:
    """Write ``stream`` as data files (see :class:`DataFileWriter`), yielding each when done."""
    writer = DataFileWriter(txn, stream.schema, str(commit_uuid), target)
    try:
        for batch in stream:
            yield from writer.write(batch)
        yield from writer.close()
    finally:
        writer.abort()


def with_field_ids(schema: pa.Schema, table_schema: Schema) -> pa.Schema:
    """``schema`` with each field (nested ones too) tagged with its Iceberg field id, by name."""
    from pyiceberg.types import ListType, MapType, StructType

    def tag(field: pa.Field, column: NestedField) -> pa.Field:
        t, it = field.type, column.field_type
        if (pa.types.is_list(t) or pa.types.is_large_list(t)) and isinstance(it, ListType):
            element = tag(t.value_field, it.element_field)
            t = pa.list_(element) if pa.types.is_list(t) else pa.large_list(element)
        elif pa.types.is_struct(t) and isinstance(it, StructType):
            t = pa.struct([tag(f, it.field_by_name(f.name)) for f in t])  # type: ignore[arg-type]
        elif pa.types.is_map(t) and isinstance(it, MapType):
            t = pa.map_(tag(t.key_field, it.key_field), tag(t.item_field, it.value_field))
        return pa.field(field.name, t, field.nullable, {b"PARQUET:field_id": str(column.field_id)})

    return pa.schema([tag(f, table_schema.find_field(f.name)) for f in schema])


def _without_commit_retries(table: Table) -> Table:
    """``table`` as the base of a transaction that pyiceberg commits once, never retried on a
    newer snapshot. pyiceberg reads the retry count from the base's properties; the changed
    property stays local: a commit sends only the transaction's own updates."""
    from pyiceberg.table import Table, TableProperties

    properties = {**table.metadata.properties, TableProperties.COMMIT_NUM_RETRIES: "0"}
    metadata = table.metadata.model_copy(update={"properties": properties})
    return Table(
        table.name(), metadata, table.metadata_location, table.io, table.catalog, table.config
    )


def _delete(lake: Lake, paths: Iterable[str]) -> None:
    """Remove unpublished files; one that cannot be removed is left to `headwater maintain`
    (an orphan), never a reason to fail a commit that has happened."""
    for path in paths:
        filesystem, local = lake.filesystem(path)
        try:
            filesystem.delete_file(local)
        except OSError as exc:
            log.warning(
                "could not delete unpublished file %s (%s); `headwater maintain` removes orphans",
                path,
                exc,
            )


def remove_files_of(lake: Lake, table_location: str, commit_uuid: str) -> None:
    """Delete the data files one failed write produced; their names carry its commit UUID
    (or the tag it wrote them under).

    Files are written on a thread pool, so some may exist that were never handed back to us.
    """
    filesystem, root = lake.filesystem(table_location.rstrip("/") + "/data")
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    for info in filesystem.get_file_info(selector):
        if info.type == pafs.FileType.File and commit_uuid in info.base_name:
            filesystem.delete_file(info.path)


def _evolve_schema(txn: Transaction, name: str, schema: pa.Schema) -> None:
    """Add new columns and apply safe type promotions; refuse anything else with a diff."""
    current = storable_schema(txn.table_metadata.schema().as_arrow())  # large_string → string
    if current.equals(schema, check_metadata=False):
        return
    try:
        with txn.update_schema() as update:
            update.union_by_name(schema)
    except Exception as exc:  # pyiceberg raises ValidationError/ValueError for incompatible types
        diff = _schema_diff(current, schema)
        raise LakeError(
            f"the new data for `{name}` does not fit the table's schema: {diff}",
            hint=f"drop the table to start over, or cast the column in the source query ({exc})",
        ) from exc


def _schema_diff(old: pa.Schema, new: pa.Schema) -> str:
    changes = []
    for field in new:
        if field.name not in old.names:
            changes.append(f"+{field.name} {field.type}")
        elif not old.field(field.name).type.equals(field.type):
            changes.append(f"{field.name}: {old.field(field.name).type} → {field.type}")
    return ", ".join(changes) or "no column changes"
