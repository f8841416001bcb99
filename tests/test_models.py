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
