"""SQL models: discovery, dependencies from sqlglot, and errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.errors import ModelError
from headwater.sql import ModelGraph, discover_models


def model(root: Path, name: str, sql: str) -> None:
    namespace, table = name.split(".")
    path = root / "models" / namespace / f"{table}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sql)


def graph(root: Path, known: set[str] | None = None) -> ModelGraph:
    return ModelGraph.build(
        discover_models(root / "models", root), known or {"raw.a", "raw.b"}, root
    )


def test_dependencies_come_from_referenced_tables(tmp_path: Path) -> None:
    model(tmp_path, "gold.x", "select * from raw.a")
    model(
        tmp_path, "gold.y", "with c as (select * from gold.x) select * from c join raw.b using (id)"
    )
    model(tmp_path, "mart.z", "select * from gold.y union all select * from gold.x")
    g = graph(tmp_path)
    assert g.upstream == {
        "gold.x": frozenset(),
        "gold.y": {"gold.x"},
        "mart.z": {"gold.x", "gold.y"},
    }
    order = g.order()
    assert order.index("gold.x") < order.index("gold.y") < order.index("mart.z")
    assert g.select(["gold"]) == ["gold.x", "gold.y"]
    assert g.select(["mart.*"]) == ["mart.z"]


def test_cycle_names_the_files(tmp_path: Path) -> None:
    model(tmp_path, "gold.x", "select * from gold.y")
    model(tmp_path, "gold.y", "select * from gold.x")
    with pytest.raises(ModelError, match=r"cycle.*(x\.sql|y\.sql)"):
        graph(tmp_path)


def test_unknown_table_has_file_line_and_suggestion(tmp_path: Path) -> None:
    model(tmp_path, "gold.x", "select *\nfrom raw.a\njoin raw.bb using (id)")
    with pytest.raises(ModelError) as info:
        graph(tmp_path)
    assert info.value.file == "models/gold/x.sql"
    assert info.value.line == 3
    assert "unknown table `raw.bb`" in str(info.value)
    assert "did you mean `raw.b`" in str(info.value)


def test_unqualified_table_must_name_namespace(tmp_path: Path) -> None:
    model(tmp_path, "gold.x", "select * from customers")
    with pytest.raises(ModelError, match="must be qualified"):
        graph(tmp_path)


def test_syntax_error_and_non_select(tmp_path: Path) -> None:
    model(tmp_path, "gold.x", "-- comment\nselect *\nfrom where")
    with pytest.raises(ModelError) as info:
        graph(tmp_path)
    assert info.value.line == 3
    (tmp_path / "models" / "gold" / "x.sql").write_text("insert into raw.a values (1)")
    with pytest.raises(ModelError, match="exactly one SELECT"):
        graph(tmp_path)


def test_unmatched_selector(tmp_path: Path) -> None:
    model(tmp_path, "gold.x", "select * from raw.a")
    with pytest.raises(ModelError, match="no model matches `gld`.*did you mean `gold`"):
        graph(tmp_path).select(["gld"])


def test_model_outside_a_namespace_folder(tmp_path: Path) -> None:
    model(tmp_path, "gold.x", "select * from raw.a")
    (tmp_path / "models" / "loose.sql").write_text("select 1")
    with pytest.raises(
        ModelError, match=r"models/loose.sql: a model file must sit in a namespace folder"
    ):
        graph(tmp_path)


def test_a_sum_of_bigints_is_stored_as_its_decimal_result(tmp_path: Path) -> None:
    """DuckDB writes a HUGEINT as DOUBLE in Parquet: such files are not the model's table,
    so the rows stream, cast to the DECIMAL(38, 0) the SELECT returns."""
    import pyarrow as pa

    from headwater.lake import Lake, replace_table
    from headwater.sql.build import build_model

    lake = Lake.local(tmp_path / ".headwater")
    big = 2**62
    replace_table(lake, "raw.a", pa.table({"v": pa.array([big, big, 3], pa.int64())}).to_reader())
    model(tmp_path, "gold.total", "SELECT sum(v) AS s, count(*) AS n FROM raw.a")
    built = build_model(lake, tmp_path, graph(tmp_path).models["gold.total"], {}, None)
    assert built.rows == 1
    assert lake.arrow_schema("gold.total").field("s").type == pa.decimal128(38, 0)
    from headwater.sql import Session

    with Session(lake) as session:
        got = session.query("SELECT s, n FROM gold.total").read_all().to_pylist()
    assert got == [{"s": 2 * big + 3, "n": 3}]  # exact: a DOUBLE would round it
    data = tmp_path / ".headwater" / "warehouse" / "gold" / "total" / "data"
    assert len(list(data.iterdir())) == 1  # DuckDB's DOUBLE file went with its staging


def test_a_rebuilt_model_takes_its_new_schema_and_records_the_change(tmp_path: Path) -> None:
    """A model replaces its whole table, so its SELECT may change a column's type or drop a
    column; the schema history says so, and the old snapshot still reads as it was."""
    import sqlite3

    from headwater import Workspace

    con = sqlite3.connect(tmp_path / "src.db")
    con.execute("CREATE TABLE sales (id INTEGER PRIMARY KEY, quantity BIGINT)")
    con.executemany("INSERT INTO sales VALUES (?, ?)", [(i, i * 10) for i in range(1, 100)])
    con.commit()
    con.close()
    (tmp_path / "headwater.yaml").write_text(
        "name: rebuilt\n"
        "connections: {src: {url: 'sqlite:///src.db'}}\n"
        "sources: {src: {connection: src, namespace: raw, tables: [sales]}}\n"
        "pipelines: {p: {tasks: [{ingest: src}, {models: gold}]}}\n"
    )
    model(tmp_path, "gold.totals", "SELECT sum(quantity) AS items, count(*) AS n FROM raw.sales")
    with Workspace.open(tmp_path) as ws:
        ws.run("p")
        first = ws.lake.table("gold.totals").current_snapshot().snapshot_id
    model(tmp_path, "gold.totals", "SELECT 'all' AS label, avg(quantity) AS items FROM raw.sales")
    with Workspace.open(tmp_path) as ws:
        ws.run("p")
        assert ws.query("SELECT * FROM gold.totals").to_pylist() == [
            {"label": "all", "items": 500.0}
        ]
        assert ws.lake.arrow_schema("gold.totals").names == ["label", "items"]  # the SELECT's order
        old = ws.query(f"SELECT * FROM gold.totals FOR VERSION AS OF {first}").to_pylist()
        assert old == [{"items": 49500, "n": 99}]
        changes = [
            (c.kind, c.column, c.old_type, c.new_type)
            for c in ws.store.schema_changes("gold.totals")
        ]
    assert set(changes[-3:]) == {
        ("changed", "items", "decimal128(38, 0)", "double"),
        ("added", "label", None, "string"),
        ("dropped", "n", "int64", None),
    }
