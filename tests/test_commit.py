"""The lake's one commit function: a TableChange is published whole, or nothing is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.errors import CommitConflict, LakeError
from headwater.lake import Keep, Lake, Staging, TableChange, WrittenFile, commit, replace_table
from headwater.lake.writer import publish

IDS = pa.schema([pa.field("id", pa.int64())])


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.local(tmp_path / ".headwater")


def ids(lake: Lake, name: str) -> list[int]:
    files = [f.removeprefix("file://") for f in lake.data_files(name)]
    return sorted(v for f in files for v in pq.read_table(f).column("id").to_pylist())


def data_files_on_disk(lake: Lake, name: str) -> set[str]:
    namespace, table = name.split(".")
    folder = Path(lake.table_location(namespace, table).removeprefix("file://")) / "data"
    return {str(p) for p in folder.glob("*.parquet")}


def test_a_staged_append_is_one_snapshot_with_its_properties(lake: Lake) -> None:
    replace_table(lake, "raw.t", pa.table({"id": [1, 2]}, schema=IDS).to_reader())
    with Staging(lake, "raw.t", IDS) as staging:
        files = staging.writer().write_all([pa.record_batch([pa.array([3, 4])], schema=IDS)])
        result = publish(staging, files, keep=Keep.ALL, properties={"headwater.cursor": "4"})
    assert (result.rows, result.files) == (2, 1)
    assert ids(lake, "raw.t") == [1, 2, 3, 4]
    last = lake.snapshots("raw.t")[-1]
    assert last.snapshot_id == result.snapshot_id
    assert (last.operation, last.summary["headwater.cursor"]) == ("append", "4")


def test_a_file_of_another_type_is_refused_and_nothing_is_published(lake: Lake) -> None:
    replace_table(lake, "raw.t", pa.table({"id": [1]}, schema=IDS).to_reader())
    before = lake.info("raw.t").snapshot_id
    with Staging(lake, "raw.t", IDS) as staging:
        folder = staging.local_folder
        assert folder is not None
        path = f"{folder}/{staging.tag}-foreign.parquet"
        pq.write_table(pa.table({"id": ["not a number"]}), path)
        change = staging.change([WrittenFile("file://" + path, 1, Path(path).stat().st_size)])
        with pytest.raises(LakeError, match=r"does not fit the table's schema \(table .*long"):
            staging.publish(change)
    assert lake.info("raw.t").snapshot_id == before
    assert ids(lake, "raw.t") == [1]
    assert data_files_on_disk(lake, "raw.t") == {
        f.removeprefix("file://") for f in lake.data_files("raw.t")
    }  # the refused file went with the staging


def test_a_change_computed_from_an_older_snapshot_is_not_rebased(lake: Lake) -> None:
    replace_table(lake, "raw.t", pa.table({"id": [1]}, schema=IDS).to_reader())
    base = lake.info("raw.t").snapshot_id
    replace_table(lake, "raw.t", pa.table({"id": [2]}, schema=IDS).to_reader())  # meanwhile
    change = TableChange(table="raw.t", snapshot_properties={"k": "v"}, base=base)
    with pytest.raises(CommitConflict, match=f"no longer at snapshot {base}") as raised:
        commit(lake, change)
    assert raised.value.retryable and raised.value.table == "raw.t"
    assert ids(lake, "raw.t") == [2] and "k" not in lake.snapshots("raw.t")[-1].summary


def test_removing_a_file_another_writer_removed_is_a_conflict(lake: Lake) -> None:
    replace_table(lake, "raw.t", pa.table({"id": [1]}, schema=IDS).to_reader())
    (gone,) = lake.data_files("raw.t")
    replace_table(lake, "raw.t", pa.table({"id": [2]}, schema=IDS).to_reader())
    with Staging(lake, "raw.t", IDS) as staging:
        files = staging.writer().write_all([pa.record_batch([pa.array([3])], schema=IDS)])
        with pytest.raises(CommitConflict, match=r"1 file\(s\) it replaces were removed"):
            publish(staging, files, keep=Keep.ALL, remove=[gone])
    assert ids(lake, "raw.t") == [2]


def test_files_written_before_the_schema_moved_under_them_are_not_published(
    lake: Lake,
) -> None:
    replace_table(lake, "raw.t", pa.table({"id": [1]}, schema=IDS).to_reader())
    with Staging(lake, "raw.t", IDS) as staging:
        files = staging.writer().write_all([pa.record_batch([pa.array([5])], schema=IDS)])
        # another writer drops the table and makes it again with `id` as its second column
        lake.drop("raw.t")
        other = pa.table({"x": ["a"], "id": pa.array([9], pa.int64())})
        replace_table(lake, "raw.t", other.to_reader())
        with pytest.raises(CommitConflict, match=r"column\(s\) id changed under the files"):
            publish(staging, files, keep=Keep.ALL)
    assert ids(lake, "raw.t") == [9]


def test_snapshots_expire_through_the_same_commit(lake: Lake) -> None:
    for n in range(3):
        replace_table(lake, "raw.t", pa.table({"id": [n]}, schema=IDS).to_reader())
    first, second, third = (s.snapshot_id for s in lake.snapshots("raw.t"))
    commit(lake, TableChange(table="raw.t", expire_snapshots=(first, second), base=third))
    assert [s.snapshot_id for s in lake.snapshots("raw.t")] == [third]
    assert ids(lake, "raw.t") == [2]


def test_rows_removed_by_a_filter_and_rows_added_are_one_commit(lake: Lake) -> None:
    replace_table(lake, "raw.t", pa.table({"id": list(range(1, 11))}, schema=IDS).to_reader())
    before = len(lake.snapshots("raw.t"))
    versions = len(lake.table("raw.t").metadata.metadata_log)
    with Staging(lake, "raw.t", IDS) as staging:
        files = staging.writer().write_all([pa.record_batch([pa.array([100])], schema=IDS)])
        change = staging.change(files, properties={"headwater.cursor": "100"})
        staging.publish(replace(change, remove_where="id < 5"))
    assert ids(lake, "raw.t") == [5, 6, 7, 8, 9, 10, 100]
    assert len(lake.table("raw.t").metadata.metadata_log) == versions + 1  # one commit
    after = lake.snapshots("raw.t")[before:]  # the rewrite and the append, published together
    assert [s.summary.get("headwater.cursor") for s in after][-1] == "100"
    with pytest.raises(LakeError, match=r"cannot read the filter `id <<< 5`"):
        commit(lake, TableChange(table="raw.t", remove_where="id <<< 5"))
    assert ids(lake, "raw.t") == [5, 6, 7, 8, 9, 10, 100]


def test_a_change_computed_from_the_staged_files_commits_only_on_their_snapshot(
    lake: Lake,
) -> None:
    replace_table(lake, "raw.t", pa.table({"id": [1, 2]}, schema=IDS).to_reader())
    with Staging(lake, "raw.t", IDS) as staging:
        (old,) = staging.base_files  # a merge rewrites this file...
        files = staging.writer().write_all([pa.record_batch([pa.array([1, 2, 3])], schema=IDS)])
        other = pa.record_batch([pa.array([9])], schema=IDS)
        with Staging(lake, "raw.t", IDS) as meanwhile:  # ...while another load appends
            publish(meanwhile, meanwhile.writer().write_all([other]), keep=Keep.ALL)
        with pytest.raises(CommitConflict, match="no longer at snapshot"):
            publish(staging, files, keep=Keep.ALL, remove=[old], on_base=True)
    assert ids(lake, "raw.t") == [1, 2, 9]  # nothing of the stale merge, nothing lost


def test_a_change_that_keeps_files_cannot_replace_the_schema() -> None:
    from headwater.lake.change import Keep, TableChange

    with pytest.raises(ValueError, match="replace_schema needs keep=Keep.NONE"):
        TableChange(table="a.b", keep=Keep.ALL, replace_schema=True)
