"""Table maintenance: compaction keeps rows and load state, expiry deletes exactly the files only
expired snapshots used, orphan removal spares what metadata references, races lose nothing."""

from __future__ import annotations

import datetime as dt
import decimal
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headwater.cli import app
from headwater.errors import CommitConflict, LakeError, TableNotFound
from headwater.ingest.state import (
    CURSOR,
    LOADED,
    SOURCE_STATE,
    committed_state,
    state_properties,
)
from headwater.lake import Lake, replace_table
from headwater.lake.change import Keep
from headwater.lake.maintenance import (
    Maintenance,
    compact,
    expire_snapshots,
    remove_orphan_files,
)
from headwater.lake.maintenance.references import referenced
from headwater.lake.writer import Staging, publish
from headwater.sql import Session
from tests.load_support import SqliteProject

T = "raw.events"
DAY = dt.timedelta(days=1)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.local(tmp_path / ".headwater")


def rows_of(start: int, count: int, note: bool = False) -> pa.Table:
    """Rows with ids start..start+count-1 and columns of several kinds (nested ones too)."""
    ids = list(range(start, start + count))
    columns: dict[str, Any] = {
        "id": pa.array(ids, pa.int64()),
        "name": pa.array([f"n{i}" if i % 7 else None for i in ids], pa.string()),
        "amount": pa.array([decimal.Decimal(i) / 100 for i in ids], pa.decimal128(10, 2)),
        "tags": pa.array([[f"t{i % 3}", "x"] for i in ids], pa.list_(pa.string())),
        "at": pa.array(
            [dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i) for i in ids],
            pa.timestamp("us", tz="UTC"),
        ),
    }
    if note:  # a column added later: older files do not have it
        columns["note"] = pa.array([f"note {i}" for i in ids], pa.string())
    return pa.table(columns)


def load(lake: Lake, rows: pa.Table, cursor: int, name: str = T) -> int:
    """Append ``rows`` in one commit carrying the cursor, as an append load does."""

    props = {"headwater.run-id": f"run-{cursor}", **state_properties(cursor, {"seen": cursor})}
    with Staging(lake, name, rows.schema) as staging:
        files = staging.writer().write_all(rows.to_batches())
        snapshot_id = publish(staging, files, keep=Keep.ALL, properties=props).snapshot_id
    assert snapshot_id is not None
    return snapshot_id


def move_cursor(lake: Lake, cursor: int, name: str = T) -> None:
    """A load that read nothing to keep but moved its state: a snapshot without files."""

    with Staging(lake, name, lake.arrow_schema(name)) as staging:
        publish(staging, [], keep=Keep.ALL, properties=state_properties(cursor, {}))


def small_files_table(lake: Lake, loads: int = 12, rows: int = 50) -> None:
    """``loads`` appends of ``rows`` rows each; the last three add a column."""
    for i in range(loads):
        load(lake, rows_of(i * rows, rows, note=i >= loads - 3), cursor=(i + 1) * rows - 1)


def content(lake: Lake, snapshot_id: int | None = None, name: str = T) -> list[dict[str, Any]]:
    table = lake.table(name).scan(snapshot_id=snapshot_id).to_arrow()
    return sorted(table.to_pylist(), key=lambda r: r["id"])


def data_files(lake: Lake, name: str = T) -> list[str]:
    return [t.file.file_path for t in lake.table(name).scan().plan_files()]


def files_on_disk(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and p.suffix != ".db"}


def local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


# -- compaction ------------------------------------------------------------------------------


