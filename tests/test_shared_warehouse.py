"""Two catalogs sharing one warehouse folder on purpose never delete each other's files: every
table carries its catalog's id, and orphan removal keeps a folder that holds another's table."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headwater.cli import app
from headwater.lake import Lake, replace_table
from headwater.lake.maintenance import Maintenance, remove_orphan_files
from headwater.lake.metadata import local_path
from tests import services
from tests.load_support import SqliteProject

NOW = dt.timedelta(0)  # every unreferenced file is old enough to go
CATALOG_ID = "headwater.catalog-id"  # the table property naming a table's catalog


def project(
    root: Path, warehouse: Path | str, rows: list[tuple[int, str]], s3: str = ""
) -> SqliteProject:
    """A project loading ``rows`` into raw.ev, its lake's warehouse ``warehouse``."""
    lake = f"lake:\n  warehouse: {warehouse}\n" + (
        f"  s3: {{endpoint_url: '{s3}'}}\n" if s3 else ""
    )
    p = SqliteProject(root, "- name: ev\n  table: ev\n", lake)
    p.sql("CREATE TABLE ev (id INTEGER PRIMARY KEY, name TEXT)")
    p.sql("INSERT INTO ev VALUES (?, ?)", rows)
    return p


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


A_ROWS = [(1, "a"), (2, "b"), (3, "c")]
B_ROWS = [(10, "x"), (11, "y")]


def test_two_projects_sharing_a_warehouse_keep_each_others_files(tmp_path: Path) -> None:
    shared = tmp_path / "lake"
    a = project(tmp_path / "a", shared, A_ROWS)
    b = project(tmp_path / "b", shared, B_ROWS)
    for _ in range(2):  # each load replaces the table: old data and metadata are left behind
        a.run()
        b.run()
    folder = shared / "raw" / "ev"
    before = files_under(folder)
    assert len(list((folder / "metadata").glob("*.metadata.json"))) >= 4  # both tables' files

    with a.workspace() as ws:
        reports = ws.maintain(options=Maintenance(orphan_age=NOW))
    # both tables read every row, and not one file of the folder went
    assert files_under(folder) == before
    assert a.rows("SELECT id, name FROM raw.ev ORDER BY id") == A_ROWS
    assert b.rows("SELECT id, name FROM raw.ev ORDER BY id") == B_ROWS

    with a.workspace() as ws:
        ours = ws.lake.catalog_id
        assert ws.lake.table_metadata("raw.ev").properties[CATALOG_ID] == ours
    with b.workspace() as ws:
        theirs = ws.lake.catalog_id
        assert ws.lake.table_metadata("raw.ev").properties[CATALOG_ID] == theirs
    assert ours != theirs
    [report] = reports
    assert report.orphans is not None and report.orphans.orphans == ()
    assert report.orphans.kept > 0
    assert str(report.orphans.shared) == (
        f"orphans kept: {folder.resolve()} also holds a table of another catalog (catalog id "
        f"{theirs}); give one of the tables another name, or the projects separate warehouses"
    )

    result = CliRunner().invoke(app, ["maintain", "-p", str(b.root), "--orphan-age", "0s"])
    assert result.exit_code == 0, result.output
    assert " kept: shared folder" in result.stdout
    message = " ".join(result.stdout.split())  # the line wraps at the console's width
    assert (
        f"raw.ev: orphans kept: {folder.resolve()} also holds a table of another catalog "
        f"(catalog id {ours})" in message
    )
    assert a.rows("SELECT id, name FROM raw.ev ORDER BY id") == A_ROWS
    assert b.rows("SELECT id, name FROM raw.ev ORDER BY id") == B_ROWS
    assert files_under(folder) == before


