"""The quarantine table: input a load kept out of its table, with the reason, never dropped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from headwater.lake.catalog import Lake
from headwater.lake.change import Keep
from headwater.lake.properties import RUN_ID
from headwater.lake.writer import Staging, WriteResult, publish

SUFFIX = "__quarantine"


@dataclass(frozen=True)
class Reject:
    """One piece of input that could not be loaded, kept in the quarantine table."""

    reason: str
    record: str  # the raw row, line or value, as text
    location: str = ""  # file:line, URL, Redis key…
    column: str | None = None


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
    """Append ``rejects`` to ``<table>__quarantine`` in one commit (nothing when empty).

    The quarantine is written before the table's own commit; if that commit then fails, the
    load is retried or run again and meets the same rejects. Those already held (same reason,
    column, location and record) are not added twice: the quarantine keeps the first run that
    saw each."""
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
    batch = _unseen(lake, quarantine_name(table), batch)
    if batch.num_rows == 0:
        return None

    with Staging(lake, quarantine_name(table), SCHEMA) as staging:
        files = staging.writer().write_all([batch])
        return publish(staging, files, keep=Keep.ALL, properties={RUN_ID: run_id})


def _unseen(lake: Lake, name: str, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The rows of ``batch`` the quarantine table does not hold yet (an anti-join in DuckDB)."""
    if not lake.exists(name):
        return batch
    files = lake.data_files(name)
    if not files:
        return batch
    import duckdb

    from headwater.connect.sql.quoting import literal

    con = duckdb.connect()
    try:
        lake.attach(con)
        con.register("incoming", pa.Table.from_batches([batch]))
        listing = ", ".join(literal(f.removeprefix("file://")) for f in files)
        fresh = con.execute(
            "SELECT * FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM read_parquet(["
            + listing
            + "]) q WHERE q.reason IS NOT DISTINCT FROM i.reason"
            " AND q.column IS NOT DISTINCT FROM i.column"
            " AND q.location IS NOT DISTINCT FROM i.location"
            " AND q.record IS NOT DISTINCT FROM i.record)"
        ).to_arrow_table()
    finally:
        con.close()
    if fresh.num_rows == 0:
        return batch.slice(0, 0)
    return fresh.cast(SCHEMA).combine_chunks().to_batches()[0]
