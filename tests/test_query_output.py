"""`headwater query` streams its result to the output, batch by batch, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from headwater.lake.writer import replace_table

pytestmark = pytest.mark.slow
runner = CliRunner()
ROWS = 250_001  # three batches of the engine's 100,000 rows
SQL = "SELECT id, label, price, day FROM big.items ORDER BY id"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("output")
    (root / "headwater.yaml").write_text("name: output\n")
    ws = Workspace.open(root)
    ids = pa.array(range(ROWS), pa.int64())
    table = pa.table(
        {
            "id": ids,
            "label": pa.array([f'item "{i}", ünï' for i in range(ROWS)]),
            "price": pa.array([i / 4 for i in range(ROWS)], pa.float64()),
            "day": pa.array([i % 3650 for i in range(ROWS)], pa.int32()).cast(pa.date32()),
        }
    )
    replace_table(ws.lake, "big.items", table.to_reader(max_chunksize=50_000))
    ws.close()
    return root


def expected(project: Path) -> pa.Table:
    ws = Workspace.open(project)
    try:
        return ws.query(SQL)
    finally:
        ws.close()


def query(project: Path, *args: str) -> tuple[int, bytes, str]:
    result = runner.invoke(app, ["query", SQL, "-p", str(project), *args])
    return result.exit_code, result.stdout_bytes, result.stderr


def test_json_is_one_array_of_rows(project: Path) -> None:
    code, out, _ = query(project, "--format", "json")
    assert code == 0
    rows = json.loads(out)
    want = expected(project).to_pylist()
    assert len(rows) == ROWS
    assert rows[:2] == [{**r, "day": r["day"].isoformat()} for r in want[:2]]
    assert [r["id"] for r in rows] == list(range(ROWS))
    # the layout of one json.dumps(rows, indent=2), written a row at a time
    assert out.decode().startswith('[\n  {\n    "id": 0,\n    "label": "item \\"0\\", ünï"')


def test_an_empty_result_is_an_empty_array(project: Path) -> None:
    result = runner.invoke(
        app,
        ["query", "SELECT * FROM big.items WHERE id < 0", "-p", str(project), "--format", "json"],
    )
    assert result.exit_code == 0 and json.loads(result.stdout) == []


def test_csv_and_parquet(project: Path, tmp_path: Path) -> None:
    code, out, _ = query(project, "--format", "csv")
    lines = out.decode().splitlines()
    assert code == 0 and lines[0] == '"id","label","price","day"' and len(lines) == ROWS + 1
    assert lines[2] == '1,"item ""1"", ünï",0.25,1970-01-02'
    target = tmp_path / "items.parquet"
    code, _, err = query(project, "--format", "parquet", "-o", str(target))
    assert code == 0 and f"wrote {ROWS} rows to {target}" in err
    assert pq.read_table(target).equals(expected(project))


def test_the_terminal_table_shows_the_first_rows_and_counts_all(project: Path) -> None:
    code, out, _ = query(project, "--max-rows", "3")
    text = out.decode()
    assert code == 0
    assert 'item "2", ünï' in text and 'item "3"' not in text
    assert f"{ROWS} rows, first 3 shown" in text


def test_a_failing_query_leaves_no_file(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    failing = (
        "SELECT CASE WHEN id > 240000 THEN error('bad row ' || id) ELSE id END AS id FROM big.items"
    )
    result = runner.invoke(
        app, ["query", failing, "-p", str(project), "--format", "csv", "-o", str(target)]
    )
    assert result.exit_code == 1
    assert "error: Invalid Input Error: bad row" in result.stderr
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial one


def test_not_a_number_is_null_in_json(project: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "query",
            "SELECT 'nan'::DOUBLE AS a, 'inf'::DOUBLE AS b, [1.5, 'nan'::DOUBLE] AS c",
            "-p",
            str(project),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"a": None, "b": None, "c": [1.5, None]}]


def test_writing_into_a_missing_folder_says_so(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "out.csv"
    result = CliRunner().invoke(
        app, ["query", "SELECT 1 AS x", "-p", str(project), "-o", str(target)]
    )
    assert result.exit_code == 1
    assert f"cannot write {target}" in result.stderr and "Traceback" not in result.output