def test_compaction_rewrites_small_files_keeping_rows_and_cursor(lake: Lake) -> None:
    small_files_table(lake)
    before, snapshot_before = content(lake), lake.info(T).snapshot_id
    state_before = committed_state(lake, T)
    assert len(data_files(lake)) == 12

    report = compact(lake, T)

    assert (report.files_before, report.rewritten, report.written) == (12, 12, 1)
    assert report.files_after == 1 == len(data_files(lake))
    assert report.rows == len(before) == 600
    assert content(lake) == before  # the same rows, old files' missing column as NULL
    assert [r["note"] for r in before[:2]] == [None, None]
    assert content(lake, snapshot_before) == before  # time travel to before the compaction
    last_load, compaction = (s.summary for s in lake.snapshots(T)[-2:])
    assert compaction["headwater.maintenance"] == "compact"
    assert "headwater.run-id" not in compaction  # no run wrote it
    for key in (LOADED, CURSOR, SOURCE_STATE):  # the state is in the compaction's own snapshot
        assert compaction[key] == last_load[key]
    state = committed_state(lake, T)
    assert (state.cursor, dict(state.source)) == (state_before.cursor, {"seen": 599})
    assert state.cursor == 599
    with Session(lake) as session:  # and DuckDB reads the new file as Headwater queries do
        got = session.query(f"SELECT count(*), sum(amount), count(note) FROM {T}").read_all()
    assert got.to_pylist()[0] == {
        "count_star()": 600,
        "sum(amount)": decimal.Decimal("1797.00"),
        "count(note)": 150,
    }


def test_compaction_writes_files_of_the_target_size(lake: Lake) -> None:
    small_files_table(lake, loads=10, rows=2_000)
    before = content(lake)
    sizes = [f.file_size_in_bytes for f in (t.file for t in lake.table(T).scan().plan_files())]
    target = sum(sizes) // 3  # every file is small; three or four files of this size result

    report = compact(lake, T, target_bytes=target)

    assert 2 <= report.files_after <= 4 < report.files_before == 10
    assert content(lake) == before


def test_nothing_to_compact_commits_nothing(lake: Lake) -> None:
    load(lake, rows_of(0, 10), cursor=9)
    single = compact(lake, T)  # one small file: rewriting it would gain nothing
    assert (single.committed, single.rewritten) == (False, 0)
    load(lake, rows_of(10, 10), cursor=19)
    snapshots = len(lake.snapshots(T))
    large = compact(lake, T, target_bytes=1_000)  # both files are larger than 3/4 of 1000 B
    assert (large.committed, large.files_after) == (False, 2)
    assert len(lake.snapshots(T)) == snapshots


def test_a_concurrent_load_during_compaction_is_kept(lake: Lake, tmp_path: Path) -> None:
    small_files_table(lake, loads=6)
    other = Lake.local(tmp_path / ".headwater")  # another writer: its own catalog connection
    committed: list[int] = []

    def load_meanwhile(rows: int) -> None:
        if not committed:  # between compaction's read and its commit
            committed.append(load(other, rows_of(10_000, 5), cursor=10_004))

    report = compact(lake, T, on_rows=load_meanwhile)

    assert report.attempts == 2  # the first commit lost the race and was planned again
    ids = [r["id"] for r in content(lake)]
    assert ids == list(range(300)) + list(range(10_000, 10_005))
    assert report.files_after == 1  # the concurrent load's file was compacted too
    assert committed_state(lake, T).cursor == 10_004


def test_a_concurrent_cursor_move_is_not_overwritten_by_compaction(
    lake: Lake, tmp_path: Path
) -> None:
    small_files_table(lake, loads=4)
    other = Lake.local(tmp_path / ".headwater")
    moved: list[bool] = []

    def move_meanwhile(rows: int) -> None:
        if not moved:
            move_cursor(other, 5_000)  # adds no file: nothing else would notice the race
            moved.append(True)

    report = compact(lake, T, on_rows=move_meanwhile)

    assert committed_state(lake, T).cursor == 5_000  # not the cursor the compaction read
    assert report.attempts == 2
    assert len(content(lake)) == 200


