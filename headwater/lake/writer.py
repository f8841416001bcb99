"""Replace a table's data with a stream of Arrow batches in one Iceberg commit.

The stream is written to data files as it arrives (memory bounded by the target file size);
the files become visible only when the single OVERWRITE snapshot is committed. If anything
fails before that, the files written so far are deleted and the table is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.table import Transaction

from headwater.errors import LakeError
from headwater.lake.arrow_types import conform, storable_schema
from headwater.lake.catalog import Lake, split_name
from headwater.lake.prefetch import prefetch

TARGET_FILE_SIZE = "write.target-file-size-bytes"


@dataclass(frozen=True)
class WriteResult:
    table: str
    snapshot_id: int | None
    rows: int
    bytes: int
    files: int


def replace_table(
    lake: Lake,
    name: str,
    reader: pa.RecordBatchReader,
    properties: Mapping[str, str] | None = None,
) -> WriteResult:
    """Make ``name`` hold exactly the rows of ``reader``, creating the table if needed."""
    namespace, _ = split_name(name)
    schema = storable_schema(reader.schema)
    lake.ensure_namespace(namespace)
    table_props = {TARGET_FILE_SIZE: str(lake.target_file_bytes)}
    txn: Transaction
    if lake.exists(name):
        table = lake.table(name)
        txn = table.transaction()
        _evolve_schema(txn, name, schema)
        txn.set_properties(table_props)
        existing = [task.file for task in table.scan().plan_files()]
    else:
        txn = lake.catalog.create_table_transaction(split_name(name), schema=schema, properties=table_props)
        existing = []

    written = []
    try:
        stream = prefetch(reader, lambda b: conform(b, schema), schema)
        snapshot_props = {k: str(v) for k, v in (properties or {}).items()}
        with txn.update_snapshot(snapshot_properties=snapshot_props).overwrite() as producer:
            for data_file in existing:
                producer.delete_data_file(data_file)
            for data_file in _dataframe_to_data_files(
                table_metadata=txn.table_metadata,
                df=stream,
                io=txn._table.io,
                write_uuid=producer.commit_uuid,
            ):
                written.append(data_file)
                producer.append_data_file(data_file)
        lake.commit(txn.commit_transaction)
    except BaseException as exc:
        io = txn._table.io
        for data_file in written:
            try:
                io.delete(data_file.file_path)
            except FileNotFoundError:
                pass
        if isinstance(exc, CommitFailedException):
            raise LakeError(
                f"table `{name}` changed while it was being written: {exc}",
                hint="run again; another writer committed first",
            ) from exc
        raise
    committed = lake.table(name).current_snapshot()
    return WriteResult(
        table=name,
        snapshot_id=committed.snapshot_id if committed else None,
        rows=sum(f.record_count for f in written),
        bytes=sum(f.file_size_in_bytes for f in written),
        files=len(written),
    )


def _evolve_schema(txn: Transaction, name: str, schema: pa.Schema) -> None:
    """Add new columns and apply safe type promotions; refuse anything else with a diff."""
    current = txn.table_metadata.schema().as_arrow()
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
