"""Data files for a change of a table, written before the change is committed.

A :class:`Staging` knows where a table's files go and the field ids of the schema they are
written with (learned from a pyiceberg transaction that it drops: nothing is published until
:func:`headwater.lake.commits.commit`). Writers stream batches into Parquet files of about the
table's target size; an engine that writes Parquet itself (DuckDB, on all cores) hands over its
files instead. If the change is not committed, every file of the staging is deleted.

We write the Parquet files ourselves, batch by batch: pyiceberg's streaming write hands every
file to ``Executor.map``, which consumes the whole stream before the first file is written, and
its bin-packing holds a whole file's batches in memory twice. Measured in docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from headwater.lake.arrow_types import conform, storable_schema, widens
from headwater.lake.catalog import Lake
from headwater.lake.change import Keep, TableChange, WrittenFile
from headwater.lake.commits import WriteResult, commit, open_transaction
from headwater.lake.prefetch import prefetch

if TYPE_CHECKING:
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField

log = logging.getLogger("headwater.lake")

# Rows per Parquet row group: DuckDB scans a file's row groups in parallel, so a 5M-row file
# in groups of 1M (pyarrow's default) keeps a core idle for the last fifth of every scan
# (docs/benchmarks.md, "Data quality"); DuckDB writes groups of 122,880 rows.
ROW_GROUP_ROWS = 128 * 1024

# Looks at a write before it is published: given the staging, the files written and the paths
# of the table's files that stay, returns the files to publish (the same, or others it wrote
# in the staging instead) or raises to publish nothing (write–audit–publish).
Audit = Callable[["Staging", list[WrittenFile], list[str]], list[WrittenFile]]

__all__ = [
    "Audit",
    "DataFileWriter",
    "Staging",
    "WriteResult",
    "is_storable",
    "publish",
    "replace_table",
    "replace_table_by_copy",
    "write_schema",
]


class ForeignTypes(Exception):
    """An engine wrote files whose column types are not the change's (DuckDB writes a
    HUGEINT sum as DOUBLE, for one): the rows must be streamed and cast instead."""


class Staging:
    """The files of one change of ``name``, written in its location with its field ids.

    Use as a context manager: when the block fails, every file written for the change (by
    name: its tag) is deleted; :meth:`publish` commits the change and deletes the staging's
    files that it does not publish (an audit may have replaced some).
    """

    def __init__(
        self, lake: Lake, name: str, schema: pa.Schema, replace_schema: bool = False
    ) -> None:
        self.lake = lake
        self.name = name
        self.schema = schema  # storable Arrow types, without field ids
        # the change gives the table this schema as it is (see TableChange.replace_schema)
        self.replace_schema = replace_schema
        txn, table = open_transaction(lake, name, schema, replace_schema=replace_schema)
        iceberg = txn.table_metadata.schema()
        self.exists = table is not None
        self._table = table
        current = table.current_snapshot() if table is not None else None
        # the snapshot the staging saw: a change computed from its files commits only on it
        self.base_snapshot: int | None = current.snapshot_id if current else None
        self.iceberg_schema = iceberg  # after evolution, with its field ids
        self.table_schema = storable_schema(iceberg.as_arrow())
        self.write_schema = with_field_ids(schema, iceberg)
        self.location = txn.table_metadata.location.rstrip("/") + "/data"
        self.tag = str(uuid.uuid4())
        self._parts = itertools.count()
        self._lock = threading.Lock()
        self.written: list[str] = []  # every file opened for the change, finished or not

    @functools.cached_property
    def base_files(self) -> list[str]:
        """The data files of :attr:`base_snapshot` (read when asked: an append needs none)."""
        if self._table is None:
            return []
        return [task.file.file_path for task in self._table.scan().plan_files()]

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.discard()

    @property
    def local_folder(self) -> str | None:
        """The data folder on the local file system (for engines writing there), else None."""
        if self.location.startswith("file://"):
            return self.location.removeprefix("file://")
        return None if "://" in self.location else self.location

    def writer(self) -> DataFileWriter:
        """A writer of new data files in :attr:`schema` (one writer per thread)."""
        with self._lock:
            part = next(self._parts)
        return DataFileWriter(self, f"{self.tag}-{part:03d}")

    def opened(self, path: str) -> None:
        with self._lock:
            self.written.append(path)

    def adopt(self, paths: Iterable[str]) -> list[WrittenFile]:
        """Files an engine wrote in :attr:`local_folder` (named with :attr:`tag`), without
        field ids: the commit gives the table a name mapping to read them by column name."""
        files = []
        for path in paths:
            uri = _as_uri(path, self.location)
            self.opened(uri)
            filesystem, local = self.lake.filesystem(uri)
            with filesystem.open_input_file(local) as handle:
                metadata = pq.read_metadata(handle)
                size = handle.size()
            written = storable_schema(metadata.schema.to_arrow_schema())
            if not written.equals(self.schema, check_metadata=False):
                raise ForeignTypes(f"{uri} holds {written}, not {self.schema}")
            if metadata.num_rows == 0:  # an empty result: the table needs no file for it
                continue
            files.append(WrittenFile(uri, metadata.num_rows, size, field_ids=False))
        return files

    def change(
        self,
        files: Iterable[WrittenFile],
        *,
        keep: Keep = Keep.ALL,
        remove: Iterable[str] = (),
        properties: Mapping[str, str] | None = None,
        base: Any = None,
    ) -> TableChange:
        from headwater.lake.change import Base

        return TableChange(
            table=self.name,
            schema=self.schema,
            field_ids={
                f.name: int(f.metadata[b"PARQUET:field_id"])
                for f in self.write_schema
                if f.metadata and b"PARQUET:field_id" in f.metadata
            },
            add=tuple(files),
            keep=keep,
            remove=frozenset(remove),
            snapshot_properties=dict(properties or {}),
            base=Base.ANY if base is None else base,
            replace_schema=self.replace_schema and keep is Keep.NONE,
        )

    def publish(self, change: TableChange) -> WriteResult:
        """Commit ``change``; the staging's files it leaves out are deleted afterwards (a
        failure to delete them leaves orphans for `headwater maintain`, never a failed run).
        A commit that fails deletes every file of the staging."""
        try:
            result = commit(self.lake, change)
        except BaseException:
            self.discard()
            raise
        kept = {f.path for f in change.add}
        _delete(self.lake, (p for p in self.written if p not in kept))
        return result

    def discard(self) -> None:
        """Delete every file written for this change. Files are written on several threads,
        so some may exist that were never handed back: they are found by the tag."""
        filesystem, root = self.lake.filesystem(self.location)
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        for info in filesystem.get_file_info(selector):
            if info.type == pafs.FileType.File and self.tag in info.base_name:
                with contextlib.suppress(OSError):
                    filesystem.delete_file(info.path)


def _as_uri(path: str, location: str) -> str:
    """A path an engine wrote on the local file system, as the table's locations spell it."""
    if "://" in path or not location.startswith("file://"):
        return path
    return "file://" + path


