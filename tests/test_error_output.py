"""What a failed run prints: each error once, with the one hint that fits it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from headwater import Workspace

CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
TABLES = [f"t{i}" for i in range(8)]


def _run(root: Path, pipeline: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", pipeline, "-p", str(root)], capture_output=True, text=True, timeout=120
    )


def test_a_wrong_password_is_printed_once(mysql_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(mysql_url)
    with engine.begin() as conn:
        for table in TABLES:
            conn.exec_driver_sql(f"CREATE TABLE {table} (id INT PRIMARY KEY)")
    engine.dispose()
    wrong = sa.make_url(mysql_url).set(password="not-the-password")
    (tmp_path / "headwater.yaml").write_text(
        f"""\
name: pw
connections:
  src: {{url: "{wrong.render_as_string(hide_password=False)}"}}
sources:
  src: {{connection: src, namespace: raw, tables: [{", ".join(TABLES)}], attempts: 1}}
pipelines:
  p: {{tasks: [{{ingest: src}}]}}
"""
    )
    result = _run(tmp_path, "p")
    assert result.returncode == 1
    assert result.stderr.count("Access denied") == 1, result.stderr
    assert result.stderr.count("check the user, password and database name") == 1
    with Workspace.open(tmp_path) as ws:
        [run] = ws.runs()
    assert run.error is not None and run.error.count("Access denied") == 1
    assert run.error.startswith("raw.t") and " and 5 more: connection `src`" in run.error


def test_a_refused_api_says_nothing_listens(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        """\
name: refused
connections:
  api: {type: http, base_url: "http://127.0.0.1:9/", retries: {attempts: 3}}
sources:
  api: {connection: api, namespace: api, tables: [{name: things, path: things}]}
pipelines:
  r: {tasks: [{ingest: api}]}
"""
    )
    result = _run(tmp_path, "r")
    assert result.returncode == 1
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "Connection refused" in error and "(gave up after 3 attempts)" in error
    assert "the API is down: nothing listens at 127.0.0.1:9; is it running?" in error
    assert "rate_limit" not in result.stderr
    retries = [line for line in result.stderr.splitlines() if line.startswith("task_retry:")]
    assert len(retries) == 2
    assert not any("nothing listens" in line for line in retries)