@pytest.mark.slow
def test_two_projects_sharing_an_s3_prefix_keep_each_others_objects(
    tmp_path: Path, s3_server: services.S3Server, s3_bucket: str
) -> None:
    warehouse = f"s3://{s3_bucket}/lake"
    a = project(tmp_path / "a", warehouse, A_ROWS, s3_server.endpoint)
    b = project(tmp_path / "b", warehouse, B_ROWS, s3_server.endpoint)
    for _ in range(2):
        a.run()
        b.run()

    def keys() -> set[str]:
        listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="lake/raw/ev/")
        return {item["Key"] for item in listed.get("Contents", [])}

    before = keys()
    for p in (a, b):
        with p.workspace() as ws:
            [report] = ws.maintain(options=Maintenance(orphan_age=NOW))
        assert report.orphans is not None and report.orphans.orphans == ()
        assert report.orphans.shared is not None
        assert report.orphans.shared.folder == f"{warehouse}/raw/ev"
    assert keys() == before
    assert a.rows("SELECT id, name FROM raw.ev ORDER BY id") == A_ROWS
    assert b.rows("SELECT id, name FROM raw.ev ORDER BY id") == B_ROWS


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    lake = Lake.local(tmp_path / ".headwater")
    yield lake
    lake.close()


def people(*ids: int) -> pa.RecordBatchReader:
    table = pa.table({"id": pa.array(ids, pa.int64())})
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def test_a_table_dropped_and_created_again_does_not_keep_its_orphans(lake: Lake) -> None:
    replace_table(lake, "raw.people", people(1, 2))
    replace_table(lake, "raw.people", people(3))
    folder = Path(local_path(lake.table("raw.people").metadata.location) or "")
    first = files_under(folder)
    lake.drop("raw.people")  # as a rejected table whose columns changed is started over
    replace_table(lake, "raw.people", people(4, 5))
    current = files_under(folder) - first

    report = remove_orphan_files(lake, "raw.people", older_than=NOW)
    assert report.shared is None
    assert {Path(f.path) for f in report.orphans} == first
    assert files_under(folder) == current
    assert sorted(lake.table("raw.people").scan().to_arrow()["id"].to_pylist()) == [4, 5]


def test_metadata_of_a_table_of_no_known_catalog_keeps_the_folder(lake: Lake) -> None:
    replace_table(lake, "raw.people", people(1, 2))
    replace_table(lake, "raw.people", people(3))
    table = lake.table("raw.people")
    folder = Path(local_path(table.metadata.location) or "")
    # a table written before tables carried their catalog's id (or by another engine)
    document = json.loads(Path(local_path(table.metadata_location) or "").read_text())
    document["table-uuid"] = "8f0c2d3e-0000-4000-8000-000000000001"
    document["properties"].pop(CATALOG_ID)
    stranger = folder / "metadata" / "00000-stranger.metadata.json"
    stranger.write_text(json.dumps(document))
    stray = folder / "data" / "stray.parquet"  # an orphan of ours
    stray.write_bytes(b"PAR1")
    before = files_under(folder)

    report = remove_orphan_files(lake, "raw.people", older_than=NOW)
    assert files_under(folder) == before
    assert report.orphans == () and report.kept == 2
    assert str(report.shared).startswith(
        f"orphans kept: {folder} also holds metadata of a table of no known catalog "
        f"(e.g. {stranger}), written before tables carried their catalog's id"
    )

    stranger.unlink()  # the hint: a leftover of this project's own, deleted by hand
    report = remove_orphan_files(lake, "raw.people", older_than=NOW)
    assert report.shared is None
    assert [Path(f.path) for f in report.orphans] == [stray]
    assert files_under(folder) == before - {stranger, stray}


def test_a_metadata_file_a_crashed_write_cut_short_is_an_orphan(lake: Lake) -> None:
    replace_table(lake, "raw.people", people(1))
    folder = Path(local_path(lake.table("raw.people").metadata.location) or "")
    cut = folder / "metadata" / "00009-crashed.metadata.json"
    cut.write_text('{"format-version": 2, "table-uu')
    report = remove_orphan_files(lake, "raw.people", older_than=NOW)
    assert report.shared is None
    assert [Path(f.path) for f in report.orphans] == [cut] and not cut.exists()


