"""The pyiceberg-free APPEND commit (headwater.lake.fast_append) against pyiceberg and DuckDB."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import math
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, index_by_id
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType

from headwater.connect.sql.duckdb_extensions import connect
from headwater.errors import CommitConflict
from headwater.lake import metadata
from headwater.lake.catalog import Lake
from headwater.lake.fast_append import append_files
from headwater.lake.writer import replace_table, with_field_ids


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.local(tmp_path / ".headwater")


def create(lake: Lake, name: str, table: pa.Table) -> None:
    replace_table(lake, name, pa.RecordBatchReader.from_batches(table.schema, table.to_batches()))


def write_file(lake: Lake, name: str, table: pa.Table, row_group_size: int | None = None) -> str:
    """A Parquet file in the table's data folder, tagged with field ids as DataFileWriter does."""
    iceberg = lake.table(name)
    folder = Path(iceberg.metadata.location.removeprefix("file://")) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}-00000.parquet"
    schema = with_field_ids(table.schema, iceberg.schema())
    pq.write_table(table.cast(schema), path, compression="zstd", row_group_size=row_group_size)
    return str(path)


def current(lake: Lake, name: str) -> metadata.TableMetadata:
    namespace, table = name.split(".")
    found = metadata.current(lake.catalog_url, namespace, table)
    assert found is not None
    return found


def append(lake: Lake, name: str, files: list[str], **properties: str) -> metadata.TableMetadata:
    namespace, table = name.split(".")
    base = current(lake, name)
    result = append_files(lake.catalog_url, namespace, table, base, files, properties)
    assert result is not None
    return result


def metadata_files(lake: Lake, name: str) -> set[str]:
    folder = Path(lake.table(name).metadata.location.removeprefix("file://")) / "metadata"
    return {p.name for p in folder.iterdir()}


def rows(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: r["id"])


OLD = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", None]})
NEW = pa.table({"id": pa.array([4, 5], pa.int64()), "name": ["d", "a much longer name"]})


def test_append_publishes_the_files_as_one_snapshot(lake: Lake) -> None:
    create(lake, "raw.t", OLD)
    base = current(lake, "raw.t")
    path = write_file(lake, "raw.t", NEW)

    result = append(lake, "raw.t", [path], **{"headwater.cursor": "5"})

    fresh = Lake(lake.catalog_url, lake.warehouse).table("raw.t")
    assert rows(fresh.scan().to_arrow()) == rows(pa.concat_tables([OLD, NEW]))
    snapshot = fresh.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.summary.operation.value == "append"
    assert snapshot.parent_snapshot_id == base.document["current-snapshot-id"]
    assert snapshot.sequence_number == base.document["last-sequence-number"] + 1
    summary = snapshot.summary.additional_properties
    assert summary["headwater.cursor"] == "5"
    assert summary["added-records"] == "2"
    assert summary["added-data-files"] == "1"
    assert summary["added-files-size"] == str(os.path.getsize(path))
    assert summary["total-records"] == "5"
    assert summary["total-data-files"] == "2"
    old_size = int(base.summary["total-files-size"])
    assert summary["total-files-size"] == str(old_size + os.path.getsize(path))
    assert summary["total-delete-files"] == "0"

    now = current(lake, "raw.t")
    assert now.location == result.location == fresh.metadata_location
    assert now.summary == result.summary
    old_version = int(base.location.rsplit("/", 1)[1].split("-")[0])
    assert now.location.rsplit("/", 1)[1].startswith(f"{old_version + 1:05d}-")
    assert now.document["metadata-log"][-1]["metadata-file"] == base.location
    assert now.data_files is not None
    paths = {f.path for f in now.data_files}
    assert len(paths) == 2 and "file://" + path in paths
    assert sum(f.record_count for f in now.data_files) == 5


