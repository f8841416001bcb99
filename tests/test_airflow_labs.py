"""The Airflow labs (examples/airflow_labs): dated bronze and silver files whose counts match
an independent computation, values handed between tasks, task groups, one pipeline per
vendor with a branch on the RMSE, and a failed quality check that stops what follows."""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from headwater import RunFailed, Workspace
from headwater.cli import app
from headwater.samples import build_classicmodels
from headwater.samples import vendor_trips as sample
from headwater.state.records import RunRecord, TaskRunRecord

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "airflow_labs"
DAY = datetime(2024, 3, 1, tzinfo=UTC)
DATED = Path("2024") / "03" / "01"
GROUPED = ("payments", "customers", "products")
# the example's own modules under pipelines/: each test imports them from its own copy
MODULES = ("labs", "grouped_tasks", "ml_vendors")


def _forget_modules() -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in MODULES:
            del sys.modules[name]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the example, without data or source database (a fresh machine)."""
    root = tmp_path / "airflow_labs"
    shutil.copytree(
        EXAMPLE, root, ignore=shutil.ignore_patterns("data", ".headwater", "__pycache__")
    )
    saved = list(sys.path)
    _forget_modules()
    yield root
    sys.path[:] = saved
    _forget_modules()


@pytest.fixture
def ws(project: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(project)
    yield workspace
    workspace.close()


def by_id(record: RunRecord) -> dict[str, TaskRunRecord]:
    return {t.task_id: t for t in record.tasks}


# -- independent computations -----------------------------------------------------------------


def csv_rows(path: Path) -> list[tuple[str, ...]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [tuple(row) for row in list(csv.reader(f))[1:]]


def valid_rows(bronze: Path) -> set[tuple[str, ...]]:
    """The bronze rows without an empty field, once each: pandas' dropna + drop_duplicates."""
    return {row for row in csv_rows(bronze) if all(value != "" for value in row)}


