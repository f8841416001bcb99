"""Data-quality checks on a small table: each rule passes and fails on the data it should."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.errors import ProjectError, ProjectFileError
from headwater.lake import replace_table
from headwater.quality.results import CheckResult

TODAY = datetime.now(UTC).date()


def orders() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 4], pa.int64()),
            "customer": pa.array([10, 11, None, 12, 99], pa.int64()),
            "status": ["new", "paid", "paid", "odd", "new"],
            "amount": pa.array([5.0, 15.0, 25.0, -1.0, 1000.0]),
            "code": ["AB-1", "AB-2", "XY", "AB-4", "AB-5"],
            "day": [TODAY, TODAY, TODAY - timedelta(days=1), TODAY, TODAY - timedelta(days=3)],
        }
    )


@pytest.fixture
def ws(tmp_path: Path) -> Any:
    (tmp_path / "headwater.yaml").write_text("name: q\n")
    workspace = Workspace.open(tmp_path)
    for name, table in (
        ("shop.orders", orders()),
        ("shop.customers", pa.table({"id": pa.array([10, 11, 12], pa.int64())})),
    ):
        replace_table(
            workspace.lake,
            name,
            pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
        )
    yield workspace
    workspace.close()


def run(ws: Any, checks: str) -> dict[str, CheckResult]:
    folder = ws.project.root / "checks"
    folder.mkdir(exist_ok=True)
    (folder / "s.yaml").write_text("shop.orders:\n" + checks)
    return {r.check: r for r in ws.check("s").results}


def test_column_rules_count_failing_rows(ws: Any) -> None:
    got = run(
        ws,
        """
  - not_null: customer
  - unique: id
  - accepted_values: {column: status, values: [new, paid]}
  - not_in_set: {column: status, values: [odd]}
  - between: {column: amount, min: 0, max: 100}
  - between: {column: amount, min: 5, strict_min: true, name: above_five}
  - regex: {column: code, pattern: '^AB-\\d$'}
  - length: {column: code, min: 3, max: 4}
""",
    )
    failing = {name: (r.passed, r.evaluated, r.failing) for name, r in got.items()}
    assert failing == {
        "not_null_customer": (False, 5, 1),
        "unique_id": (False, 5, 1),
        "accepted_values_status": (False, 5, 1),
        "not_in_set_status": (False, 5, 1),
        "between_amount": (False, 5, 2),
        "above_five": (False, 5, 2),
        "regex_code": (False, 5, 1),
        "length_code": (False, 5, 1),
    }
    assert sorted(r["amount"] for r in got["between_amount"].sample) == [-1.0, 1000.0]
    assert [r["id"] for r in got["unique_id"].sample] == [4, 4]


def test_mostly_where_and_severity(ws: Any) -> None:
    got = run(
        ws,
        """
  - between: {column: amount, min: 0, max: 100}
    mostly: 0.6
  - not_null: customer
    where: status = 'paid'
  - accepted_values: {column: status, values: [new]}
    severity: warn
""",
    )
    assert got["between_amount"].passed  # 2 of 5 fail: 60 % pass
    assert (got["not_null_customer"].evaluated, got["not_null_customer"].failing) == (2, 1)
    warned = got["accepted_values_status"]
    assert not warned.passed and not warned.blocking


def test_table_rules(ws: Any) -> None:
    got = run(
        ws,
        """
  - row_count: {min: 1, max: 4}
  - row_count: {equal_to: shop.customers, name: same_as_customers}
  - freshness: {column: day, max_age: 2d}
  - schema: {columns: [id, customer, status], types: {id: BIGINT}}
  - relationships: {column: customer, to: shop.customers, field: id}
  - aggregate: {column: amount, function: mean, min: 0, max: 500}
  - aggregate: {column: amount, function: quantile, quantile: 0.5, min: 10, max: 20}
  - name: no_negative
    sql: SELECT * FROM {table} WHERE amount < 0
""",
    )
    assert (got["row_count"].passed, got["row_count"].observed) == (False, 5)
    assert got["same_as_customers"].observed == {"rows": 5, "other": 3}
    assert got["freshness_day"].passed
    assert got["schema"].passed
    rel = got["relationships_customer"]
    assert (rel.passed, rel.evaluated, rel.failing) == (False, 4, 1) and rel.sample[0][
        "customer"
    ] == 99
    assert got["mean_amount"].passed and got["mean_amount"].observed == pytest.approx(208.8)
    assert got["quantile_amount"].passed and got["quantile_amount"].observed == pytest.approx(15.0)
    assert (got["no_negative"].failing, got["no_negative"].sample[0]["id"]) == (1, 4)


def test_rules_that_could_not_fail_now_do(ws: Any) -> None:
    """A NULL among accepted values, a `field` only the checked table has, and
    ``unique: {column: …}`` once passed without looking at the data (or did not parse)."""
    got = run(
        ws,
        """
  - accepted_values: {column: status, values: [new, paid, null]}
  - relationships: {column: customer, to: shop.customers, field: customer}
  - unique: {column: id}
