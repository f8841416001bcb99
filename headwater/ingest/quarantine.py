"""The quarantine table: input a load kept out of its table, with the reason, never dropped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa

from headwater.ingest.extraction import Reject
from headwater.lake import Lake
from headwater.lake.writer import DataFileWriter, WriteResult, commit_files

SUFFIX = "__quarantine"

SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("loaded_at", pa.timestamp("us", tz="UTC")),
        pa.field("reason", pa.string()),
        pa.field("column", pa.string()),
        pa.field("location", pa.string()),
        pa.field("record", pa.string()),
    ]
)


def quarantine_name(table: str) -> str:
    return table + SUFFIX


def quarantine(
    lake: Lake, table: str, rejects: Sequence[Reject], run_id: str, loaded_at: datetime
) -> WriteResult | None:
    """Append ``rejects`` to ``<table>__quarantine`` in one commit (nothing when empty)."""
    if not rejects:
        return None
    batch = pa.record_batch(
        [
            pa.array([run_id] * len(rejects), pa.string()),
            pa.array([loaded_at] * len(rejects), SCHEMA.field("loaded_at").type),
            pa.array([r.reason for r in rejects], pa.string()),
            pa.array([r.column for r in rejects], pa.string()),
            pa.array([r.location for r in rejects], pa.string()),
            pa.array([r.record for r in rejects], pa.string()),
        ],
        schema=SCHEMA,
    )

    def produce(txn, commit_uuid):  # type: ignore[no-untyped-def]
        writer = DataFileWriter(txn, SCHEMA, str(commit_uuid), lake.target_file_bytes)
        try:
            yield from writer.write(batch)
            yield from writer.close()
        finally:
            writer.abort()

    return commit_files(lake, quarantine_name(table), SCHEMA, produce, {"headwater.run-id": run_id})