def test_an_empty_append_moves_the_cursor_and_keeps_the_rows(lake: Lake) -> None:
    create(lake, "raw.t", OLD)
    result = append(lake, "raw.t", [], **{"headwater.cursor": "3"})
    fresh = Lake(lake.catalog_url, lake.warehouse).table("raw.t")
    assert rows(fresh.scan().to_arrow()) == rows(OLD)
    assert result.summary["headwater.cursor"] == "3"
    assert result.summary["total-records"] == "3"
    assert "added-records" not in result.summary


def many_types(start: int, rows_: int) -> pa.Table:
    """Every primitive Iceberg type Headwater stores, plus nested ones, with nulls and NaN."""
    ids = list(range(start, start + rows_))
    base_time = dt.datetime(2024, 1, 1, 12, 0, 0)
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "i32": pa.array([None if i % 7 == 0 else i * -3 for i in ids], pa.int32()),
            "f32": pa.array([math.nan if i % 5 == 0 else i / 3 for i in ids], pa.float32()),
            "f64": pa.array(
                [None if i % 6 == 0 else math.nan if i % 4 == 0 else -i * 1.5 for i in ids],
                pa.float64(),
            ),
            "dec": pa.array(
                [decimal.Decimal(i * 37 - 500) / 100 if i % 3 else None for i in ids],
                pa.decimal128(12, 2),
            ),
            "s": pa.array(
                [f"zé long value number {i:04d} ✓" if i % 2 else f"a{i}" for i in ids], pa.string()
            ),
            "d": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in ids], pa.date32()),
            "ts": pa.array([base_time + dt.timedelta(minutes=i) for i in ids], pa.timestamp("us")),
            "tstz": pa.array(
                [
                    None
                    if i % 8 == 0
                    else (base_time + dt.timedelta(hours=i)).replace(tzinfo=dt.UTC)
                    for i in ids
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "t": pa.array([dt.time(i % 24, i % 60, 0, i) for i in ids], pa.time64("us")),
            "b": pa.array([i % 2 == 0 for i in ids], pa.bool_()),
            "bin": pa.array([bytes([i % 256]) * (i % 20 + 1) for i in ids], pa.binary()),
            "tags": pa.array([[i, i + 1] if i % 3 else None for i in ids], pa.list_(pa.int64())),
            "point": pa.array(
                [{"x": i, "label": f"p{i}"} for i in ids],
                pa.struct([("x", pa.int32()), ("label", pa.string())]),
            ),
            "attrs": pa.array(
                [[("k", i), ("j", -i)] if i % 4 else None for i in ids],
                pa.map_(pa.string(), pa.int64()),
            ),
        }
    )


@pytest.mark.parametrize(
    "table_properties",
    [
        {},
        {
            "write.metadata.metrics.default": "truncate(4)",
            "write.metadata.metrics.column.i32": "none",
            "write.metadata.metrics.column.f64": "counts",
            "write.metadata.metrics.column.s": "full",
            "write.metadata.metrics.column.point.x": "full",
        },
    ],
    ids=["default-metrics", "metrics-modes"],
)
def test_data_file_stats_equal_pyiceberg(lake: Lake, table_properties: dict[str, str]) -> None:
    create(lake, "raw.types", many_types(0, 10))
    if table_properties:
        with lake.table("raw.types").transaction() as txn:
            txn.set_properties(table_properties)
    path = write_file(lake, "raw.types", many_types(100, 300), row_group_size=70)
    assert pq.read_metadata(path).num_row_groups == 5

    append(lake, "raw.types", [path])

    table = Lake(lake.catalog_url, lake.warehouse).table("raw.types")
    uri = "file://" + path
    ours = next(t.file for t in table.scan().plan_files() if t.file.file_path == uri)
    theirs = parquet_file_to_data_file(table.io, table.metadata, uri)
    for field in (
        "content",
        "file_format",
        "record_count",
        "file_size_in_bytes",
        "column_sizes",
        "value_counts",
        "null_value_counts",
        "nan_value_counts",
        "lower_bounds",
        "upper_bounds",
        "split_offsets",
        "sort_order_id",
        "equality_ids",
    ):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert len(ours.partition) == 0
    leaves = {i for i, f in index_by_id(table.schema()).items() if f.field_type.is_primitive}
    assert len(leaves) == 17 and set(ours.column_sizes) == leaves  # nested leaves included
    assert ours.record_count == 300
    assert len(ours.split_offsets) == 5
    s = table.schema().find_field("s").field_id
    if table_properties:
        assert table.schema().find_field("i32").field_id not in ours.value_counts
    else:  # truncate(16) on a longer string: the upper bound is cut and incremented
        assert ours.upper_bounds[s].decode() == "zé long value nv"
    scanned = table.scan().to_arrow()
    assert scanned.num_rows == 310
    assert sorted(scanned["id"].to_pylist()) == list(range(10)) + list(range(100, 400))


