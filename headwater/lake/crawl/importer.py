"""``--import``: load each crawled table into an Iceberg table, one atomic commit per table.

The files are read by the same SQL as an external table's queries and written by the lake's
writer (:class:`headwater.lake.writer.Staging`, committed as one change), replacing the table's data. A digest of
the files read rides in the snapshot summary, so a crawl that finds the same files commits
nothing; a failed table publishes nothing and the crawl goes on with the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence

import duckdb
import pyarrow as pa

from headwater.connect.storage import Storage, attach
from headwater.errors import HeadwaterError, SourceError
from headwater.lake.arrow_types import conform, storable_schema
from headwater.lake.catalog import Lake
from headwater.lake.change import Keep
from headwater.lake.crawl.infer import duckdb_reason
from headwater.lake.crawl.plan import TablePlan
from headwater.lake.crawl.register import Policy
from headwater.lake.crawl.registry import ExternalFile
from headwater.lake.crawl.relation import relation
from headwater.lake.crawl.report import TableOutcome
from headwater.lake.schema_changes import schema_changes
from headwater.lake.writer import Staging, publish, write_schema

DIGEST = "headwater.crawl-files"
BATCH_ROWS = 100_000


def import_tables(
    lake: Lake,
    namespace: str,
    plans: Sequence[TablePlan],
    policy: Policy,
    storage: Storage,
    progress: Callable[[int], None] | None = None,
) -> list[TableOutcome]:
    """Import each planned table; a failure is that table's outcome, not the crawl's end."""
    outcomes = []
    for plan in plans:
        outcomes.append(_one(lake, namespace, plan, policy, storage))
        if progress:
            progress(1)
    return outcomes


def _one(
    lake: Lake, namespace: str, plan: TablePlan, policy: Policy, storage: Storage
) -> TableOutcome:
    full = f"{namespace}.{plan.name}"
    parts = len(plan.partition_values())

    def outcome(
        action: str, rows: int | None = None, changes: Sequence[str] = (), detail: str = ""
    ) -> TableOutcome:
        added = parts if action == "added" else 0
        return TableOutcome.of(
            full, plan, action, partitions_added=added, changes=changes, rows=rows, detail=detail
        )

    if lake.external.get(full) is not None:
        return outcome(
            "conflict",
            detail=f"an external table `{full}` is registered; import into another namespace",
        )
    digest = files_digest(plan.files)
    exists = lake.exists(full)
    if exists:
        summary = lake.table_metadata(full).summary
        if summary.get(DIGEST) == digest:
            return outcome("unchanged")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        attach(storage, con)
        sql = f"SELECT * FROM {relation(plan.definition(namespace, None), plan.files)}"
        reader = con.execute(sql).to_arrow_reader(BATCH_ROWS)
        schema = storable_schema(reader.schema)
        if exists:
            changes = [c.describe() for c in schema_changes(lake.arrow_schema(full), schema)]
            if changes and policy != "update":
                return outcome(
                    "logged" if policy == "log" else "deprecated",
                    changes=changes,
                    detail=f"schema change not imported (policy {policy})",
                )
        else:
            changes = []
        target = write_schema(lake, full, schema)

        with Staging(lake, full, target) as staging:
            files = staging.writer().write_all(
                conform(batch, target) for batch in _batches(reader, full)
            )
            result = publish(
                staging,
                files,
                keep=Keep.NONE,
                properties={DIGEST: digest, "headwater.crawl-root": plan.location},
            )
    except HeadwaterError as exc:
        return outcome("failed", detail=exc.message)
    except duckdb.Error as exc:
        return outcome("failed", detail=f"reading the files failed: {duckdb_reason(exc)}")
    finally:
        con.close()
    return outcome("updated" if exists else "added", rows=result.rows, changes=changes)


def files_digest(files: Sequence[ExternalFile]) -> str:
    """A fingerprint of the files a table is made of: paths, sizes and versions."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"{f.path}\0{f.size}\0{f.version}\n".encode())
    return h.hexdigest()


def _batches(reader: pa.RecordBatchReader, name: str) -> Iterator[pa.RecordBatch]:
    try:
        yield from reader
    except duckdb.Error as exc:
        raise SourceError(
            f"reading the files of `{name}` failed: {duckdb_reason(exc)}",
            hint="fix or remove the file it names, then crawl again",
        ) from exc
