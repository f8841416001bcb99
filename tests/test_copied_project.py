"""A copied or moved project never reads or writes the original's folder: it stops with the
command that fixes it, and `headwater relocate` makes it self-contained."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from headwater.errors import LakeMoved
from headwater.ingest.state import committed_state
from headwater.lake.maintenance import Maintenance
from headwater.lake.metadata import local_path
from headwater.web import create_app

runner = CliRunner()
CATALOG_ID = "headwater.catalog-id"  # the table property naming a table's catalog

PROJECT = """\
name: t
connections:
  src: {url: "sqlite:///src.db"}
sources:
  s:
    connection: src
    tables:
      - {name: ev, table: ev, load: {strategy: incremental, cursor: ts}}
pipelines:
  p:
    tasks:
      - ingest: s
      - models: gold
"""
EVENTS = """
CREATE TABLE ev (id INTEGER PRIMARY KEY, name TEXT, ts TIMESTAMP);
INSERT INTO ev VALUES (1, 'a', '2024-01-01 00:00:00');
INSERT INTO ev VALUES (2, 'b', '2024-01-02 00:00:00');
INSERT INTO ev VALUES (3, 'c', '2024-01-03 00:00:00');
"""
ROWS = [(1, "a"), (2, "b"), (3, "c")]


def make_project(root: Path) -> Path:
    """A project with an incremental load (raw.ev) and a model DuckDB writes (gold.names),
    run once."""
    (root / "models" / "gold").mkdir(parents=True)
    (root / "headwater.yaml").write_text(PROJECT, encoding="utf-8")
    (root / "models" / "gold" / "names.sql").write_text(
        "SELECT id, upper(name) AS name FROM raw.ev", encoding="utf-8"
    )
    with sqlite3.connect(root / "src.db") as con:
        con.executescript(EVENTS)
    with Workspace.open(root) as ws:
        ws.run("p")
    return root


def files(root: Path, store: bool = True) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time; without the metadata
    store's SQLite files when not ``store`` (opening it in WAL mode adds its -wal and -shm)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and (store or not p.name.startswith("state.db"))
    }


def rows(root: Path, sql: str) -> list[tuple[Any, ...]]:
    with Workspace.open(root) as ws:
        return [tuple(r.values()) for r in ws.query(sql).to_pylist()]


def referenced(root: Path) -> set[Path]:
    """Every file the project's catalog leads to: metadata files, manifests, data files."""
    with Workspace.open(root) as ws:
        lake = ws.lake
        out: set[Path] = set()
        for name in lake.tables():
            table = lake.table(name)
            out.add(Path(local_path(table.metadata_location) or ""))
            for snapshot in table.snapshots():
                out.add(Path(local_path(snapshot.manifest_list) or ""))
                for manifest in snapshot.manifests(table.io):
                    out.add(Path(local_path(manifest.manifest_path) or ""))
            out.update(Path(local_path(p) or "") for p in lake.data_files(name))
        return out


def warehouse_files(root: Path) -> set[Path]:
    return {p for p in (root.resolve() / ".headwater" / "warehouse").rglob("*") if p.is_file()}


def moved_message(copy: Path, original: Path, gone: bool = False) -> str:
    here = copy.resolve() / ".headwater" / "warehouse"
    there = original.resolve() / ".headwater" / "warehouse"
    return (
        f"error: the catalog {copy.resolve()}/.headwater/catalog.db holds 2 table(s) "
        f"(`gold.names`, `raw.ev`) whose files are in {there}"
        f"{' (no longer there)' if gone else ''}, not in this project's warehouse {here}: the "
        "project was copied or moved (or lake.warehouse changed), and using the lake would "
        "read and write that other folder; nothing was read or written\n"
        "hint: run `headwater relocate` to register the tables on their copies under "
        f"{here} (rows, schema and load cursors are kept, snapshot history is not), or start "
        f"with an empty lake: delete {copy.resolve()}/.headwater/catalog.db and {here}\n"
    )


