"""The rows a delivery writes for records it could not deliver: what failed, why, and the raw
record (as text when it is UTF-8, else base64), with where it came from in the stream."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from headwater.streams.delivery_parse import Failed

SCHEMA = pa.schema(
    [
        pa.field("delivery", pa.string()),
        pa.field("stream", pa.string()),
        pa.field("shard", pa.string()),
        pa.field("sequence", pa.string()),
        pa.field("partition_key", pa.string()),
        pa.field("arrived_at", pa.timestamp("us", tz="UTC")),
        pa.field("failed_at", pa.timestamp("us", tz="UTC")),
        pa.field("error_type", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("raw", pa.string()),
        pa.field("raw_encoding", pa.string()),  # text or base64
    ]
)


def raw_text(data: bytes) -> tuple[str, str]:
    """The record as text, and how: ``text`` when it is UTF-8, else ``base64``."""
    try:
        return data.decode(), "text"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode(), "base64"


def error_rows(delivery: str, stream: str, failed: Sequence[Failed]) -> pa.Table:
    """One row per failed record, in :data:`SCHEMA`."""
    now = datetime.now(UTC)
    raws = [raw_text(f.record.data) for f in failed]
    return pa.table(
        [
            pa.array([delivery] * len(failed), pa.string()),
            pa.array([stream] * len(failed), pa.string()),
            pa.array([f.record.shard for f in failed], pa.string()),
            pa.array([f.record.sequence for f in failed], pa.string()),
            pa.array([f.record.partition_key for f in failed], pa.string()),
            pa.array([f.record.arrived_ms * 1000 for f in failed], pa.int64()).cast(
                SCHEMA.field("arrived_at").type
            ),
            pa.array([now] * len(failed), SCHEMA.field("failed_at").type),
            pa.array([f.kind for f in failed], pa.string()),
            pa.array([f.message for f in failed], pa.string()),
            pa.array([text for text, _ in raws], pa.string()),
            pa.array([how for _, how in raws], pa.string()),
        ],
        schema=SCHEMA,
    )