def test_compaction_out_of_attempts_fails_cleanly(lake: Lake, tmp_path: Path) -> None:
    small_files_table(lake, loads=4)
    other = Lake.local(tmp_path / ".headwater")

    def load_meanwhile(rows: int) -> None:
        load(other, rows_of(20_000 + len(data_files(other)), 1), cursor=30_000)

    with pytest.raises(CommitConflict, match="changed while it was being written") as error:
        compact(lake, T, attempts=2, on_rows=load_meanwhile)

    assert "tried 2 times" in error.value.message and error.value.retryable
    ids = [r["id"] for r in content(lake)]
    assert ids[:200] == list(range(200)) and len(ids) == 202  # both concurrent loads kept
    assert lake.snapshots(T)[-1].summary.get("headwater.maintenance") is None
    # the compaction's own files were removed: every data file on disk is referenced
    on_disk = {p for p in files_on_disk(tmp_path) if p.suffix == ".parquet"}
    assert on_disk == {local(uri) for uri in referenced_data(lake)}


def referenced_data(lake: Lake, name: str = T) -> set[str]:
    return {f for f in referenced(lake.table(name)) if f.endswith(".parquet")}


# -- expiry ---------------------------------------------------------------------------------


def test_expiry_keeps_the_last_snapshots_and_deletes_files_only_expired_ones_used(
    lake: Lake,
) -> None:
    versions = [pa.table({"id": [v * 10 + i for i in range(3)]}) for v in range(6)]
    ids = [replace_table(lake, T, v.to_reader()).snapshot_id for v in versions]
    files_by_snapshot = {
        sid: [t.file.file_path for t in lake.table(T).scan(snapshot_id=sid).plan_files()]
        for sid in ids
    }
    manifest_lists = {s.snapshot_id: s.manifest_list for s in lake.table(T).snapshots()}

    report = expire_snapshots(lake, T, keep_last=2)

    assert set(report.expired) == set(ids[:4])
    assert (report.snapshots_before, report.snapshots_after) == (6, 2)
    assert [s.snapshot_id for s in lake.snapshots(T)] == ids[4:]
    for sid in ids[:4]:  # each full replace had files of its own
        assert not any(local(f).exists() for f in files_by_snapshot[sid])
        assert not local(manifest_lists[sid]).exists()
    for sid in ids[4:]:
        assert all(local(f).exists() for f in files_by_snapshot[sid])
    # 4 data files + 4 manifest lists + 4 manifests (+ the 3 manifests of deletions)
    assert report.deleted_files >= 12 and report.deleted_bytes > 0
    assert content(lake, ids[4]) == versions[4].to_pylist()  # time travel to a kept one
    assert content(lake) == versions[5].to_pylist()
    with pytest.raises(ValueError, match="Snapshot not found|Cannot find snapshot"):
        lake.table(T).scan(snapshot_id=ids[0]).to_arrow()


def test_expiry_keeps_files_a_kept_snapshot_still_uses(lake: Lake) -> None:
    small_files_table(lake, loads=5)
    first_files = data_files(lake)
    compact(lake, T)

    expire_snapshots(lake, T, keep_last=2)  # the last load's snapshot still lists the small files

    assert all(local(f).exists() for f in first_files)
    expire_snapshots(lake, T, keep_last=1)
    assert not any(local(f).exists() for f in first_files)
    assert len(content(lake)) == 250
    assert committed_state(lake, T).cursor == 249


def test_expiry_by_age_keeps_snapshots_newer_than_the_cutoff(lake: Lake) -> None:
    for i in range(5):
        load(lake, rows_of(i * 10, 10), cursor=i * 10 + 9)
    snapshots = lake.table(T).snapshots()
    # "now" is an hour after the third snapshot: with --older-than 1h, the third and later stay
    now = dt.datetime.fromtimestamp(snapshots[2].timestamp_ms / 1000, dt.UTC) + dt.timedelta(
        hours=1
    )

    report = expire_snapshots(lake, T, keep_last=1, older_than=dt.timedelta(hours=1), now=now)

    assert set(report.expired) == {s.snapshot_id for s in snapshots[:2]}
    assert [s.snapshot_id for s in lake.snapshots(T)] == [s.snapshot_id for s in snapshots[2:]]
    assert len(content(lake)) == 50