def assert_self_contained(copy: Path) -> None:
    """The relocated copy reads the original's rows and is one catalog of its own: every
    table carries its id, and its orphan removal, held back by nothing, leaves exactly the
    files its tables reference."""
    assert rows(copy, "SELECT id, name FROM raw.ev ORDER BY id") == ROWS
    assert rows(copy, "SELECT id, name FROM gold.names ORDER BY id") == [
        (1, "A"),
        (2, "B"),
        (3, "C"),
    ]
    with Workspace.open(copy) as ws:
        ours = ws.lake.catalog_id
        assert {ws.lake.table_metadata(t).properties[CATALOG_ID] for t in ws.lake.tables()} == {
            ours
        }
        reports = ws.maintain(options=Maintenance(orphan_age=dt.timedelta(0)))
    assert [(r.table, r.orphans and r.orphans.shared) for r in reports] == [
        ("gold.names", None),
        ("raw.ev", None),
    ]
    assert warehouse_files(copy) == referenced(copy)


def test_a_copied_project_refuses_every_lake_command_and_writes_nothing(tmp_path: Path) -> None:
    original = make_project(tmp_path / "myproj")
    copy = tmp_path / "scratch"
    shutil.copytree(original, copy)
    before = (files(original), files(copy, store=False))
    for command in (["run", "p"], ["tables"], ["maintain", "--orphan-age", "0s"]):
        result = runner.invoke(app, [*command, "-p", str(copy)])
        assert result.exit_code == 1, result.output
        assert result.stderr == moved_message(copy, original), command
    assert (files(original), files(copy, store=False)) == before
    with Workspace.open(copy) as ws, pytest.raises(LakeMoved, match="copied or moved") as error:
        ws.query("SELECT count(*) FROM raw.ev")
    assert error.value.elsewhere == (str(original.resolve() / ".headwater" / "warehouse"),)
    # nor is it served: the Iceberg REST catalog's write routes would write the original's
    with (
        pytest.raises(LakeMoved, match="the project was copied or moved"),
        Workspace.open(copy) as ws,
    ):
        create_app(ws)
    assert (files(original), files(copy, store=False)) == before
    shutil.rmtree(copy)  # nothing of it may be read at the end of the test either


def test_relocate_makes_a_copy_self_contained_and_keeps_its_cursor(tmp_path: Path) -> None:
    original = make_project(tmp_path / "myproj")
    copy = tmp_path / "scratch"
    shutil.copytree(original, copy)
    untouched = files(original)
    cursor = committed_state(Workspace.open(original).lake, "raw.ev").cursor

    result = runner.invoke(app, ["relocate", "-p", str(copy)])
    assert result.exit_code == 0, result.output
    here, there = (p.resolve() / ".headwater" / "warehouse" for p in (copy, original))
    assert result.stdout == (
        f"gold.names: 1 file(s), 3 rows now at {here}/gold/names (was {there}/gold/names)\n"
        f"raw.ev: 1 file(s), 3 rows now at {here}/raw/ev (was {there}/raw/ev)\n"
        "2 table(s) relocated; their snapshot history starts again here\n"
    )
    again = runner.invoke(app, ["relocate", "-p", str(copy)])
    assert again.stdout == (
        f"every table is already in this project's warehouse {here}; nothing to do\n"
    )
    assert_self_contained(copy)
    with Workspace.open(copy) as ws:
        assert committed_state(ws.lake, "raw.ev").cursor == cursor

    with sqlite3.connect(copy / "src.db") as con:
        con.execute("INSERT INTO ev VALUES (4, 'd', '2024-01-04 00:00:00')")
    with Workspace.open(copy) as ws:
        record = ws.run("p")
    ingest = next(t for t in record.tasks if t.task_id == "raw.ev")
    assert ingest.rows == 2  # from the cursor on (the boundary row again, and the new one)
    assert rows(copy, "SELECT id, name FROM raw.ev ORDER BY id") == [*ROWS, (4, "d")]
    assert all(path.is_relative_to(copy.resolve()) for path in referenced(copy))
    assert files(original) == untouched  # the copy wrote nothing in the original's folder

    # the original's maintenance finds no orphan of the copy, and its tables read as before
    with Workspace.open(original) as ws:
        reports = ws.maintain(options=Maintenance(orphan_age=dt.timedelta(0)))
    assert [(r.table, r.error) for r in reports] == [("gold.names", None), ("raw.ev", None)]
    assert [r.orphans.orphans for r in reports if r.orphans] == [(), ()]
    assert rows(original, "SELECT id, name FROM raw.ev ORDER BY id") == ROWS
    assert rows(copy, "SELECT count(*) FROM gold.names") == [(4,)]


