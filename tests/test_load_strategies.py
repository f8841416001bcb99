"""Load strategies end to end on a SQLite source: what each run leaves in the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.errors import ProjectFileError, RunFailed
from tests.load_support import SqliteProject

EVENTS = """
CREATE TABLE ev (id INTEGER PRIMARY KEY, name TEXT, amount REAL, ts TIMESTAMP, gone BOOLEAN);
INSERT INTO ev VALUES (1, 'a', 1.0, '2024-01-01 00:00:00', 0);
INSERT INTO ev VALUES (2, 'b', 2.0, '2024-01-02 00:00:00', 0);
INSERT INTO ev VALUES (3, 'c', 3.0, '2024-01-03 00:00:00', 0);
"""


def project(tmp_path: Path, load: str, table: str = "ev") -> SqliteProject:
    p = SqliteProject(tmp_path / "p", f"- name: t\n  table: {table}\n  load: {load}\n")
    p.sql(EVENTS)
    return p


def test_full_replaces_the_rows(tmp_path: Path) -> None:
    p = project(tmp_path, "full")
    p.run()
    p.sql("DELETE FROM ev WHERE id = 1; INSERT INTO ev VALUES (4, 'd', 4.0, '2024-01-04', 0);")
    p.run()
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(2,), (3,), (4,)]


def test_append_adds_rows_above_the_cursor_once(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: append, cursor: id}")
    p.run()
    snapshots = p.snapshots("raw.t")
    p.run()  # nothing new: nothing committed
    assert p.snapshots("raw.t") == snapshots
    p.sql("INSERT INTO ev VALUES (4, 'd', 4.0, '2024-01-04 00:00:00', 0);")
    p.run()
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(1,), (2,), (3,), (4,)]


def test_incremental_reads_from_the_cursor_and_never_duplicates(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: incremental, cursor: ts}")
    p.run()
    # a late row with the same cursor value as the stored maximum, and a new one
    p.sql(
        "INSERT INTO ev VALUES (30, 'late', 3.5, '2024-01-03 00:00:00', 0);"
        "INSERT INTO ev VALUES (4, 'd', 4.0, '2024-01-04 00:00:00', 0);"
    )
    p.run()
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(1,), (2,), (3,), (4,), (30,)]
    snapshots = p.snapshots("raw.t")
    record = p.run()  # unchanged source: the boundary rows are read again, nothing changes
    assert p.snapshots("raw.t") == snapshots
    assert record.tasks[0].details["changed"] is False
    assert p.rows("SELECT count(*) FROM raw.t") == [(5,)]


def test_incremental_lag_rereads_a_window_without_duplicates(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: incremental, cursor: ts, lag: 2d}")
    p.run()
    # a row that arrives late inside the lag window (below the stored cursor)
    p.sql("INSERT INTO ev VALUES (20, 'late', 2.5, '2024-01-02 12:00:00', 0);")
    p.run()
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(1,), (2,), (3,), (20,)]
    p.run()
    assert p.rows("SELECT count(*) FROM raw.t") == [(4,)]


def test_incremental_with_a_key_updates_changed_rows(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: incremental, cursor: ts, primary_key: id}")
    p.run()
    p.sql("UPDATE ev SET name = 'B', ts = '2024-01-05 00:00:00' WHERE id = 2;")
    p.run()
    assert p.rows("SELECT id, name FROM raw.t ORDER BY id") == [(1, "a"), (2, "B"), (3, "c")]


def test_initial_value_skips_older_rows(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: incremental, cursor: ts, initial: '2024-01-02'}")
    p.run()
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(2,), (3,)]


def test_merge_upserts_and_deletes_missing_keys(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: merge, primary_key: id, delete_missing: true}")
    p.run()
    p.sql(
        "UPDATE ev SET amount = 20 WHERE id = 2; DELETE FROM ev WHERE id = 3;"
        "INSERT INTO ev VALUES (4, 'd', 4.0, '2024-01-04 00:00:00', 0);"
    )
    record = p.run()
    assert p.rows("SELECT id, amount FROM raw.t ORDER BY id") == [(1, 1.0), (2, 20.0), (4, 4.0)]
    details = record.tasks[0].details
    assert (details["inserted"], details["deleted"]) == (2, 1)
    snapshots = p.snapshots("raw.t")
    p.run()
    assert p.snapshots("raw.t") == snapshots


def test_merge_delete_column_removes_flagged_keys(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: merge, primary_key: id, delete_column: gone}")
    p.run()
    p.sql("UPDATE ev SET gone = 1 WHERE id = 1;")
    p.run()
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(2,), (3,)]
    assert "gone" not in [r[0] for r in p.rows("SELECT column_name FROM (DESCRIBE raw.t)")]


def test_scd2_keeps_every_version(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: scd2, primary_key: id}")
    p.run()
    p.sql("UPDATE ev SET name = 'B' WHERE id = 2; DELETE FROM ev WHERE id = 3;")
    p.run()
    rows = p.rows(
        "SELECT id, name, valid_to IS NULL, is_current FROM raw.t ORDER BY id, valid_from"
    )
    assert rows == [
        (1, "a", True, True),
        (2, "b", False, False),
        (2, "B", True, True),
        (3, "c", False, False),
    ]
    closed = p.rows(
        "SELECT DISTINCT valid_to = (SELECT max(valid_from) FROM raw.t) FROM raw.t WHERE NOT is_current"
    )
    assert closed == [(True,)]
    snapshots = p.snapshots("raw.t")
    p.run()
    assert p.snapshots("raw.t") == snapshots
    p.sql("INSERT INTO ev VALUES (3, 'c', 3.0, '2024-01-03 00:00:00', 0);")  # comes back
    p.run()
    assert p.rows("SELECT count(*) FROM raw.t WHERE id = 3") == [(2,)]
    assert p.rows("SELECT name FROM raw.t WHERE id = 3 AND is_current") == [("c",)]


def test_full_refresh_ignores_the_stored_cursor(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: append, cursor: id}")
    p.run()
    p.sql("UPDATE ev SET name = 'A' WHERE id = 1;")
    p.run()
    assert p.rows("SELECT name FROM raw.t WHERE id = 1") == [("a",)]
    p.run(full_refresh=True)
    assert p.rows("SELECT id, name FROM raw.t ORDER BY id") == [(1, "A"), (2, "b"), (3, "c")]


def test_a_cursor_going_backwards_fails_and_says_what_to_do(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: incremental, cursor: id}")
    p.run()
    p.sql("DELETE FROM ev WHERE id = 3;")  # the source was rewritten below the stored cursor
    with pytest.raises(RunFailed) as failed:
        p.run()
    error = failed.value.run.tasks[0].error
    assert "went backwards" in error and "--full-refresh" in error


def test_null_cursor_fails_or_is_quarantined(tmp_path: Path) -> None:
    p = project(tmp_path, "{strategy: incremental, cursor: ts}")
    p.sql("INSERT INTO ev VALUES (9, 'x', 9.0, NULL, 0);")
    with pytest.raises(RunFailed) as failed:
        p.run()
    assert "1 row(s) have NULL in the cursor column `ts`" in failed.value.run.tasks[0].error
    q = project(tmp_path / "q", "{strategy: incremental, cursor: ts, on_null_cursor: exclude}")
    q.sql("INSERT INTO ev VALUES (9, 'x', 9.0, NULL, 0);")
    q.run()
    assert q.rows("SELECT count(*) FROM raw.t") == [(3,)]
    reasons = q.rows("SELECT reason, record FROM raw.t__quarantine")
    assert len(reasons) == 1 and "NULL" in reasons[0][0] and '"id": 9' in reasons[0][1]


def test_strategy_settings_are_checked_with_the_line(tmp_path: Path) -> None:
    p = SqliteProject(tmp_path / "p", "- name: t\n  load: {strategy: incremental}\n")
    with pytest.raises(ProjectFileError) as error:
        p.workspace()
    assert "needs `cursor: COLUMN`" in str(error.value) and error.value.line == 8
    q = SqliteProject(tmp_path / "q", "- name: t\n  load: append\n")
    with pytest.raises(ProjectFileError, match="would add every row again"):
        q.workspace()


def test_table_settings_override_the_source_defaults(tmp_path: Path) -> None:
    p = SqliteProject(tmp_path / "p", "- name: t\n  table: ev\n  load: {cursor: id}\n")
    text = (p.root / "headwater.yaml").read_text()
    (p.root / "headwater.yaml").write_text(
        text.replace("    connection: src\n", "    connection: src\n    load: {strategy: append}\n")
    )
    p.sql(EVENTS)
    ws = p.workspace()
    source = ws.project.config.sources["s"]
    settings = source.load_for(source.tables[0])
    assert (settings.strategy, settings.cursor) == ("append", "id")


@pytest.mark.slow
def test_a_killed_process_neither_loses_nor_duplicates_rows(tmp_path: Path) -> None:
    """SIGKILL mid-load: the table and its cursor stay as the last commit left them."""
    import os
    import signal
    import subprocess
    import sys
    import time

    p = project(tmp_path, "{strategy: incremental, cursor: id}")
    p.run()
    p.sql(
        "WITH RECURSIVE n(i) AS (SELECT 4 UNION ALL SELECT i + 1 FROM n WHERE i < 400000) "
        "INSERT INTO ev SELECT i, 'x' || i, i, '2024-02-01 00:00:00', 0 FROM n;"
    )
    headwater = str(Path(sys.executable).parent / "headwater")
    command = [headwater, "run", "p", "--project", str(p.root)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    writing = False
    while time.monotonic() < deadline and child.poll() is None:
        # kill once data files of the load are being written
        data = p.root / ".headwater" / "warehouse" / "raw" / "t" / "data"
        if data.exists() and len(list(data.iterdir())) > 1:
            writing = True
            break
        time.sleep(0.05)
    assert child.poll() is None, "the load finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert writing
    assert p.rows("SELECT count(*), max(id) FROM raw.t") == [(3, 3)]
    ws = p.workspace()
    assert ws.table("raw.t").cursor == 3
    ws.close()
    p.run()
    assert p.rows("SELECT count(*), count(DISTINCT id), max(id) FROM raw.t") == [
        (400000, 400000, 400000)
    ]


def test_append_on_a_timestamp_cursor_with_nothing_new(tmp_path: Path) -> None:
    # SQLite hands DATETIME back as text: the backwards check must compare like with like
    p = project(tmp_path, "{strategy: append, cursor: ts}")
    p.run()
    record = p.run()
    assert record.tasks[0].details["changed"] is False
    assert p.rows("SELECT count(*) FROM raw.t") == [(3,)]


def test_partitions_when_the_new_rows_hold_one_value(tmp_path: Path) -> None:
    p = SqliteProject(
        tmp_path / "p",
        "- name: t\n  table: ev\n  load: {strategy: incremental, cursor: id}\n"
        "  partition: {column: id, count: 2}\n",
    )
    p.sql(EVENTS)
    p.run()
    p.sql("INSERT INTO ev VALUES (4, 'd', 4.0, '2024-01-04 00:00:00', 0);")
    p.run()  # from the cursor on, only id 3 and 4 remain: too few to split
    assert p.rows("SELECT id FROM raw.t ORDER BY id") == [(1,), (2,), (3,), (4,)]


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ("{strategy: full, cursor: id}", "strategy `full` replaces the table"),
        ("{strategy: append, cursor: id, lag: 5}", "`lag` re-reads rows below the cursor"),
        ("{strategy: merge}", "strategy `merge` needs `primary_key`"),
        ("{strategy: full, delete_missing: true}", "apply to strategy `merge` only"),
    ],
)
def test_settings_that_cannot_work_are_refused(tmp_path: Path, load: str, message: str) -> None:
    p = SqliteProject(tmp_path / "p", f"- name: t\n  load: {load}\n")
    with pytest.raises(ProjectFileError, match=message):
        p.workspace()


def test_the_run_summary_says_what_each_load_changed(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from headwater.cli import app

    p = project(tmp_path, "{strategy: merge, primary_key: id, delete_missing: true}")
    cli = CliRunner()
    first = cli.invoke(app, ["run", "p", "-p", str(p.root)])
    assert first.exit_code == 0 and "+3" in first.stderr
    p.sql("DELETE FROM ev WHERE id = 1; UPDATE ev SET name = 'B' WHERE id = 2;")
    second = cli.invoke(app, ["run", "p", "-p", str(p.root)])
    assert "+1 −1" in second.stderr
    third = cli.invoke(app, ["run", "p", "-p", str(p.root)])
    assert "unchanged" in third.stderr


def test_a_rerun_does_not_quarantine_the_same_input_twice(tmp_path: Path) -> None:
    q = project(tmp_path, "{strategy: incremental, cursor: ts, on_null_cursor: exclude}")
    q.sql("INSERT INTO ev VALUES (9, 'x', 9.0, NULL, 0);")
    q.run()
    q.run(full_refresh=True)  # the NULL-cursor row is read again: it is quarantined already
    assert q.rows("SELECT count(*) FROM raw.t__quarantine") == [(1,)]
    q.sql("INSERT INTO ev VALUES (10, 'y', 1.0, NULL, 0);")
    q.run(full_refresh=True)
    assert q.rows("SELECT count(*) FROM raw.t__quarantine") == [(2,)]