def test_expiry_never_removes_the_current_snapshot(lake: Lake) -> None:
    load(lake, rows_of(0, 3), cursor=2)
    report = expire_snapshots(lake, T, keep_last=1, older_than=dt.timedelta(0))
    assert report.expired == () and len(lake.snapshots(T)) == 1
    with pytest.raises(LakeError, match="the current snapshot is always kept"):
        expire_snapshots(lake, T, keep_last=0)


# -- orphan files ---------------------------------------------------------------------------


def age(paths: set[Path], days: float) -> None:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).timestamp()
    for path in paths:
        os.utime(path, (when, when))


def test_orphans_are_deleted_and_referenced_files_kept(lake: Lake, tmp_path: Path) -> None:
    small_files_table(lake, loads=3)
    kept = files_on_disk(tmp_path)
    age(kept, days=3)  # not the age that protects them
    data = local(data_files(lake)[0]).parent
    crashed = data / "00000-0-crashed-write.parquet"  # left by a write that never committed
    crashed.write_bytes(b"PAR1" + b"\0" * 1000)
    stray = data.parent / "metadata" / "snap-123-stray.avro"
    stray.write_bytes(b"x" * 10)
    age({crashed, stray}, days=2)
    in_progress = data / "00001-0-writing-now.parquet"  # a write still going on
    in_progress.write_bytes(b"PAR1")
    before = content(lake)

    dry = remove_orphan_files(lake, T, dry_run=True)
    assert {Path(f.path) for f in dry.orphans} == {crashed, stray}
    assert dry.bytes == 1014 and dry.too_young == 1
    assert crashed.exists() and stray.exists()  # a dry run deletes nothing

    report = remove_orphan_files(lake, T, older_than=DAY)
    assert {Path(f.path) for f in report.orphans} == {crashed, stray}
    assert not crashed.exists() and not stray.exists() and in_progress.exists()
    assert files_on_disk(tmp_path) == kept | {in_progress}
    assert content(lake) == before


def test_orphan_removal_refuses_when_the_listing_does_not_match(lake: Lake) -> None:
    load(lake, rows_of(0, 3), cursor=2)
    path = local(data_files(lake)[0])
    path.rename(path.with_suffix(".moved"))  # the metadata names a file the listing lacks
    with pytest.raises(LakeError, match="of its current files are not under") as error:
        remove_orphan_files(lake, T, older_than=dt.timedelta(0))
    assert "no file was deleted" in error.value.message
    assert path.with_suffix(".moved").exists()


# -- the whole: a project whose cursor must survive ------------------------------------------


@pytest.mark.slow
def test_maintained_append_table_loads_on_from_its_cursor(tmp_path: Path) -> None:
    p = SqliteProject(
        tmp_path / "p", "- name: events\n  table: ev\n  load: {strategy: append, cursor: id}\n"
    )
    p.sql("CREATE TABLE ev (id INTEGER PRIMARY KEY, v TEXT)")
    for run in range(5):
        p.sql("INSERT INTO ev VALUES (?, ?)", [(run * 10 + i, f"v{run}") for i in range(10)])
        p.run()
    ws = p.workspace()
    try:
        assert len(data_files(ws.lake)) == 5
        reports = ws.maintain(
            options=Maintenance(keep_last=1, orphan_age=dt.timedelta(0)),
        )
        assert [r.table for r in reports] == [T]
        assert reports[0].compact is not None and reports[0].compact.files_after == 1
        assert reports[0].expire is not None and len(reports[0].expire.expired) == 5
        # every snapshot a load wrote is gone: the cursor lives on in the compaction's
        assert [s.summary.get("headwater.maintenance") for s in ws.lake.snapshots(T)] == ["compact"]
    finally:
        ws.close()
    p.sql("INSERT INTO ev VALUES (?, ?)", [(100 + i, "new") for i in range(3)])
    p.run()
    assert p.rows(f"SELECT count(*), count(DISTINCT id), max(id) FROM {T}") == [(53, 53, 102)]