def test_the_chain_stays_valid_for_pyiceberg_and_duckdb(lake: Lake) -> None:
    create(lake, "raw.t", OLD)
    fast = append(lake, "raw.t", [write_file(lake, "raw.t", NEW)], **{"headwater.cursor": "5"})

    more = pa.table({"id": pa.array([6], pa.int64()), "name": pa.array(["f"], pa.large_string())})
    Lake(lake.catalog_url, lake.warehouse).table("raw.t").append(more)

    fresh = Lake(lake.catalog_url, lake.warehouse).table("raw.t")
    assert rows(fresh.scan().to_arrow()) == rows(
        pa.concat_tables([OLD, NEW, more.cast(OLD.schema)])
    )
    snapshot = fresh.current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert snapshot.parent_snapshot_id == fast.document["current-snapshot-id"]
    assert snapshot.summary.additional_properties["total-records"] == "6"

    con = connect("avro", "iceberg")
    try:
        for location, expected in ((fast.location, 5), (fresh.metadata_location, 6)):
            path = location.removeprefix("file://")
            count = con.execute(f"SELECT count(*), sum(id) FROM iceberg_scan('{path}')").fetchone()
            assert count is not None
            assert count[0] == expected
            assert count[1] == sum(range(1, expected + 1))
    finally:
        con.close()


def test_a_lost_race_raises_and_leaves_nothing(lake: Lake) -> None:
    create(lake, "raw.t", OLD)
    namespace, name = "raw", "t"
    base = current(lake, "raw.t")
    first = write_file(lake, "raw.t", NEW)
    second = write_file(lake, "raw.t", pa.table({"id": pa.array([9], pa.int64()), "name": ["z"]}))

    winner = append_files(lake.catalog_url, namespace, name, base, [first], {})
    assert winner is not None
    before = metadata_files(lake, "raw.t")
    with pytest.raises(CommitConflict) as raised:
        append_files(lake.catalog_url, namespace, name, base, [second], {})

    assert raised.value.table == "raw.t"
    assert "run again" in str(raised.value)
    assert metadata_files(lake, "raw.t") == before
    assert current(lake, "raw.t").location == winner.location
    fresh = Lake(lake.catalog_url, lake.warehouse).table("raw.t")
    assert rows(fresh.scan().to_arrow()) == rows(pa.concat_tables([OLD, NEW]))
    assert Path(second).exists()  # the caller's data file is the caller's to remove


