"""When a source table's schema changes: the same rule on MariaDB and PostgreSQL, for every
strategy and reader (docs/ingestion.md, "When the source schema changes")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from headwater import Workspace
from headwater.errors import RunFailed

DATABASES = [
    pytest.param("mysql_url", marks=pytest.mark.mysql, id="mariadb"),
    pytest.param("postgres_url", marks=pytest.mark.postgres, id="postgres"),
]

# (load settings, reader): `auto` is connectorx on MariaDB and, on PostgreSQL, sqlalchemy for
# these small tables (DuckDB's scanner for big ones); a full load through DuckDB copies the
# source into the table's files without streaming them
STRATEGIES = [
    pytest.param("{strategy: full}", "auto", id="full"),
    pytest.param("{strategy: full}", "duckdb", id="full-duckdb"),
    pytest.param("{strategy: full}", "connectorx", id="full-connectorx"),
    pytest.param("{strategy: append, cursor: id}", "auto", id="append"),
    pytest.param("{strategy: incremental, cursor: ts}", "auto", id="incremental"),
    pytest.param(
        "{strategy: incremental, cursor: ts, primary_key: [id]}", "auto", id="incremental-key"
    ),
    pytest.param("{strategy: merge, primary_key: [id]}", "auto", id="merge"),
]


def make_project(root: Path, url: str, load: str, reader: str) -> Path:
    root.mkdir(parents=True)
    (root / "headwater.yaml").write_text(
        f"""name: db
connections:
  src: {{url: "{url}"}}
sources:
  s:
    connection: src
    reader: {reader}
    tables:
      - name: ev
        load: {load}
pipelines:
  p:
    tasks:
      - ingest: s
