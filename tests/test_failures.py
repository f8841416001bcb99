"""Bad input, handled: clear errors, nothing half-published, runs recorded as failed."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater import RunFailed, Workspace
from headwater.errors import ModelError, ProjectError
from headwater.samples import build_classicmodels
from headwater.state import RunStatus, TaskStatus
from tests.classicmodels_support import MODELS, copy_example

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = copy_example(tmp_path / "classicmodels")
    build_classicmodels(f"sqlite:///{root / '.headwater' / 'classicmodels.db'}")
    return root


def snapshot_ids(ws: Workspace) -> dict[str, int | None]:
    return {t.name: t.snapshot_id for t in ws.tables()}


def test_unreachable_database_publishes_nothing(project: Path) -> None:
    ws = Workspace.open(project, {"source_url": "mysql+pymysql://root@127.0.0.1:1/classicmodels"})
    with pytest.raises(RunFailed) as info:
        ws.run("classicmodels")
    message = str(info.value)
    assert "cannot connect to mysql at 127.0.0.1:1/classicmodels" in message
    assert "is the server running" in message
    assert ws.lake.tables() == []
    run = info.value.run
    assert run.status is RunStatus.FAILED
    statuses = {t.task_id: t.status for t in run.tasks}
    assert {statuses[f"gold.{m}"] for m in MODELS} == {TaskStatus.UPSTREAM_FAILED}
    assert ws.runs()[0].error and "127.0.0.1:1" in ws.runs()[0].error


def test_missing_source_table_keeps_published_tables(project: Path) -> None:
    ws = Workspace.open(project)
    ws.run("classicmodels")
    before = snapshot_ids(ws)
    engine = sa.create_engine(f"sqlite:///{project / '.headwater' / 'classicmodels.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE payments RENAME TO payment")
    engine.dispose()
    with pytest.raises(RunFailed, match=r"table `payments` does not exist.*did you mean `payment`"):
        Workspace.open(project).run("classicmodels")
    after = snapshot_ids(ws)
    assert after["raw.payments"] == before["raw.payments"]
    assert after["gold.fact_orders"] != before["gold.fact_orders"]  # independent work went on


def test_model_sql_error_names_file_and_line(project: Path) -> None:
    (project / "models" / "gold" / "broken.sql").write_text(
        "-- a typo in a column name\nSELECT\n    customerNumbr\nFROM raw.customers\n"
    )
    with pytest.raises(RunFailed) as info:
        Workspace.open(project).run("classicmodels")
    assert "models/gold/broken.sql:3" in str(info.value)
    assert "customerNumbr" in str(info.value)
    tasks = {t.task_id: t.status for t in info.value.run.tasks}
    assert tasks["gold.broken"] is TaskStatus.FAILED
    assert tasks["gold.fact_orders"] is TaskStatus.SUCCESS


def test_model_failing_half_way_leaves_previous_version(project: Path) -> None:
    text = (project / "headwater.yaml").read_text() + "lake:\n  target_file_mb: 1\n"
    (project / "headwater.yaml").write_text(text)
    model = project / "models" / "gold" / "numbers.sql"
    model.write_text("SELECT i AS n, repeat('x', 50) AS pad FROM range(300000) AS t(i)\n")
    ws = Workspace.open(project)
    ws.run("classicmodels")
    published = ws.lake.info("gold.numbers")
    data_dir = project / ".headwater" / "warehouse" / "gold" / "numbers" / "data"
    files_before = sorted(data_dir.iterdir())
    # fails only after ~250k rows have streamed into data files
    model.write_text(
        "SELECT CASE WHEN i < 250000 THEN i ELSE CAST('x' || i AS BIGINT) END AS n,\n"
        "       repeat('x', 50) AS pad\nFROM range(300000) AS t(i)\n"
    )
    with pytest.raises(RunFailed, match=r"models/gold/numbers.sql.*Conversion Error"):
        Workspace.open(project).run("classicmodels")
    assert ws.lake.info("gold.numbers").snapshot_id == published.snapshot_id
    assert ws.query("SELECT count(*) AS n FROM gold.numbers").to_pylist() == [{"n": 300000}]
    assert sorted(data_dir.iterdir()) == files_before  # the half-written files are gone


def test_unknown_table_in_model_is_found_before_running(project: Path) -> None:
    (project / "models" / "gold" / "bad.sql").write_text("SELECT *\nFROM raw.custmers\n")
    with pytest.raises(
        ModelError, match=r"models/gold/bad.sql:2: unknown table `raw.custmers`.*raw.customers"
    ):
        Workspace.open(project).run("classicmodels")
    assert Workspace.open(project).runs() == []


def test_unknown_pipeline_and_variable(project: Path) -> None:
    with pytest.raises(
        ProjectError, match="no pipeline `classicmodel`.*did you mean `classicmodels`"
    ):
        Workspace.open(project).run("classicmodel")
    with pytest.raises(ProjectError, match="unknown variable `source`"):
        Workspace.open(project, {"source": "x"})


def test_an_unreachable_postgres_is_retried_on_the_fast_path_too(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        "name: down\n"
        "connections:\n"
        "  pg: {type: sql, url: 'postgresql+psycopg://postgres@127.0.0.1:1/shop'}\n"
        "sources:\n"
        "  pg: {connection: pg, namespace: raw, tables: [orders], attempts: 2, retry_delay: 0.01}\n"
        "pipelines:\n"
        "  load: {tasks: [{ingest: pg}]}\n"
    )
    ws = Workspace.open(tmp_path)
    with pytest.raises(RunFailed) as info:
        ws.run("load")
    assert "127.0.0.1:1" in str(info.value) and "gave up after 2 attempts" in str(info.value)
    assert ws.lake.tables() == []