def source_counts(url: str, table: str) -> tuple[int, int]:
    """(rows, distinct rows without a NULL) of ``table``, computed in the source database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            columns = [c["name"] for c in sa.inspect(conn).get_columns(table)]
            not_null = " AND ".join(f'"{c}" IS NOT NULL' for c in columns)
            total = conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar_one()
            valid = conn.exec_driver_sql(
                f'SELECT count(*) FROM (SELECT DISTINCT * FROM "{table}" WHERE {not_null}) AS v'
            ).scalar_one()
    finally:
        engine.dispose()
    return total, valid


def embedded(project: Path) -> str:
    return f"sqlite:///{project / '.headwater' / 'classicmodels.db'}"


def fit(files: dict[str, Path]) -> tuple[float, float, float]:
    """Least squares of travel_time on trip_distance over train; RMSE over test."""
    train = pq.read_table(files["train"]).to_pydict()
    xs, ys = train["trip_distance"], train["travel_time"]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    intercept = my - slope * mx
    test = pq.read_table(files["test"]).to_pydict()
    errors = [
        (y - (slope * x + intercept)) ** 2
        for x, y in zip(test["trip_distance"], test["travel_time"], strict=True)
    ]
    return slope, intercept, math.sqrt(sum(errors) / len(errors))


def trips_of(project: Path, vendor: str) -> dict[str, Path]:
    return sample.paths(project / "data" / "trips", vendor)


# -- lab 1: simple_dag --------------------------------------------------------------------------


def test_simple_dag_extracts_cleans_and_reports_the_count(project: Path, ws: Workspace) -> None:
    assert not (project / ".headwater" / "classicmodels.db").exists()
    record = ws.run("simple_dag", logical_date=DAY)

    bronze = project / "data" / "bronze" / DATED / "orders.csv"
    silver = project / "data" / "silver" / DATED / "orders.csv"
    total, in_source = source_counts(embedded(project), "orders")  # built by the first extract
    assert len(csv_rows(bronze)) == total == 326
    expected = valid_rows(bronze)
    n = len(expected)
    assert n == in_source and 0 < n < total  # generated orders do have NULL comments
    kept = csv_rows(silver)
    assert len(kept) == n and set(kept) == expected

    tasks = by_id(record)
    assert [t.status for t in tasks.values()] == ["success"] * 3
    assert tasks["extract"].value == f"data/bronze/{DATED.as_posix()}/orders.csv"
    assert tasks["extract"].rows == total
    assert tasks["clean"].value == n
    log = ws.logs(record.run_id, "notify")["notify"]
    assert f"Number of valid records in table orders: {n}" in log.splitlines()
    assert ws.plan("simple_dag").tasks["notify"].depends_on == {"clean"}


def test_simple_dag_reads_the_source_and_writes_where_the_variables_say(
    project: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    build_classicmodels(url, scale=2, seed=7)
    elsewhere = tmp_path / "lake files"
    ws = Workspace.open(project, {"source_url": url, "data_dir": str(elsewhere)})
    try:
        record = ws.run("simple_dag", logical_date=DAY)
    finally:
        ws.close()

    total, valid = source_counts(url, "orders")
    assert total > 326  # the scale-2 database, not the embedded default
    assert not (project / ".headwater" / "classicmodels.db").exists()
    assert not (project / "data").exists()
    assert len(csv_rows(elsewhere / "bronze" / DATED / "orders.csv")) == total
    assert len(csv_rows(elsewhere / "silver" / DATED / "orders.csv")) == valid
    assert by_id(record)["clean"].value == valid


def test_the_cli_runs_simple_dag_and_prints_the_sentence(project: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "simple_dag", "--date", "2024-03-01", "-p", str(project)]
    )
    assert result.exit_code == 0, result.output
    n = len(valid_rows(project / "data" / "bronze" / DATED / "orders.csv"))
    assert f"Number of valid records in table orders: {n}" in result.output.splitlines()


# -- lab 2: grouped_tasks -----------------------------------------------------------------------


def test_grouped_tasks_runs_one_group_per_table(project: Path, ws: Workspace) -> None:
    record = ws.run("grouped_tasks", logical_date=DAY)
    tasks = by_id(record)
    steps = ("extract", "clean", "notify")
    assert set(tasks) == {f"{table}.{step}" for table in GROUPED for step in steps}
    assert {t.status for t in tasks.values()} == {"success"}

    dag = ws.plan("grouped_tasks")
    logs = ws.logs(record.run_id)
    for table in GROUPED:
        assert dag.tasks[f"{table}.clean"].depends_on == {f"{table}.extract"}
        assert dag.tasks[f"{table}.notify"].depends_on == {f"{table}.clean"}
        assert {dag.tasks[f"{table}.{step}"].group for step in steps} == {table}
        bronze = project / "data" / "bronze" / DATED / f"{table}.csv"
        total, in_source = source_counts(embedded(project), table)
        assert len(csv_rows(bronze)) == total
        expected = valid_rows(bronze)
        assert len(expected) == in_source
        assert set(csv_rows(project / "data" / "silver" / DATED / f"{table}.csv")) == expected
        assert tasks[f"{table}.clean"].value == len(expected)
        sentence = f"Number of valid records in table {table}: {len(expected)}"
        assert sentence in logs[f"{table}.notify"].splitlines()


# -- lab 3: one ML pipeline per vendor ---------------------------------------------------------


def test_one_pipeline_per_vendor_from_one_template(ws: Workspace) -> None:
    names = [f"ml_{vendor}" for vendor in sample.VENDORS]
    assert set(names) <= set(ws.pipelines())
    for name in names:
        dag = ws.plan(name)
        assert {tid: set(t.depends_on) for tid, t in dag.tasks.items()} == {
            "check_quality": set(),
            "train": {"check_quality"},
            "is_deployable": {"train"},
            "deploy": {"train", "is_deployable"},
            "notify": {"train", "is_deployable"},
        }


def test_alitran_is_too_noisy_and_notifies(project: Path, ws: Workspace) -> None:
    record = ws.run("ml_alitran", logical_date=DAY)
    tasks = by_id(record)
    slope, intercept, rmse = fit(trips_of(project, "alitran"))
    assert rmse >= 500
    model = tasks["train"].value
    assert model["rmse"] == pytest.approx(rmse, rel=1e-9)
    assert model["slope"] == pytest.approx(slope, rel=1e-9)
    assert model["intercept"] == pytest.approx(intercept, rel=1e-9)
    assert tasks["is_deployable"].value == "notify"
    assert tasks["notify"].status == "success"
    assert tasks["deploy"].status == "skipped"
    assert not (project / "data" / "models" / "alitran").exists()
    line = f"Model of alitran not deployed: RMSE {rmse:.1f} s is not below 500 s"
    assert line in ws.logs(record.run_id, "notify")["notify"].splitlines()


def test_easy_destiny_fits_well_and_deploys(project: Path, ws: Workspace) -> None:
    record = ws.run("ml_easy_destiny", logical_date=DAY)
    tasks = by_id(record)
    slope, intercept, rmse = fit(trips_of(project, "easy_destiny"))
    assert rmse < 500
    assert tasks["is_deployable"].value == "deploy"
    assert tasks["deploy"].status == "success"
    assert tasks["notify"].status == "skipped"
    deployed = json.loads((project / "data" / "models" / "easy_destiny" / "model.json").read_text())
    assert deployed["slope"] == pytest.approx(slope, rel=1e-9)
    assert deployed["intercept"] == pytest.approx(intercept, rel=1e-9)
    assert deployed["rmse"] == pytest.approx(rmse, rel=1e-9)
    assert (deployed["train_rows"], deployed["test_rows"]) == (1600, 400)


def test_a_higher_max_rmse_param_deploys_alitran(project: Path, ws: Workspace) -> None:
    record = ws.run("ml_alitran", logical_date=DAY, conf={"max_rmse": 2000})
    tasks = by_id(record)
    assert (tasks["deploy"].status, tasks["notify"].status) == ("success", "skipped")
    assert (project / "data" / "models" / "alitran" / "model.json").exists()


def test_to_my_place_ai_fails_its_check_and_nothing_downstream_runs(
    project: Path, ws: Workspace
) -> None:
    with pytest.raises(RunFailed) as failed:
        ws.run("ml_to_my_place_ai", logical_date=DAY)
    record = failed.value.run
    assert isinstance(record, RunRecord)
    tasks = by_id(record)
    assert tasks["check_quality"].status == "failed"
    downstream = ("train", "is_deployable", "deploy", "notify")
    assert {tasks[t].status for t in downstream} == {"upstream_failed"}
    assert all(tasks[t].value is None and tasks[t].started_at is None for t in downstream)

    counts = [
        pq.read_table(p).column("passenger_count").to_pylist()
        for p in trips_of(project, "to_my_place_ai").values()
    ]
    every = [c for split in counts for c in split]
    bad = sum(c > 6 for c in every)
    assert bad > 0
    error = tasks["check_quality"].error or ""
    assert f"{bad} of {len(every)} trips of to_my_place_ai break the rule" in error
    assert not (project / "data" / "models").exists()


# -- the vendor trips generator ----------------------------------------------------------------


def test_the_vendor_trips_are_deterministic_and_only_one_vendor_breaks_the_rule() -> None:
    for vendor in sample.VENDORS:
        table = sample.trips(vendor, 500, seed=3)
        assert table.schema == sample.SCHEMA and table.num_rows == 500
        assert table.equals(sample.trips(vendor, 500, seed=3))
        assert not table.equals(sample.trips(vendor, 500, seed=4))
        rows: list[dict[str, Any]] = table.to_pylist()
        assert {r["vendor"] for r in rows} == {vendor}
        assert all(r["travel_time"] > 0 and r["trip_distance"] > 0 for r in rows)
        vans = sum(r["passenger_count"] > 6 for r in rows)
        assert (vans > 0) == (vendor == "to_my_place_ai"), vendor
        assert min(r["passenger_count"] for r in rows) >= 1
    with pytest.raises(ValueError, match="unknown vendor"):
        sample.trips("nobody")


def test_the_entry_point_writes_each_vendors_splits(tmp_path: Path) -> None:
    assert sample.main(["--out", str(tmp_path), "--rows", "250", "--seed", "3"]) == 0
    for vendor in sample.VENDORS:
        files = sample.paths(tmp_path, vendor)
        train, test = pq.read_table(files["train"]), pq.read_table(files["test"])
        assert (train.num_rows, test.num_rows) == (200, 50)
        whole = sample.trips(vendor, 250, seed=3)
        assert train.equals(whole.slice(0, 200)) and test.equals(whole.slice(200))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(sample.VENDORS)