def test_a_moved_project_is_refused_then_relocated(tmp_path: Path) -> None:
    original = make_project(tmp_path / "myproj")
    moved = tmp_path / "elsewhere"
    original.rename(moved)

    result = runner.invoke(app, ["tables", "-p", str(moved)])
    assert result.exit_code == 1
    assert result.stderr == moved_message(moved, original, gone=True)
    assert not original.exists()

    with Workspace.open(moved) as ws:
        assert [r.table for r in ws.relocate()] == ["gold.names", "raw.ev"]
    assert rows(moved, "SELECT id, name FROM raw.ev ORDER BY id") == ROWS
    with Workspace.open(moved) as ws:
        assert committed_state(ws.lake, "raw.ev").cursor == dt.datetime(2024, 1, 3)
        ws.run("p")
    assert all(path.is_relative_to(moved.resolve()) for path in referenced(moved))
    assert not original.exists()


def test_a_table_whose_copy_is_incomplete_is_left_as_it_was(tmp_path: Path) -> None:
    original = make_project(tmp_path / "myproj")
    copy = tmp_path / "scratch"
    shutil.copytree(original, copy)
    data = next((copy / ".headwater" / "warehouse" / "raw" / "ev" / "data").glob("*.parquet"))
    data.unlink()

    result = runner.invoke(app, ["relocate", "-p", str(copy)])
    assert result.exit_code == 1
    here, there = (p.resolve() / ".headwater" / "warehouse" for p in (copy, original))
    assert result.stderr.startswith(
        "gold.names relocating\nraw.ev relocating\n"
        f"error: cannot relocate `raw.ev` from {there}/raw/ev to {here}/raw/ev: its data file "
        f"{data.resolve()} cannot be read ("
    )
    assert "; it was left as it was\nhint: copy the project's whole `.headwater` folder" in (
        result.stderr
    )
    with Workspace.open(copy) as ws:  # gold.names is done; raw.ev still points at the original
        assert [row[:2] for row in ws.lake.elsewhere()] == [("raw", "ev")]

    shutil.copy2(original / data.relative_to(copy), data)  # the missing file, copied after all
    with Workspace.open(copy) as ws:
        assert [r.table for r in ws.relocate()] == ["raw.ev"]
    assert_self_contained(copy)


def test_a_relocated_copy_is_a_catalog_of_its_own_and_removes_its_orphans(
    tmp_path: Path,
) -> None:
    original = make_project(tmp_path / "myproj")
    with Workspace.open(original) as ws:
        ws.run("p")  # the model is replaced: its first files are history the copy drops
        theirs = ws.lake.catalog_id
    copy = tmp_path / "scratch"
    shutil.copytree(original, copy)
    untouched = files(original)
    with Workspace.open(copy) as ws:
        ws.relocate()
        ours = ws.lake.catalog_id
        assert ours != theirs  # two catalogs from now on
        for name in ws.lake.tables():
            assert ws.lake.table_metadata(name).properties[CATALOG_ID] == ours
        copied = warehouse_files(copy) - referenced(copy)
        assert not [p for p in copied if p.name.endswith(".metadata.json")]  # relocate's
        assert copied  # old manifests and the model's first data file, for maintenance
        reports = ws.maintain(options=Maintenance(orphan_age=dt.timedelta(0)))
    assert [(r.table, r.orphans and r.orphans.shared) for r in reports] == [
        ("gold.names", None),
        ("raw.ev", None),
    ]
    deleted = {Path(f.path) for r in reports if r.orphans for f in r.orphans.orphans}
    assert deleted == copied
    assert warehouse_files(copy) == referenced(copy)
    assert rows(copy, "SELECT id, name FROM raw.ev ORDER BY id") == ROWS
    assert rows(copy, "SELECT id, name FROM gold.names ORDER BY id") == [
        (1, "A"),
        (2, "B"),
        (3, "C"),
    ]
    assert files(original) == untouched
    with Workspace.open(original) as ws:
        assert ws.lake.catalog_id == theirs
