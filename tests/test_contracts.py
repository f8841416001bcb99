"""Schema contracts: new columns, widenings and values that do not fit, per contract."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headwater.errors import ContractViolation, RunFailed
from headwater.ingest.contract import plan
from tests.load_support import SqliteProject

FIRST = """
CREATE TABLE ev (id INTEGER PRIMARY KEY, name TEXT, n INTEGER);
INSERT INTO ev VALUES (1, 'a', 10);
INSERT INTO ev VALUES (2, 'b', 20);
"""


def project(tmp_path: Path, contract: str) -> SqliteProject:
    p = SqliteProject(
        tmp_path / "p",
        f"- name: t\n  query: SELECT * FROM ev\n  load: {{strategy: full, contract: {contract}}}\n",
    )
    p.sql(FIRST)
    p.run()
    return p


def change_source(p: SqliteProject) -> None:
    """A new column, and text where the table has integers (one value does not convert)."""
    p.sql(
        "DROP TABLE ev; CREATE TABLE ev (id INTEGER, name TEXT, n TEXT, extra TEXT);"
        "INSERT INTO ev VALUES (1, 'a', '11', NULL);"
        "INSERT INTO ev VALUES (2, 'b', 'twenty', NULL);"
        "INSERT INTO ev VALUES (3, 'c', '30', 'new');"
    )


def test_evolve_adds_columns_and_records_the_change(tmp_path: Path) -> None:
    p = project(tmp_path, "evolve")
    p.sql("ALTER TABLE ev ADD COLUMN extra TEXT; INSERT INTO ev VALUES (3, 'c', 30, 'new');")
    p.run()
    assert p.rows("SELECT id, extra FROM raw.t ORDER BY id") == [(1, None), (2, None), (3, "new")]
    ws = p.workspace()
    changes = [(c.kind, c.column, c.new_type) for c in ws.table("raw.t").schema_changes]
    assert changes == [("created", None, "3 columns"), ("added", "extra", "string")]
    ws.close()
    shown = CliRunner().invoke(_app(), ["show", "raw.t", "-p", str(p.root)])
    assert shown.exit_code == 0
    assert "schema history" in shown.stdout and "extra" in shown.stdout


def test_evolve_fails_on_a_value_that_does_not_convert(tmp_path: Path) -> None:
    p = project(tmp_path, "evolve")
    change_source(p)
    with pytest.raises(RunFailed) as failed:
        p.run()
    error = failed.value.run.tasks[0].error
    assert "column `n` is int64 in the table" in error and "'twenty'" in error
    assert p.rows("SELECT count(*) FROM raw.t") == [(2,)]  # unchanged


def test_freeze_fails_with_a_diff_of_the_schemas(tmp_path: Path) -> None:
    p = project(tmp_path, "freeze")
    change_source(p)
    with pytest.raises(RunFailed) as failed:
        p.run()
    error = failed.value.run.tasks[0].error
    assert "frozen schema" in error
    assert "~ n int64 → string" in error and "+ extra string" in error


def test_discard_row_quarantines_rows_that_do_not_fit(tmp_path: Path) -> None:
    p = project(tmp_path, "discard_row")
    change_source(p)
    record = p.run()
    assert p.rows("SELECT id, n FROM raw.t ORDER BY id") == [(1, 11)]
    reasons = p.rows("SELECT reason, record FROM raw.t__quarantine ORDER BY record")
    assert len(reasons) == 2
    assert "`n` does not convert to int64" in reasons[0][0] and '"id": 2' in reasons[0][1]
    assert "`extra` is not a column of the table" in reasons[1][0] and '"id": 3' in reasons[1][1]
    assert record.tasks[0].details["rejected"] == 2


def test_discard_value_nulls_values_and_keeps_them(tmp_path: Path) -> None:
    p = project(tmp_path, "discard_value")
    change_source(p)
    p.run()
    assert p.rows("SELECT id, n FROM raw.t ORDER BY id") == [(1, 11), (2, None), (3, 30)]
    kept = p.rows('SELECT "column", record FROM raw.t__quarantine ORDER BY "column"')
    assert kept == [("extra", '"new"'), ("n", '"twenty"')]
    assert "extra" not in p.workspace().table("raw.t").schema.names


def test_safe_widening_is_applied_whatever_the_contract() -> None:
    current = pa.schema([("id", pa.int32()), ("x", pa.float32()), ("d", pa.decimal128(10, 2))])
    incoming = pa.schema([("id", pa.int64()), ("x", pa.float64()), ("d", pa.decimal128(20, 2))])
    contract = plan("t", current, incoming, "freeze")
    assert contract.write_schema == incoming
    assert [(c.kind, c.column) for c in contract.changes] == [
        ("widened", "id"),
        ("widened", "x"),
        ("widened", "d"),
    ]
    # narrower data into a wider table is cast up, and is no change
    assert plan("t", incoming, current, "freeze").write_schema == incoming


def test_freeze_refuses_before_reading_a_row() -> None:
    with pytest.raises(ContractViolation) as error:
        plan("raw.t", pa.schema([("a", pa.int64())]), pa.schema([("a", pa.string())]), "freeze")
    assert error.value.diff == ["~ a int64 → string"]


def _app():  # type: ignore[no-untyped-def]
    from headwater.cli import app

    return app


def test_freeze_accepts_unchanged_text_columns(tmp_path: Path) -> None:
    p = project(tmp_path, "freeze")  # the first load made `name` a text column
    p.sql("INSERT INTO ev VALUES (3, 'c', 30);")
    p.run()
    assert p.rows("SELECT count(*) FROM raw.t") == [(3,)]