@pytest.mark.slow
@pytest.mark.postgres
def test_projects_sharing_a_postgresql_catalog_share_its_id(tmp_path: Path) -> None:
    (tmp_path / "wh").mkdir()
    for url in services.postgres_database():
        one = Lake(url, f"file://{tmp_path / 'wh'}")
        two = Lake(url, f"file://{tmp_path / 'wh'}")
        other = Lake.local(tmp_path / ".headwater")
        try:
            assert one.catalog_id == two.catalog_id
            assert other.catalog_id != one.catalog_id
            replace_table(two, "raw.people", people(1))
            assert one.table_metadata("raw.people").properties[CATALOG_ID] == one.catalog_id
        finally:
            for lake in (one, two, other):
                lake.close()


@pytest.mark.slow
def test_a_copy_sharing_an_s3_warehouse_is_refused_until_it_is_a_catalog_of_its_own(
    tmp_path: Path, s3_server: services.S3Server, s3_bucket: str
) -> None:
    """A copied project whose tables stay in S3 writes them with the original's catalog id:
    each one's maintenance would take the other's new files for its own orphans. The copy is
    refused until `headwater relocate` makes it a catalog of its own."""
    warehouse = f"s3://{s3_bucket}/lake"
    original = project(tmp_path / "a", warehouse, A_ROWS, s3_server.endpoint)
    original.run()
    shutil.copytree(original.root, tmp_path / "copy")
    lake = f"lake:\n  warehouse: {warehouse}\n  s3: {{endpoint_url: '{s3_server.endpoint}'}}\n"
    copy = SqliteProject(tmp_path / "copy", "- name: ev\n  table: ev\n", lake)

    def keys() -> set[str]:
        listed = s3_server.client().list_objects_v2(Bucket=s3_bucket, Prefix="lake/raw/ev/")
        return {item["Key"] for item in listed.get("Contents", [])}

    runner = CliRunner()
    before = keys()
    refused = runner.invoke(app, ["run", "p", "-p", str(copy.root)])
    assert refused.exit_code == 1
    made = (original.root / ".headwater" / "catalog.db").resolve()
    assert " ".join(refused.output.split()).startswith(
        f"error: the catalog {(copy.root / '.headwater' / 'catalog.db').resolve()} was made as "
        f"{made} and copied or moved here; its tables are in {warehouse}, where that "
        "catalog's tables are too, and each one's maintenance would delete the files the "
        "other writes; nothing was written"
    )
    assert keys() == before

    relocated = runner.invoke(app, ["relocate", "-p", str(copy.root)])
    assert relocated.exit_code == 0, relocated.output
    assert " ".join(relocated.stdout.split()) == (
        f"this catalog is now one of its own (it was made as {made}); its tables stay in "
        f"{warehouse}"
    )
    copy.sql("INSERT INTO ev VALUES (?, ?)", [(4, "d")])
    copy.run()
    original.run()
    for p in (original, copy):
        with p.workspace() as ws:
            [report] = ws.maintain(options=Maintenance(orphan_age=NOW))
        assert report.orphans is not None and report.orphans.shared is not None
    with original.workspace() as ws, copy.workspace() as other:
        assert ws.lake.catalog_id != other.lake.catalog_id
    assert original.rows("SELECT id, name FROM raw.ev ORDER BY id") == A_ROWS
    assert copy.rows("SELECT id, name FROM raw.ev ORDER BY id") == [*A_ROWS, (4, "d")]


@pytest.mark.postgres
def test_a_catalog_user_who_cannot_create_the_id_table_is_told_what_to_do(
    postgres_url: str,
) -> None:
    import uuid

    import sqlalchemy as sa

    from headwater.errors import LakeError
    from headwater.lake import identity

    role = f"hw_reader_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # PostgreSQL 15: only the owner creates in `public`
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    reader = sa.create_engine(sa.make_url(postgres_url).set(username=role))
    try:
        with pytest.raises(LakeError, match=r"cannot create the table `headwater_catalog`") as e:
            identity.catalog_id(reader, None)
        assert "permission denied for schema public" in e.value.message
        assert (e.value.hint or "").endswith(
            "CREATE TABLE headwater_catalog (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)"
        )
    finally:
        reader.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()
