"""Planning a pipeline: steps become tasks; dependencies come from data and from depends_on."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from headwater import Workspace
from headwater.errors import DagError
from headwater.lake import replace_table

PROJECT = """\
name: plan
connections:
  src: {url: "sqlite:///src.db"}
sources:
  shop:
    connection: src
    tables: [customers, orders, payments]
pipelines:
  main:
    tasks:
      - ingest: shop
        tables: [customers, orders]
        name: load
      - models: gold
      - models: mart.report
        depends_on: [load]
  build:
    tasks:
      - models: [gold, mart]
"""


def project(tmp_path: Path, text: str = PROJECT) -> Path:
    (tmp_path / "headwater.yaml").write_text(text)
    for name, sql in {
        "gold/orders_per_customer": "SELECT c.id, count(*) AS n FROM raw.customers AS c JOIN raw.orders AS o ON o.customer = c.id GROUP BY 1",
        "gold/constant": "SELECT 1 AS one",
        "mart/report": "SELECT * FROM gold.orders_per_customer",
    }.items():
        path = tmp_path / "models" / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return tmp_path


def test_steps_expand_to_tasks_with_data_and_declared_dependencies(tmp_path: Path) -> None:
    dag = Workspace.open(project(tmp_path)).plan("main")
    deps = {tid: set(t.depends_on) for tid, t in dag.tasks.items()}
    assert deps == {
        "raw.customers": set(),
        "raw.orders": set(),  # raw.payments is not in the step's tables
        "gold.orders_per_customer": {"raw.customers", "raw.orders"},
        "gold.constant": set(),
        "mart.report": {"gold.orders_per_customer", "raw.customers", "raw.orders"},
    }
    assert {t.kind for t in dag.tasks.values()} == {"ingest", "model"}


def test_unknown_table_in_step_and_unknown_step_name(tmp_path: Path) -> None:
    root = project(tmp_path, PROJECT.replace("[customers, orders]\n", "[customers, order]\n"))
    with pytest.raises(DagError, match="source `shop` has no table `order`.*did you mean `orders`"):
        Workspace.open(root).plan("main")
    root = project(tmp_path, PROJECT.replace("depends_on: [load]", "depends_on: [lod]"))
    with pytest.raises(
        DagError, match=r"depends on `lod`, which names no step.*did you mean `load`"
    ):
        Workspace.open(root).plan("main")


def test_models_over_empty_and_evolved_tables_and_unusual_types(tmp_path: Path) -> None:
    root = project(tmp_path)
    ws = Workspace.open(root)
    empty = pa.schema([("id", pa.int64()), ("customer", pa.int64())])
    replace_table(ws.lake, "raw.orders", empty.empty_table().to_reader())
    replace_table(ws.lake, "raw.customers", pa.table({"id": [1, 2]}).to_reader())
    replace_table(ws.lake, "raw.customers", pa.table({"id": [3], "name": ["new"]}).to_reader())
    assert ws.query("SELECT count(*) AS n FROM raw.orders").to_pylist() == [{"n": 0}]
    assert ws.query("SELECT id, name FROM raw.customers").to_pylist() == [{"id": 3, "name": "new"}]
    # an unsigned 64-bit result is not storable as is: the model streams through Arrow, converted
    model = root / "models" / "gold" / "constant.sql"
    model.write_text("SELECT 18446744073709551615::UBIGINT AS big, INTERVAL 2 DAY AS gap")
    record = ws.run("build")
    assert {t.task_id for t in record.tasks} == {
        "gold.constant",
        "gold.orders_per_customer",
        "mart.report",
    }
    table = ws.lake.table("gold.constant").scan().to_arrow()
    assert table.schema.field("big").type == pa.decimal128(20, 0)
    assert table.column("big").to_pylist() == [18446744073709551615]
    assert table.column("gap").to_pylist() == ["P0M2DT0S"]
    assert ws.query("SELECT n FROM mart.report").num_rows == 0
