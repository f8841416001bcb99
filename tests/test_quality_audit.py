"""Write–audit–publish: checks run on new data before it is published."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.errors import RunFailed
from tests.load_support import SqliteProject

SOURCE = """
CREATE TABLE ev (id INTEGER PRIMARY KEY, status TEXT, amount REAL);
INSERT INTO ev VALUES (1, 'new', 10.0);
INSERT INTO ev VALUES (2, 'paid', 20.0);
"""

CHECKS = """raw.t:
  - not_null: status
  - between: {column: amount, min: 0}
  - accepted_values: {column: status, values: [new, paid, odd]}
    severity: warn
"""


def project(tmp_path: Path, load: str = "full", extra: str = "") -> SqliteProject:
    p = SqliteProject(tmp_path / "p", f"- name: t\n  table: ev\n  load: {load}\n", extra)
    p.sql(SOURCE)
    (p.root / "checks").mkdir()
    (p.root / "checks" / "raw.yaml").write_text(CHECKS)
    return p


def test_failing_data_is_not_published_and_is_kept(tmp_path: Path) -> None:
    p = project(tmp_path)
    p.run()
    snapshots = p.snapshots("raw.t")
    p.sql("INSERT INTO ev VALUES (3, NULL, -5.0); INSERT INTO ev VALUES (4, 'odd', 1.0);")
    with pytest.raises(RunFailed) as failed:
        p.run()
    error = failed.value.run.tasks[0].error
    assert "table `raw.t` was not published: 2 error check(s) failed" in error
    assert "not_null_status: 1 of 4 rows fail" in error and "`raw.t__rejected`" in error
    assert p.snapshots("raw.t") == snapshots  # readers still see the last good data
    assert p.rows("SELECT count(*) FROM raw.t") == [(2,)]
    assert p.rows("SELECT id FROM raw.t__rejected ORDER BY id") == [(1,), (2,), (3,), (4,)]
    ws = p.workspace()
    history = ws.store.check_history("raw.t", "not_null_status")
    assert history[0]["run_id"] == failed.value.run.run_id and history[0]["passed"] is False
    ws.close()


def test_warn_checks_publish_and_record(tmp_path: Path) -> None:
    p = project(tmp_path)
    p.sql("INSERT INTO ev VALUES (3, 'lost', 1.0);")  # fails only the warn check
    p.run()
    assert p.rows("SELECT count(*) FROM raw.t") == [(3,)]
    ws = p.workspace()
    [latest] = ws.store.check_history("raw.t", "accepted_values_status")
    assert (latest["passed"], latest["failing"]) == (False, 1)
    ws.close()


def test_quarantine_policy_publishes_the_good_rows(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: append, cursor: id}", "quality:\n  quarantine: [raw.t]\n")
    p.run()
    p.sql(
        "INSERT INTO ev VALUES (3, NULL, 5.0); INSERT INTO ev VALUES (4, 'new', -1.0);"
        "INSERT INTO ev VALUES (5, 'paid', 7.0);"
    )
    p.run()
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(1,), (2,), (5,)]
    kept = p.rows("SELECT reason, record FROM raw.t__quarantine ORDER BY record")
    assert len(kept) == 2
    assert "not_null_status" in kept[0][0] and '"id": 3' in kept[0][1]
    assert "between_amount" in kept[1][0] and '"id": 4' in kept[1][1]


def test_models_are_audited_too(tmp_path: Path) -> None:
    p = project(tmp_path)
    models = p.root / "models" / "gold"
    models.mkdir(parents=True)
    (models / "big.sql").write_text("SELECT id, amount * -1 AS amount FROM raw.t")
    (models / "after.sql").write_text("SELECT * FROM gold.big")
    text = (p.root / "headwater.yaml").read_text()
    (p.root / "headwater.yaml").write_text(text + "      - models: gold\n")
    (p.root / "checks" / "gold.yaml").write_text(
        "gold.big:\n  - between: {column: amount, min: 0}\n"
    )
    with pytest.raises(RunFailed) as failed:
        p.run()
    status = {t.task_id: t.status for t in failed.value.run.tasks}
    assert status == {"raw.t": "success", "gold.big": "failed", "gold.after": "upstream_failed"}
    ws = p.workspace()
    assert "gold.big" not in ws.lake.tables() and "gold.big__rejected" in ws.lake.tables()
    ws.close()


def test_show_lists_the_latest_check_results(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from headwater.cli import app

    p = project(tmp_path)
    p.sql("INSERT INTO ev VALUES (3, 'lost', 1.0);")  # fails only the warn check
    p.run()
    shown = CliRunner().invoke(app, ["show", "raw.t", "-p", str(p.root)])
    assert shown.exit_code == 0
    lines = [line for line in shown.stdout.splitlines() if "accepted_values_status" in line]
    assert len(lines) == 1 and "warn" in lines[0] and "1" in lines[0]
    assert "not_null_status" in shown.stdout


def test_rejected_data_of_another_shape_replaces_the_last(tmp_path: Path) -> None:
    p = project(tmp_path)
    p.sql("INSERT INTO ev VALUES (3, NULL, 1.0);")
    with pytest.raises(RunFailed):
        p.run()
    # the source changes a column's type; the next rejection still keeps its data
    p.sql(
        "DROP TABLE ev; CREATE TABLE ev (id INTEGER, status TEXT, amount TEXT);"
        "INSERT INTO ev VALUES (1, NULL, 'n/a');"
    )
    with pytest.raises(RunFailed) as failed:
        p.run()
    assert "was not published" in failed.value.run.tasks[0].error
    assert p.rows("SELECT id, amount FROM raw.t__rejected") == [(1, "n/a")]
