"""Iceberg tables: atomic replace, snapshots kept, failures publish nothing, types made storable."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from headwater.errors import LakeError, TableNotFound
from headwater.lake import Lake, replace_table


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.local(tmp_path / ".headwater")


def rows(lake: Lake, name: str, snapshot_id: int | None = None) -> list[dict[str, object]]:
    return lake.table(name).scan(snapshot_id=snapshot_id).to_arrow().sort_by("id").to_pylist()


def test_replace_creates_then_replaces_keeping_history(lake: Lake) -> None:
    first = pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]})
    second = pa.table({"id": [1, 2], "v": ["x", "y"]})
    r1 = replace_table(lake, "raw.t", first.to_reader(), {"headwater.run-id": "r1"})
    r2 = replace_table(lake, "raw.t", second.to_reader(), {"headwater.run-id": "r2"})
    assert (r1.rows, r2.rows) == (3, 2)
    assert rows(lake, "raw.t") == second.to_pylist()  # replaced, not appended
    assert rows(lake, "raw.t", r1.snapshot_id) == first.to_pylist()  # time travel
    snaps = lake.snapshots("raw.t")
    assert [s.snapshot_id for s in snaps] == [r1.snapshot_id, r2.snapshot_id]
    assert [s.summary["headwater.run-id"] for s in snaps] == ["r1", "r2"]
    assert lake.info("raw.t").rows == 2


def test_failed_stream_publishes_nothing_and_leaves_no_files(lake: Lake, tmp_path: Path) -> None:
    replace_table(lake, "raw.t", pa.table({"id": [1], "v": ["keep"]}).to_reader())
    before = lake.info("raw.t").snapshot_id
    files_before = sorted((tmp_path / ".headwater").rglob("*.parquet"))
    schema = pa.schema([("id", pa.int64()), ("v", pa.string())])

    def broken() -> Iterator[pa.RecordBatch]:
        for i in range(5):
            yield pa.record_batch(
                [pa.array([i] * 1000), pa.array(["x" * 100] * 1000)], schema=schema
            )
        raise RuntimeError("source went away")

    lake.target_file_bytes = 100_000  # several files get written before the failure
    with pytest.raises(RuntimeError, match="source went away"):
        replace_table(lake, "raw.t", pa.RecordBatchReader.from_batches(schema, broken()))
    assert lake.info("raw.t").snapshot_id == before
    assert rows(lake, "raw.t") == [{"id": 1, "v": "keep"}]
    assert sorted((tmp_path / ".headwater").rglob("*.parquet")) == files_before


def test_failed_first_load_creates_no_table(lake: Lake) -> None:
    schema = pa.schema([("id", pa.int64())])

    def broken() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch([pa.array([1])], schema=schema)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        replace_table(lake, "raw.new", pa.RecordBatchReader.from_batches(schema, broken()))
    assert not lake.exists("raw.new")


def test_stream_is_split_into_files_of_the_target_size(lake: Lake) -> None:
    lake.target_file_bytes = 100_000
    table = pa.table({"id": pa.array(range(100_000), pa.int64()), "v": pa.array([1.5] * 100_000)})
    result = replace_table(lake, "raw.big", table.to_reader(max_chunksize=5_000))
    assert result.rows == 100_000
    sizes = [
        f.file_size_in_bytes for f in (t.file for t in lake.table("raw.big").scan().plan_files())
    ]
    assert len(sizes) == result.files >= 2
    assert all(
        size < 100_000 + 60_000 for size in sizes
    )  # a file closes after the batch that fills it
    assert lake.table("raw.big").scan().to_arrow().column("id").to_pylist() == list(range(100_000))


def test_types_are_made_storable(lake: Lake) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int16()),
            "u": pa.array([2**64 - 1, None], pa.uint64()),
            "d": pa.array([decimal.Decimal("12.34"), None], pa.decimal128(10, 2)),
            "ts": pa.array(
                [dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), None],
                pa.timestamp("ns", "Europe/Paris"),
            ),
            "day": pa.array([dt.date(2024, 2, 29), None], pa.date32()),
            "blob": pa.array([b"\x00\xff", None], pa.large_binary()),
        }
    )
    replace_table(lake, "raw.types", table.to_reader())
    schema = lake.arrow_schema("raw.types")
    assert schema.field("id").type == pa.int32()
    assert schema.field("u").type == pa.decimal128(20, 0)
    assert schema.field("d").type == pa.decimal128(10, 2)
    assert schema.field("ts").type == pa.timestamp("us", "UTC")
    got = rows(lake, "raw.types")
    assert got[0]["u"] == decimal.Decimal(2**64 - 1)
    assert got[0]["d"] == decimal.Decimal("12.34")
    assert got[0]["ts"] == dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    assert got[0]["day"] == dt.date(2024, 2, 29)
    assert got[0]["blob"] == b"\x00\xff"
    assert got[1] == {"id": 2, "u": None, "d": None, "ts": None, "day": None, "blob": None}


def test_new_columns_are_added_and_bad_changes_refused(lake: Lake) -> None:
    replace_table(lake, "raw.t", pa.table({"id": pa.array([1], pa.int32())}).to_reader())
    replace_table(
        lake, "raw.t", pa.table({"id": pa.array([2], pa.int64()), "extra": ["x"]}).to_reader()
    )
    assert lake.arrow_schema("raw.t").names == ["id", "extra"]
    assert lake.arrow_schema("raw.t").field("id").type == pa.int64()
    with pytest.raises(LakeError, match=r"id: int64 → string"):
        replace_table(lake, "raw.t", pa.table({"id": ["text"], "extra": ["y"]}).to_reader())
    assert rows(lake, "raw.t") == [{"id": 2, "extra": "x"}]


def test_narrower_types_from_another_source_keep_the_table_type(lake: Lake) -> None:
    from headwater.lake.writer import replace_table_by_copy

    wide = pa.schema([("id", pa.int64()), ("amount", pa.decimal128(29, 2))])
    first = pa.table({"id": [1], "amount": [decimal.Decimal("1.50")]}, schema=wide)
    replace_table(lake, "raw.t", first.to_reader())
    narrow = pa.schema([("id", pa.int32()), ("amount", pa.decimal128(12, 2))])
    rows_in = pa.table({"id": [2, 3], "amount": [decimal.Decimal("2.25"), None]}, schema=narrow)
    # DuckDB's files would carry the narrow types: that path steps aside, the stream casts
    copied: list[str] = []

    def copy(folder: str, prefix: str) -> list[str]:
        copied.append(folder)
        return duckdb_writer("SELECT 1")(folder, prefix)

    replace_table_by_copy(lake, "raw.t", narrow, copy, rows_in.to_reader)
    assert copied == []
    assert lake.arrow_schema("raw.t").field("id").type == pa.int64()
    assert lake.arrow_schema("raw.t").field("amount").type == pa.decimal128(29, 2)
    assert rows(lake, "raw.t") == [
        {"id": 2, "amount": decimal.Decimal("2.25")},
        {"id": 3, "amount": None},
    ]


def test_unknown_table_and_bad_names(lake: Lake) -> None:
    replace_table(lake, "gold.orders", pa.table({"id": [1]}).to_reader())
    with pytest.raises(TableNotFound, match="did you mean `gold.orders`"):
        lake.table("gold.order")
    with pytest.raises(LakeError, match="NAMESPACE.NAME"):
        lake.table("orders")


def duckdb_writer(sql: str, fail: bool = False):  # type: ignore[no-untyped-def]
    import duckdb

    from headwater.connect.sql.duckdb_reader import copy_to_parquet

    def write(folder: str, prefix: str) -> list[str]:
        files = copy_to_parquet(duckdb.connect(), sql, folder, prefix, 1 << 20)
        if fail:
            raise RuntimeError("engine died after writing")
        return files

    return write


def test_files_written_by_duckdb_are_one_commit_readable_everywhere(lake: Lake) -> None:
    from headwater.lake.writer import replace_table_by_copy
    from headwater.sql import Session

    def replace_table_with_files(lake: Lake, name: str, schema: pa.Schema, copy):  # type: ignore[no-untyped-def]
        def stream() -> pa.RecordBatchReader:
            raise AssertionError("the engine's files are published, not a stream")

        return replace_table_by_copy(lake, name, schema, copy, stream)

    sql = "SELECT i AS id, (i * 1.5)::DECIMAL(12, 2) AS amount FROM range(200000) t(i)"
    schema = pa.schema([("id", pa.int64()), ("amount", pa.decimal128(12, 2))])
    first = replace_table_with_files(lake, "raw.d", schema, duckdb_writer(sql))
    assert first.rows == 200_000 and first.files >= 1
    table = lake.table("raw.d").scan(row_filter="id >= 199998").to_arrow().sort_by("id")
    assert table.to_pylist() == [
        {"id": 199998, "amount": decimal.Decimal("299997.00")},
        {"id": 199999, "amount": decimal.Decimal("299998.50")},
    ]
    # a new column, then a failure after the files were written: nothing changes
    sql2 = "SELECT i AS id, (i * 2)::DECIMAL(12, 2) AS amount, 'n' || i AS note FROM range(10) t(i)"
    schema2 = schema.append(pa.field("note", pa.string()))
    second = replace_table_with_files(lake, "raw.d", schema2, duckdb_writer(sql2))
    files = {p.name for p in Path(lake.warehouse.removeprefix("file://")).rglob("*.parquet")}
    with pytest.raises(RuntimeError, match="engine died"):
        replace_table_with_files(lake, "raw.d", schema2, duckdb_writer(sql2, fail=True))
    assert lake.info("raw.d").snapshot_id == second.snapshot_id
    assert {
        p.name for p in Path(lake.warehouse.removeprefix("file://")).rglob("*.parquet")
    } == files
    assert rows(lake, "raw.d")[3] == {"id": 3, "amount": decimal.Decimal("6.00"), "note": "n3"}
    with Session(lake) as session:
        got = session.query("SELECT sum(amount) AS s, count(note) AS n FROM raw.d").read_all()
    assert got.to_pylist() == [{"s": decimal.Decimal("90.00"), "n": 10}]
    # time travel reads the old snapshot with the schema it had
    assert rows(lake, "raw.d", first.snapshot_id)[0] == {"id": 0, "amount": decimal.Decimal("0.00")}