def not_applicable(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The reasons the fast path gave for not applying, from its debug log."""
    return [
        r.getMessage().split(": ", 1)[1] for r in caplog.records if "does not apply" in r.message
    ]


def test_not_applicable_returns_none_and_writes_nothing(
    lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="headwater.lake")
    create(lake, "raw.t", OLD)
    base = current(lake, "raw.t")
    path = write_file(lake, "raw.t", NEW)
    before = metadata_files(lake, "raw.t")

    # another catalog database
    assert append_files("postgresql://localhost/lake", "raw", "t", base, [path], {}) is None
    # a file without field ids
    plain = str(Path(path).with_name("plain.parquet"))
    pq.write_table(NEW, plain)
    assert append_files(lake.catalog_url, "raw", "t", base, [plain], {}) is None
    # a file with a column the table does not have
    extra = str(Path(path).with_name("extra.parquet"))
    ids = {b"PARQUET:field_id": b"1"}
    other = pa.schema([pa.field("id", pa.int64(), metadata=ids), pa.field("x", pa.int64())])
    pq.write_table(pa.table({"id": [7], "x": [1]}, schema=other), extra)
    assert append_files(lake.catalog_url, "raw", "t", base, [extra], {}) is None
    # a summary key the commit computes
    total = {"total-records": "1"}
    assert append_files(lake.catalog_url, "raw", "t", base, [path], total) is None

    assert not_applicable(caplog) == [
        "the catalog is not an existing SQLite file",
        "column id: no field id or not the table's",
        "column x: no field id or not the table's",
        "summary property total-records is computed by the commit",
    ]
    assert metadata_files(lake, "raw.t") == before
    assert current(lake, "raw.t").location == base.location


def test_a_partitioned_table_is_left_to_pyiceberg(
    lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="headwater.lake")
    lake.ensure_namespace("raw")
    schema = Schema(
        NestedField(1, "id", LongType(), required=False),
        NestedField(2, "name", StringType(), required=False),
    )
    spec = PartitionSpec(PartitionField(2, 1000, IdentityTransform(), "name"))
    table = lake.catalog.create_table(("raw", "p"), schema=schema, partition_spec=spec)
    table.append(
        pa.table({"id": pa.array([1], pa.int64()), "name": pa.array(["a"], pa.large_string())})
    )
    base = current(lake, "raw.p")
    path = write_file(lake, "raw.p", pa.table({"id": pa.array([2], pa.int64()), "name": ["a"]}))
    before = metadata_files(lake, "raw.p")

    assert append_files(lake.catalog_url, "raw", "p", base, [path], {}) is None

    assert not_applicable(caplog) == ["the table is partitioned"]
    assert metadata_files(lake, "raw.p") == before
    assert current(lake, "raw.p").location == base.location


def test_a_table_without_snapshot_is_left_to_pyiceberg(
    lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="headwater.lake")
    lake.ensure_namespace("raw")
    schema = Schema(NestedField(1, "id", LongType(), required=False))
    lake.catalog.create_table(("raw", "e"), schema=schema)
    base = current(lake, "raw.e")
    path = write_file(lake, "raw.e", pa.table({"id": pa.array([2], pa.int64())}))

    assert append_files(lake.catalog_url, "raw", "e", base, [path], {}) is None
    assert not_applicable(caplog) == ["no current snapshot"]
    assert current(lake, "raw.e").location == base.location


def test_a_failed_commit_removes_what_it_wrote(lake: Lake, tmp_path: Path) -> None:
    create(lake, "raw.t", OLD)
    base = current(lake, "raw.t")
    path = write_file(lake, "raw.t", NEW)
    before = metadata_files(lake, "raw.t")
    broken = tmp_path / "broken.db"
    sqlite3.connect(broken).close()  # a SQLite file without the catalog's tables

    with pytest.raises(sqlite3.OperationalError, match="iceberg_tables"):
        append_files(f"sqlite:///{broken}", "raw", "t", base, [path], {})

    assert metadata_files(lake, "raw.t") == before
    assert Path(path).exists()


def test_a_locked_catalog_is_waited_for(lake: Lake) -> None:
    create(lake, "raw.t", OLD)
    path = write_file(lake, "raw.t", NEW)
    database = lake.catalog_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a moment
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        append(lake, "raw.t", [path])
        assert time.monotonic() - started >= 0.4
    finally:
        release.join()
        holder.close()
    fresh = Lake(lake.catalog_url, lake.warehouse).table("raw.t")
    assert rows(fresh.scan().to_arrow()) == rows(pa.concat_tables([OLD, NEW]))