class DataFileWriter:
    """Write batches to a table's Parquet data files of about the target size each.

    Each batch goes to the open file as it arrives (one row group per batch), so memory holds
    a batch and the encoder's buffers, whatever the file or table size; a new file starts once
    the target is written. Not thread-safe: one writer per thread.
    """

    def __init__(self, staging: Staging, prefix: str) -> None:
        self._staging = staging
        self._schema = staging.write_schema
        self._prefix = prefix
        self.target = staging.lake.target_file_bytes
        self._sequence = itertools.count()
        self._path = ""
        self._rows = 0
        self._sink: Any = None
        self._writer: pq.ParquetWriter | None = None
        self.files: list[WrittenFile] = []

    def write(self, batch: pa.RecordBatch) -> list[WrittenFile]:
        """Write ``batch``; returns the files it completed (usually none)."""
        if batch.num_rows == 0:
            return []
        if self._writer is None:
            folder = self._staging.location
            self._path = f"{folder}/{self._prefix}-{next(self._sequence):05d}.parquet"
            self._staging.opened(self._path)
            filesystem, local = self._staging.lake.filesystem(self._path)
            if isinstance(filesystem, pafs.LocalFileSystem):
                filesystem.create_dir(local.rsplit("/", 1)[0], recursive=True)
            self._sink = filesystem.open_output_stream(local)
            self._writer = pq.ParquetWriter(self._sink, self._schema, compression="zstd")
            self._rows = 0
        self._writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
        self._rows += batch.num_rows
        if self._sink.tell() >= self.target:
            return [self._finish()]
        return []

    def write_all(self, batches: Iterable[pa.RecordBatch]) -> list[WrittenFile]:
        """Write every batch and finish: the files written (closed on failure too)."""
        try:
            for batch in batches:
                self.write(batch)
            self.close()
        finally:
            self.abort()
        return self.files

    def close(self) -> list[WrittenFile]:
        """Finish the open file; returns it (or nothing)."""
        return [self._finish()] if self._writer is not None else []

    def abort(self) -> None:
        """Close a file left open by a failure, so that clean-up can delete it."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
                self._sink.close()
            self._writer = None

    def _finish(self) -> WrittenFile:
        assert self._writer is not None
        self._writer.close()
        size = self._sink.tell()
        self._sink.close()
        self._writer = None
        written = WrittenFile(self._path, self._rows, size)
        self.files.append(written)
        return written


def publish(
    staging: Staging,
    files: list[WrittenFile],
    *,
    keep: Keep,
    remove: Iterable[str] = (),
    properties: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
    audit: Audit | None = None,
    on_base: bool = False,
) -> WriteResult:
    """Audit ``files`` (when asked) and commit them with what they replace, in one change.

    ``properties`` go to the snapshot summary; a callable is asked once every file is written
    (for state known only then, like a cursor). ``on_base``: the change was computed from the
    staging's base snapshot (a merge's rewritten files) and commits only on it."""
    gone = set(remove)
    if audit is not None:
        staying = [] if keep is Keep.NONE else [p for p in staging.base_files if p not in gone]
        files = audit(staging, files, staying)
    props = properties() if callable(properties) else properties
    base = staging.base_snapshot if on_base else None
    change = staging.change(files, keep=keep, remove=gone, properties=props, base=base)
    return staging.publish(change)


def replace_table(
    lake: Lake,
    name: str,
    reader: pa.RecordBatchReader,
    properties: Mapping[str, str] | None = None,
    on_rows: Callable[[int], None] | None = None,
    audit: Audit | None = None,
    replace_schema: bool = False,
) -> WriteResult:
    """Make ``name`` hold exactly the rows of ``reader``, creating the table if needed.

    ``on_rows`` is called with each batch's row count as it is read (from a reader thread).
    With ``replace_schema`` the table takes the rows' schema as it is (columns dropped, types
    changed); else it keeps its wider types and its columns.
    """
    schema = storable_schema(reader.schema)
    if not replace_schema:
        schema = write_schema(lake, name, schema)

    def transform(batch: pa.RecordBatch) -> pa.RecordBatch:
        if on_rows is not None:
            on_rows(batch.num_rows)
        return conform(batch, schema)

    with Staging(lake, name, schema, replace_schema) as staging:
        files = staging.writer().write_all(prefetch(reader, transform, schema))
        return publish(staging, files, keep=Keep.NONE, properties=properties, audit=audit)


def replace_table_by_copy(
    lake: Lake,
    name: str,
    schema: pa.Schema,
    copy: Callable[[str, str], list[str]],
    stream: Callable[[], pa.RecordBatchReader],
    properties: Mapping[str, str] | None = None,
    on_rows: Callable[[int], None] | None = None,
    audit: Audit | None = None,
    replace_schema: bool = False,
) -> WriteResult:
    """Replace ``name`` with the Parquet files an engine writes itself: ``copy(folder,
    prefix)`` writes them in ``folder`` with names starting with ``prefix`` and returns their
    paths. For engines that write Parquet faster than a Python loop can (DuckDB writes on all
    cores). Falls back to ``stream()``'s batches when Iceberg cannot store the result's types
    as they are, the table holds a column in a wider type, or the warehouse is not local."""
    if is_storable(schema) and (replace_schema or write_schema(lake, name, schema).equals(schema)):
        try:
            with Staging(lake, name, schema, replace_schema) as staging:
                folder = staging.local_folder
                if folder is not None:
                    import os

                    os.makedirs(folder, exist_ok=True)
                    files = staging.adopt(copy(folder, staging.tag))
                    result = publish(
                        staging, files, keep=Keep.NONE, properties=properties, audit=audit
                    )
                    if on_rows is not None:
                        on_rows(result.rows)
                    return result
        except ForeignTypes as exc:  # the staging deleted the engine's files
            log.info("streaming %s instead of publishing the engine's files: %s", name, exc)
    return replace_table(lake, name, stream(), properties, on_rows, audit, replace_schema)


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


def _delete(lake: Lake, paths: Iterable[str]) -> None:
    """Remove unpublished files; one that cannot be removed is left to `headwater maintain`
    (an orphan), never a reason to fail a commit that has happened."""
    for path in paths:
        filesystem, local = lake.filesystem(path)
        try:
            filesystem.delete_file(local)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning(
                "could not delete unpublished file %s (%s); `headwater maintain` removes orphans",
                path,
                exc,
            )
