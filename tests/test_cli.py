"""The headwater command as a user types it: outputs, formats, exit codes and error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from tests.classicmodels_support import copy_example

pytestmark = pytest.mark.slow
runner = CliRunner()

SQL = "SELECT country, count(*) AS customers FROM gold.dim_locations GROUP BY country ORDER BY 2 DESC, 1"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_example(tmp_path_factory.mktemp("cli") / "classicmodels")
    for args in (["sample", "classicmodels"], ["run", "classicmodels"]):
        result = runner.invoke(app, [*args, "--project", str(root)])
        assert result.exit_code == 0, result.output
    return root


def test_run_prints_a_summary(project: Path) -> None:
    result = runner.invoke(app, ["run", "classicmodels", "-p", str(project)])
    assert result.exit_code == 0
    assert "gold.fact_orders" in result.stderr
    assert "success: 12 tasks" in result.stderr
    # the example's known flaw, said last (severity warn: the run still succeeds)
    assert result.stderr.rstrip().endswith(
        "warning: check not_null_postalCode of gold.dim_locations (warn): 3 of 121 rows fail "
        "it — `headwater check gold.dim_locations` shows the failing rows"
    )


def test_the_real_dump_warns_of_the_fan_out_and_the_exact_report_is_right(
    tmp_path: Path, classicmodels_dump: Path
) -> None:
    root = copy_example(tmp_path / "classicmodels")
    sample = ["sample", "classicmodels", "--dump", str(classicmodels_dump), "-p", str(root)]
    assert runner.invoke(app, sample).exit_code == 0
    result = runner.invoke(app, ["run", "classicmodels", "-p", str(root)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert [w.split(":")[1].strip() for w in warnings] == [
        "check not_null_postalCode of gold.dim_locations (warn)",
        "check unique_postalCode of gold.dim_locations (warn)",
        "check unique_orderNumber_orderLineNumber of gold.fact_orders (warn)",
    ]
    assert "692 of 3,688 rows fail it" in warnings[2]
    reports = root / "reports"
    with Workspace.open(root) as ws:
        course = ws.query((reports / "sales_by_country.sql").read_text()).to_pylist()
        exact = ws.query((reports / "sales_by_country_exact.sql").read_text()).to_pylist()
    assert (course[0]["country"], str(course[0]["total_sales"])) == ("USA", "13057249.77")
    assert (exact[0]["country"], str(exact[0]["total_sales"])) == ("USA", "3273280.05")


def test_query_formats(project: Path, tmp_path: Path) -> None:
    expected = Workspace.open(project).query(SQL).to_pylist()
    as_json = runner.invoke(app, ["query", SQL, "-p", str(project), "--format", "json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == expected

    as_csv = runner.invoke(app, ["query", SQL, "-p", str(project), "--format", "csv"])
    lines = as_csv.stdout.strip().splitlines()
    assert lines[0] == '"country","customers"'
    assert len(lines) == len(expected) + 1

    out = tmp_path / "result.parquet"
    as_parquet = runner.invoke(
        app, ["query", SQL, "-p", str(project), "--format", "parquet", "-o", str(out)]
    )
    assert as_parquet.exit_code == 0
    assert pq.read_table(out).to_pylist() == expected

    out_csv = tmp_path / "result.csv"
    runner.invoke(app, ["query", SQL, "-p", str(project), "--format", "csv", "-o", str(out_csv)])
    assert pacsv.read_csv(out_csv).num_rows == len(expected)

    table = runner.invoke(app, ["query", SQL, "-p", str(project)])
    assert expected[0]["country"] in table.stdout
    assert f"{len(expected)} rows" in table.stdout


def test_query_errors_are_one_actionable_line(project: Path) -> None:
    result = runner.invoke(app, ["query", "SELECT * FROM gold.dim_location", "-p", str(project)])
    assert result.exit_code == 1
    assert (
        "error: table `gold.dim_location` is not in the catalog (did you mean `gold.dim_locations`?)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    write = runner.invoke(app, ["query", "DELETE FROM gold.dim_locations", "-p", str(project)])
    assert write.exit_code == 1 and "only SELECT statements" in write.stderr
    debug = runner.invoke(app, ["query", "SELECT * FROM gold.nope", "-p", str(project), "--debug"])
    assert debug.exit_code == 1 and "Traceback" in debug.stderr


def test_tables_show_runs(project: Path) -> None:
    tables = runner.invoke(app, ["tables", "-p", str(project)])
    assert tables.exit_code == 0
    for name in ("raw.orderdetails", "gold.fact_orders"):
        assert name in tables.stdout
    show = runner.invoke(app, ["show", "gold.fact_orders", "-p", str(project)])
    assert show.exit_code == 0
    assert "orderAmount" in show.stdout and "decimal128" in show.stdout
    snapshots = Workspace.open(project).lake.snapshots("gold.fact_orders")
    assert str(snapshots[-1].snapshot_id) in show.stdout
    runs = runner.invoke(app, ["runs", "-p", str(project)])
    assert runs.exit_code == 0 and "classicmodels" in runs.stdout and "success" in runs.stdout


def test_var_and_bad_var(project: Path) -> None:
    bad = runner.invoke(app, ["run", "classicmodels", "-p", str(project), "--var", "source=x"])
    assert bad.exit_code == 1 and "unknown variable `source`" in bad.stderr
    missing = runner.invoke(
        app,
        ["run", "classicmodels", "-p", str(project), "--var", "source_url=sqlite:///nowhere.db"],
    )
    assert missing.exit_code == 1
    assert "nowhere.db does not exist" in missing.stderr
    assert "headwater sample classicmodels" in missing.stderr


def test_init_makes_a_project_that_runs(tmp_path: Path) -> None:
    folder = tmp_path / "starter"
    assert runner.invoke(app, ["init", str(folder)]).exit_code == 0
    assert (
        runner.invoke(
            app, ["sample", "classicmodels", "--url", f"sqlite:///{folder}/.headwater/sample.db"]
        ).exit_code
        == 0
    )
    result = runner.invoke(app, ["run", "main", "-p", str(folder)])
    assert result.exit_code == 0, result.stderr
    rows = (
        Workspace.open(folder)
        .query("SELECT sum(orders) AS n FROM gold.orders_per_customer")
        .to_pylist()
    )
    assert rows[0]["n"] > 0
    again = runner.invoke(app, ["init", str(folder)])
    assert again.exit_code == 1 and "already exists" in again.stderr


def test_console_script_exit_codes(project: Path) -> None:
    exe = Path(sys.executable).parent / "headwater"
    ok = subprocess.run(
        [exe, "tables", "-p", str(project)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0
    bad = subprocess.run(
        [exe, "show", "raw.nothing", "-p", str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: table `raw.nothing` is not in the catalog")