""",
        encoding="utf-8",
    )
    return root


def execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    engine.dispose()


def source_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(sql)]
    engine.dispose()
    return rows


def widen(url: str, column: str) -> str:
    if url.startswith("mysql"):
        return f"ALTER TABLE ev MODIFY {column} BIGINT"
    return f"ALTER TABLE ev ALTER COLUMN {column} TYPE BIGINT"


def history(ws: Workspace) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(c.kind, c.column, c.old_type, c.new_type) for c in ws.table("raw.ev").schema_changes]


@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize(("load", "reader"), STRATEGIES)
def test_dropped_added_and_widened_source_columns(
    tmp_path: Path, request: pytest.FixtureRequest, database: str, load: str, reader: str
) -> None:
    """A dropped column stays (rows the load does not write keep their values; rows it writes
    have NULL), a new column is added, a widening applied; each is recorded once, with its
    run."""
    url = request.getfixturevalue(database)
    execute(
        url,
        "CREATE TABLE ev (id INTEGER PRIMARY KEY, name VARCHAR(20), gone VARCHAR(20), "
        "qty INTEGER, ts INTEGER)",
        "INSERT INTO ev VALUES (1, 'a', 'g1', 10, 1), (2, 'b', 'g2', 20, 2), (3, 'c', 'g3', 30, 3)",
    )
    ws = Workspace.open(make_project(tmp_path / "p", url, load, reader))
    first = ws.run("p").run_id
    execute(
        url,
        "ALTER TABLE ev DROP COLUMN gone",
        "ALTER TABLE ev ADD COLUMN extra VARCHAR(10)",
        widen(url, "qty"),
        # ts 3 is the stored cursor of the incremental loads: read again, never duplicated
        "INSERT INTO ev (id, name, qty, ts, extra) VALUES (4, 'd', 5000000000, 3, 'x4')",
    )
    second = ws.run("p").run_id
    assert ws.lake.arrow_schema("raw.ev").names == ["id", "name", "gone", "qty", "ts", "extra"]
    assert str(ws.lake.arrow_schema("raw.ev").field("qty").type) == "int64"
    rows = [
        tuple(r.values())
        for r in ws.query("SELECT id, name, gone, qty, extra FROM raw.ev ORDER BY id").to_pylist()
    ]
    # a full load writes every row again, so none has the column's value; the other loads
    # leave the old rows alone: they did not change in any column the source still sends
    full = load == "{strategy: full}"
    kept: list[str | None] = [None, None, None] if full else ["g1", "g2", "g3"]
    assert rows == [
        (1, "a", kept[0], 10, None),
        (2, "b", kept[1], 20, None),
        (3, "c", kept[2], 30, None),
        (4, "d", None, 5_000_000_000, "x4"),
    ]
    assert history(ws) == [
        ("created", None, None, "5 columns"),
        ("widened", "qty", "int32", "int64"),
        ("added", "extra", None, "string"),
        ("missing", "gone", "string", None),
    ]
    assert [c.run_id for c in ws.table("raw.ev").schema_changes] == [first] + [second] * 3
    # the column stays missing: the next load records nothing more
    execute(url, "INSERT INTO ev (id, name, qty, ts, extra) VALUES (5, 'e', 50, 4, 'x5')")
    ws.run("p")
    assert len(history(ws)) == 4
    assert ws.query("SELECT gone FROM raw.ev WHERE id = 5").to_pylist() == [{"gone": None}]
    ws.close()


@pytest.mark.parametrize("database", DATABASES)
def test_a_column_back_in_the_source_is_recorded_and_filled_again(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    url = request.getfixturevalue(database)
    execute(
        url,
        "CREATE TABLE ev (id INTEGER PRIMARY KEY, note VARCHAR(20), ts INTEGER)",
        "INSERT INTO ev VALUES (1, 'n1', 1)",
    )
    ws = Workspace.open(
        make_project(tmp_path / "p", url, "{strategy: incremental, cursor: ts}", "auto")
    )
    ws.run("p")
    execute(url, "ALTER TABLE ev DROP COLUMN note", "INSERT INTO ev (id, ts) VALUES (2, 2)")
    ws.run("p")
    execute(
        url,
        "ALTER TABLE ev ADD COLUMN note VARCHAR(20)",
        "INSERT INTO ev (id, note, ts) VALUES (3, 'n3', 3)",
    )
    back = ws.run("p").run_id
    assert ws.query("SELECT id, note FROM raw.ev ORDER BY id").to_pylist() == [
        {"id": 1, "note": "n1"},
        {"id": 2, "note": None},
        {"id": 3, "note": "n3"},
    ]
    assert history(ws)[1:] == [
        ("missing", "note", "string", None),
        ("returned", "note", None, "string"),
    ]
    assert ws.table("raw.ev").schema_changes[-1].run_id == back
    ws.close()


CHANGES = {
    "none": [],
    "drop": ["ALTER TABLE ev DROP COLUMN gone"],
    "add": ["ALTER TABLE ev ADD COLUMN extra VARCHAR(10)"],
    "widen": ["WIDEN"],
    "rename": ["ALTER TABLE ev RENAME COLUMN gone TO kept"],
}


@pytest.mark.parametrize("database", DATABASES)
@pytest.mark.parametrize("change", list(CHANGES))
def test_incremental_without_a_key_never_duplicates_the_boundary_rows(
    tmp_path: Path, request: pytest.FixtureRequest, database: str, change: str
) -> None:
    """Rows at the stored cursor are read again by every incremental load; with or without a
    schema change between the loads, the table holds each source row exactly once."""
    url = request.getfixturevalue(database)
    execute(
        url,
        "CREATE TABLE ev (id INTEGER PRIMARY KEY, gone VARCHAR(20), qty INTEGER, ts INTEGER)",
        "INSERT INTO ev VALUES "
        + ", ".join(f"({i}, 'g{i}', {i * 7 % 13}, {i // 10})" for i in range(1, 101)),
    )
    ws = Workspace.open(
        make_project(tmp_path / "p", url, "{strategy: incremental, cursor: ts}", "auto")
    )
    ws.run("p")
    assert ws.table("raw.ev").cursor == 10  # rows 100 holds ts 10: the boundary
    execute(url, *[widen(url, "qty") if s == "WIDEN" else s for s in CHANGES[change]])
    # more rows at the boundary, and after it
    execute(
        url,
        "INSERT INTO ev (id, qty, ts) VALUES "
        + ", ".join(f"({i}, {i * 7 % 13}, {i // 10})" for i in range(101, 131)),
    )
    ws.run("p")
    ws.run("p")  # nothing new: nothing added either
    check = "SELECT count(*), count(DISTINCT id), sum(id * qty + ts) FROM ev"
    expected = source_rows(url, check)[0]
    assert expected == (130, 130, sum(i * (i * 7 % 13) + i // 10 for i in range(1, 131)))
    lake = ws.query(check.replace("FROM ev", "FROM raw.ev")).to_pylist()[0]
    assert tuple(int(v) for v in lake.values()) == expected
    ws.close()


@pytest.mark.parametrize("database", DATABASES)
def test_a_type_change_that_does_not_convert_names_the_table_column_and_types(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    url = request.getfixturevalue(database)
    execute(
        url,
        "CREATE TABLE ev (id INTEGER PRIMARY KEY, qty INTEGER)",
        "INSERT INTO ev VALUES (1, 10)",
    )
    ws = Workspace.open(make_project(tmp_path / "p", url, "{strategy: full}", "auto"))
    ws.run("p")
    to_text = (
        "ALTER TABLE ev MODIFY qty VARCHAR(10)"
        if url.startswith("mysql")
        else "ALTER TABLE ev ALTER COLUMN qty TYPE VARCHAR(10)"
    )
    execute(url, to_text, "INSERT INTO ev VALUES (2, 'many')")
    with pytest.raises(RunFailed, match="raw.ev") as failed:
        ws.run("p")
    error = failed.value.run.tasks[0].error or ""
    assert (
        "table `raw.ev`: column `qty` is int32 in the table and string in the source, and the "
        "value 'many' (row " in error
    )
    assert "of a batch) does not convert to int32" in error
    assert "cast `qty` to int32 in the source's `query`" in error
    assert ws.query("SELECT id, qty FROM raw.ev").to_pylist() == [{"id": 1, "qty": 10}]
    ws.close()


@pytest.mark.parametrize("database", DATABASES)
def test_scd2_closes_only_the_versions_that_changed_when_a_column_is_dropped(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    url = request.getfixturevalue(database)
    execute(
        url,
        "CREATE TABLE ev (id INTEGER PRIMARY KEY, name VARCHAR(20), gone VARCHAR(20))",
        "INSERT INTO ev VALUES (1, 'a', 'g1'), (2, 'b', 'g2')",
    )
    ws = Workspace.open(
        make_project(tmp_path / "p", url, "{strategy: scd2, primary_key: [id]}", "auto")
    )
    ws.run("p")
    execute(
        url,
        "ALTER TABLE ev DROP COLUMN gone",
        "UPDATE ev SET name = 'B' WHERE id = 2",
        "INSERT INTO ev (id, name) VALUES (3, 'c')",
    )
    ws.run("p")
    got = ws.query(
        "SELECT id, name, gone, is_current FROM raw.ev ORDER BY id, valid_from"
    ).to_pylist()
    assert [tuple(r.values()) for r in got] == [
        (1, "a", "g1", True),  # unchanged in every column the source sends: still current
        (2, "b", "g2", False),
        (2, "B", None, True),
        (3, "c", None, True),
    ]
    assert history(ws)[1:] == [("missing", "gone", "string", None)]
    ws.close()