def test_maintaining_an_unknown_table_suggests_the_name(tmp_path: Path) -> None:
    p = SqliteProject(tmp_path / "p", "- name: events\n  table: ev\n")
    p.sql("CREATE TABLE ev (id INTEGER)")
    ws = p.workspace()
    try:
        load(ws.lake, rows_of(0, 2), cursor=1)
        with pytest.raises(TableNotFound, match=r"did you mean `raw\.events`"):
            ws.maintain("raw.event")
    finally:
        ws.close()


# -- the command ----------------------------------------------------------------------------


def test_maintain_command(tmp_path: Path) -> None:
    runner = CliRunner()
    p = SqliteProject(tmp_path / "p", "- name: events\n  table: ev\n")
    p.sql("CREATE TABLE ev (id INTEGER)")
    ws = p.workspace()
    try:
        small_files_table(ws.lake, loads=4)
        load(ws.lake, rows_of(0, 5), cursor=4, name="raw.other")
    finally:
        ws.close()
    root = str(p.root)
    stray = local(data_files(Lake.local(p.root / ".headwater"))[0]).parent / "stray.parquet"
    stray.touch()
    files = files_on_disk(p.root)
    age(files, days=3)  # old enough to go, were it not a dry run

    dry = runner.invoke(app, ["maintain", "-p", root, "--dry-run", "--keep-last", "2"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing was changed" in dry.stdout
    assert "4, 4 to rewrite" in dry.stdout and "4, 2 to expire" in dry.stdout
    assert "raw.other" in dry.stdout and "2 table(s) maintained; would free" in dry.stdout
    assert "would delete these orphan files" in dry.stdout and "stray.parquet" in dry.stdout
    assert p.snapshots(T) == 4
    assert files_on_disk(p.root) == files

    done = runner.invoke(app, ["maintain", T, "-p", root, "--keep-last", "1", "--no-orphans"])
    assert done.exit_code == 0, done.output
    assert "4 → 1" in done.stdout  # data files
    assert "5 → 1" in done.stdout  # snapshots: four loads and the compaction
    assert "raw.other" not in done.stdout and "skipped" in done.stdout
    assert f"{T} (1/1) compacting" in done.stderr  # progress, one line per step when piped
    assert p.rows(f"SELECT count(*) FROM {T}") == [(200,)]

    unknown = runner.invoke(app, ["maintain", "raw.event", "-p", root])
    assert unknown.exit_code == 1
    assert "did you mean `raw.events`" in unknown.stderr
    bad = runner.invoke(app, ["maintain", "-p", root, "--older-than", "a week"])
    assert bad.exit_code == 1 and "--older-than: `a week` is not a duration" in bad.stderr

    help_text = runner.invoke(app, ["maintain", "--help"]).stdout
    assert "Example: headwater maintain" in help_text and "--no-compact" in help_text


def test_maintaining_every_table_goes_on_past_one_that_fails(tmp_path: Path) -> None:
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import IdentityTransform
    from pyiceberg.types import LongType, NestedField

    p = SqliteProject(tmp_path / "p", "- name: events\n  table: ev\n")
    p.sql("CREATE TABLE ev (id INTEGER)")
    ws = p.workspace()
    try:
        small_files_table(ws.lake, loads=4)
        schema = Schema(NestedField(1, "day", LongType(), required=False))
        spec = PartitionSpec(PartitionField(1, 1000, IdentityTransform(), "day"))
        ws.lake.ensure_namespace("raw")
        parted = ws.lake.catalog.create_table("raw.parted", schema=schema, partition_spec=spec)
        for day in (1, 2):
            parted.append(pa.table({"day": pa.array([day], pa.int64())}))
    finally:
        ws.close()
    result = CliRunner().invoke(app, ["maintain", "-p", str(p.root), "--no-orphans"])
    assert result.exit_code == 1
    assert "4 → 1" in result.stdout  # raw.events was compacted all the same
    assert "1 table(s) maintained" in result.stdout
    assert "raw.parted: table `raw.parted` is partitioned" in result.stderr
    assert p.rows(f"SELECT count(*) FROM {T}") == [(200,)]