""",
    )
    values = got["accepted_values_status"]
    assert (values.passed, values.evaluated, values.failing) == (False, 5, 1)
    assert values.sample[0]["status"] == "odd"
    rel = got["relationships_customer"]
    assert not rel.passed and rel.error == "no column `customer` in `shop.customers`; columns: id"
    assert (got["unique_id"].passed, got["unique_id"].failing) == (False, 1)


def test_great_expectations_names(ws: Any) -> None:
    got = run(
        ws,
        """
  - expect_column_values_to_not_be_null: {column: customer}
  - expect_column_values_to_be_between: {column: amount, min_value: 0, max_value: 100, mostly: 0.5}
  - expect_column_values_to_be_in_set: {column: status, value_set: [new, paid, odd]}
""",
    )
    assert not got["not_null_customer"].passed
    assert got["between_amount"].passed and got["accepted_values_status"].passed


def test_bad_checks_are_reported_not_run(ws: Any) -> None:
    got = run(
        ws,
        """
  - not_null: custmer
  - regex: {column: code, pattern: '(unclosed'}
  - between: {column: status, min: 0}
  - name: writes
    sql: DELETE FROM {table}
  - not_null: id
""",
    )
    assert (
        "no column `custmer`" in got["not_null_custmer"].error
        and "customer" in got["not_null_custmer"].error
    )
    assert got["regex_code"].error
    assert (
        "`status` of `shop.orders` is text (VARCHAR); 0 is a number" in got["between_status"].error
    )
    assert "may not write" in got["writes"].error
    assert got["not_null_id"].passed  # the good check still ran


def test_check_files_report_the_line(ws: Any) -> None:
    folder = ws.project.root / "checks"
    folder.mkdir()
    (folder / "s.yaml").write_text("shop.orders:\n  - not_null: id\n  - betwen: {column: amount}\n")
    with pytest.raises(ProjectFileError) as error:
        ws.check("s")
    assert error.value.line == 3 and "did you mean `between`" in str(error.value)
    (folder / "s.yaml").write_text("shop.orders:\n  - not_null: id\n")
    with pytest.raises(ProjectError, match="no suite or table with checks named `nope`"):
        ws.check("nope")


def test_results_are_kept_and_feed_volume_anomalies(ws: Any) -> None:
    for _ in range(5):
        run(ws, "  - volume_anomaly: {z: 2}\n")
    store = ws.store
    assert len(store.check_history("shop.orders", "volume_anomaly")) == 5
    big = pa.concat_tables([orders()] * 20)
    replace_table(
        ws.lake, "shop.orders", pa.RecordBatchReader.from_batches(big.schema, big.to_batches())
    )
    result = run(ws, "  - volume_anomaly: {z: 2}\n")["volume_anomaly"]
    assert not result.passed and result.observed["rows"] == 100


def test_cli_exit_code_and_json(ws: Any) -> None:
    run(ws, "  - not_null: customer\n  - unique: code\n")
    cli = CliRunner()
    from headwater.cli import app

    failed = cli.invoke(app, ["check", "s", "-p", str(ws.project.root), "--format", "json"])
    assert failed.exit_code == 1
    report = json.loads(failed.stdout)
    assert report["passed"] is False
    assert [(r["check"], r["failing"]) for r in report["results"]] == [
        ("not_null_customer", 1),
        ("unique_code", 0),
    ]
    (ws.project.root / "checks" / "s.yaml").write_text("shop.orders:\n  - not_null: id\n")
    assert cli.invoke(app, ["check", "shop.orders", "-p", str(ws.project.root)]).exit_code == 0


def test_two_checks_with_one_name_are_refused(ws: Any) -> None:
    folder = ws.project.root / "checks"
    folder.mkdir()
    (folder / "s.yaml").write_text(
        "shop.orders:\n  - between: {column: amount, min: 0}\n  - between: {column: amount, max: 9}\n"
    )
    with pytest.raises(ProjectFileError, match="more than one check named between_amount"):
        ws.check()


def test_great_expectations_suites_import(ws: Any, tmp_path: Path) -> None:
    """A 0.18 suite and a 1.x suite become one checks file each, and run."""
    old = {
        "expectation_suite_name": "orders",
        "expectations": [
            {
                "expectation_type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "customer"},
            },
            {
                "expectation_type": "expect_column_values_to_be_between",
                "kwargs": {"column": "amount", "min_value": 0, "max_value": 1000},
            },
            {"expectation_type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {}},
        ],
    }
    new = {
        "name": "orders",
        "expectations": [
            {
                "type": "ExpectColumnValuesToBeUnique",
                "kwargs": {"column": "id"},
                "severity": "warning",
            },
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        ],
    }
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    from headwater.cli import app

    cli = CliRunner()
    root = str(ws.project.root)
    imported = cli.invoke(
        app, ["checks", "import", str(tmp_path / "old.json"), "--table", "shop.orders", "-p", root]
    )
    assert imported.exit_code == 0 and "wrote 2 checks" in imported.stdout
    assert "skipped expect_column_kl_divergence_to_be_less_than" in imported.stderr
    cli.invoke(
        app, ["checks", "import", str(tmp_path / "new.json"), "--table", "shop.orders", "-p", root]
    )
    old_results = {r.check: r for r in ws.check("old").results}
    assert not old_results["not_null_customer"].passed and not old_results["between_amount"].passed
    new_results = {r.check: r for r in ws.check("new").results}
    assert new_results["unique_id"].severity == "warn" and not new_results["unique_id"].passed
    assert new_results["row_count"].passed


def test_checks_written_in_python(ws: Any) -> None:
    folder = ws.project.root / "checks"
    folder.mkdir()
    (folder / "py.py").write_text(
        "from headwater import checks\n"
        "CHECKS = {'shop.orders': [\n"
        "    checks.not_null('customer'),\n"
        "    checks.unique('id', severity='warn'),\n"
        "    checks.sql('SELECT * FROM {table} WHERE amount < 0', name='no_negative'),\n"
        "    {'between': {'column': 'amount', 'min': 0}},\n"
        "]}\n"
    )
    got = {r.check: r for r in ws.check("py").results}
    assert [(n, r.failing, r.severity) for n, r in got.items()] == [
        ("not_null_customer", 1, "error"),
        ("unique_id", 1, "warn"),
        ("no_negative", 1, "error"),
        ("between_amount", 1, "error"),
    ]
    (folder / "py.py").write_text("CHECKS = [1]\n")
    with pytest.raises(ProjectFileError, match=r"defines CHECKS = \{table: \[checks\]\}"):
        ws.check("py")


def test_samples_can_be_turned_off(ws: Any) -> None:
    run(ws, "  - not_null: customer\n")
    [result] = ws.check("s", samples=0).results
    assert (result.failing, result.sample) == (1, ())
    [result] = ws.check("s", samples=1).results
    assert len(result.sample) == 1 and result.sample[0]["customer"] is None


def test_braces_in_a_checks_own_text_are_just_text(ws: Any) -> None:
    got = run(ws, "  - {regex: {column: code, pattern: '^[A-Z]{2}-\\d{1}$'}}\n")
    (result,) = got.values()
    assert result.failing == 1  # only "XY"
    assert ws.check("s", samples=5).results[0].passed is False


def test_two_suites_of_one_name_are_refused(ws: Any) -> None:
    folder = ws.project.root / "checks"
    folder.mkdir()
    (folder / "orders.yaml").write_text("shop.orders:\n  - not_null: id\n")
    (folder / "orders.py").write_text("CHECKS = {'shop.orders': [{'unique': 'id'}]}\n")
    with pytest.raises(ProjectFileError, match="suite `orders` is defined twice"):
        ws.suites()


def test_a_gx_file_that_is_not_a_suite_is_refused_clearly(tmp_path: Path) -> None:
    from headwater.quality.gx import read_suite

    path = tmp_path / "suite.json"
    path.write_text("[1, 2]")
    with pytest.raises(ProjectError, match="is not a Great Expectations suite"):
        read_suite(path)
    path.write_text(
        json.dumps(
            {
                "expectations": [
                    {
                        "expectation_type": "expect_column_values_to_be_between",
                        "kwargs": {"column": "x"},
                    },
                    {
                        "expectation_type": "expect_column_values_to_not_be_null",
                        "kwargs": {"column": "x"},
                    },
                ]
            }
        )
    )
    entries, skipped = read_suite(path)
    assert entries == [{"not_null": {"column": "x"}}]
    assert len(skipped) == 1 and skipped[0].startswith(
        "expect_column_values_to_be_between (expectation 0:"
    )
    assert "`between` needs `min`, `max` or both" in skipped[0]


def test_failing_rows_of_several_checks_come_from_one_scan(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text("name: q\n")
    many = pa.table(
        {
            "id": pa.array(range(1000), pa.int64()),
            # every other row is NULL; only the last row breaks the range
            "v": pa.array([None if i % 2 else i for i in range(1000)], pa.int64()),
            "w": pa.array([5000 if i == 999 else i for i in range(1000)], pa.int64()),
        }
    )
    with Workspace.open(tmp_path) as workspace:
        replace_table(
            workspace.lake,
            "shop.many",
            pa.RecordBatchReader.from_batches(many.schema, many.to_batches(max_chunksize=100)),
        )
        folder = tmp_path / "checks"
        folder.mkdir()
        (folder / "s.yaml").write_text(
            "shop.many:\n  - not_null: v\n  - between: {column: w, min: 0, max: 999}\n"
            "  - not_null: {column: v, where: 'id >= 990', name: late_nulls}\n"
        )
        got = {r.check: r for r in workspace.check("s", samples=3).results}
    assert got["not_null_v"].failing == 500 and len(got["not_null_v"].sample) == 3
    assert all(row["v"] is None and row["id"] % 2 for row in got["not_null_v"].sample)
    assert [row["id"] for row in got["between_w"].sample] == [999]  # the one row, at the end
    late = got["late_nulls"]
    assert late.failing == 5 and len(late.sample) == 3
    assert all(row["id"] >= 990 and row["v"] is None for row in late.sample)
    assert all(set(row) == {"id", "v", "w"} for r in got.values() for row in r.sample)
