"""Values in the tables the CLI prints: shown exactly as stored, never read as Rich markup or
emoji codes, numbers in full."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from headwater.lake import replace_table

runner = CliRunner(env={"COLUMNS": "200"})

MARKUP = ["a [/x] b", ":smile:", "[red]y", "[bold]z[/bold]"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "headwater.yaml").write_text("name: values\n")
    table = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "note": MARKUP,
            "amount": pa.array([36284.97, 1234567.891, 0.1, -2.5]),
        }
    )
    with Workspace.open(tmp_path) as ws:
        replace_table(
            ws.lake,
            "shop.notes",
            pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
        )
    return tmp_path


def test_query_shows_text_as_stored(project: Path) -> None:
    result = runner.invoke(
        app, ["query", 'SELECT note AS "[i]col" FROM shop.notes ORDER BY id', "-p", str(project)]
    )
    assert result.exit_code == 0, result.output
    for value in [*MARKUP, "[i]col"]:
        assert value in result.stdout
    assert "😄" not in result.stdout


def test_query_shows_numbers_in_full(project: Path) -> None:
    sql = (
        "SELECT amount, CAST(amount AS DECIMAL(12, 3)) AS exact FROM shop.notes "
        "WHERE id <= 2 ORDER BY id"
    )
    result = runner.invoke(app, ["query", sql, "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert "36,284.97" in result.stdout and "36,284.970" in result.stdout
    assert "1,234,567.891" in result.stdout
    assert "36,285 " not in result.stdout and "e+06" not in result.stdout


def test_check_samples_show_text_as_stored(project: Path) -> None:
    (project / "checks").mkdir()
    (project / "checks" / "s.yaml").write_text(
        "shop.notes:\n  - accepted_values: {column: note, values: ['plain']}\n"
    )
    result = runner.invoke(app, ["check", "s", "-p", str(project)])
    assert result.exit_code == 1, result.output
    assert "failing rows" in result.stdout
    for value in MARKUP:
        assert value in result.stdout
    assert "😄" not in result.stdout


def test_counts_are_singular_for_one_and_rows_only_where_rows_move(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "jobs.py").write_text("def hello(ctx):\n    return 'hi'\n")
    (tmp_path / "headwater.yaml").write_text(
        "name: counts\npipelines:\n  p:\n    tasks:\n      - {name: hello, python: 'jobs:hello'}\n"
    )
    result = runner.invoke(app, ["run", "p", "-p", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [summary] = [line for line in result.stderr.splitlines() if line.startswith("success:")]
    assert summary.startswith("success: 1 task in ")
    assert "rows" not in summary

    table = pa.table({"id": pa.array([1], pa.int64())})
    with Workspace.open(tmp_path) as ws:
        replace_table(
            ws.lake, "shop.one", pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
        )
    shown = runner.invoke(app, ["show", "shop.one", "-p", str(tmp_path)])
    assert shown.stdout.startswith("shop.one  1 row in 1 file (")
