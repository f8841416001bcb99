"""Sensors that wait for files and tables, webhooks on failure, and the orchestration CLI."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from headwater.errors import RunFailed
from tests.orchestration_support import make_project, statuses, unique


def test_file_sensor_waits_for_the_file(tmp_path: Path) -> None:
    mod = unique("sensed")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          waiting:
            tasks:
              - {{name: wait, sensor: {{file: "inbox/*.csv"}}, poke: 0.1, timeout: 20}}
              - {{name: read, python: "{mod}:read", depends_on: wait}}
              - {{name: never, sensor: {{file: "nothing/*.csv"}}, poke: 0.1, timeout: 0.5}}
        """,
        {mod: "def read(ctx):\n    return ctx.value('wait')\n"},
    )

    def drop() -> None:
        time.sleep(0.5)
        (root / "inbox").mkdir()
        (root / "inbox" / "day1.csv").write_text("a\n1\n")

    threading.Thread(target=drop).start()
    ws = Workspace.open(root)
    with pytest.raises(RunFailed) as failed:  # `never` times out; `wait` and `read` succeed
        ws.run("waiting")
    run = failed.value.run
    tasks = {t.task_id: t for t in run.tasks}
    assert tasks["wait"].status == "success" and tasks["wait"].value == ["inbox/day1.csv"]
    assert tasks["read"].value == ["inbox/day1.csv"]
    assert tasks["never"].status == "failed" and "timed out after 0.5s" in tasks["never"].error


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_failure_webhook_is_called(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          broken:
            hooks: {{on_failure: "{url}"}}
            tasks:
              - {{name: boom, shell: "echo cannot reach the API; exit 3"}}
        """,
    )
    ws = Workspace.open(root)
    with pytest.raises(RunFailed):
        ws.run("broken")
    deadline = time.monotonic() + 10
    while len(_Hook.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.shutdown()
    server.server_close()
    kinds = sorted(r["event"] for r in _Hook.received)
    assert kinds == ["run_failed", "task_failed"]
    task_event = next(r for r in _Hook.received if r["event"] == "task_failed")
    assert task_event["pipeline"] == "broken" and task_event["task_id"] == "boom"
    assert "exited with status 3" in task_event["message"]
    assert "cannot reach the API" in task_event["message"]


def test_cli_trigger_runs_logs_cancel_pause_and_backfill(tmp_path: Path) -> None:
    mod = unique("clied")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          daily:
            schedule: "@daily"
            tasks:
              - {{name: say, python: "{mod}:say"}}
        """,
        {mod: "def say(ctx):\n    print(f'hello for {ctx.ds}')\n    return ctx.ds\n"},
    )
    runner = CliRunner()
    p = ["-p", str(root)]
    ran = runner.invoke(app, ["run", "daily", "--date", "2024-03-01", *p])
    assert ran.exit_code == 0, ran.output
    assert "hello for 2024-03-01" in ran.stdout
    listed = runner.invoke(app, ["runs", *p])
    run_id = Workspace.open(root).runs()[0].run_id
    assert run_id[:8] in listed.stdout and "2024-03-01 00:00" in listed.stdout
    logs = runner.invoke(app, ["logs", run_id[:8], "say", *p])
    assert logs.stdout.strip() == "hello for 2024-03-01"
    queued = runner.invoke(app, ["trigger", "daily", "--conf", '{"x": 1}', *p])
    assert queued.exit_code == 0
    queued_id = queued.stdout.strip()
    cancelled = runner.invoke(app, ["cancel", queued_id[:8], *p])
    assert cancelled.exit_code == 0 and "cancel requested (cancelled)" in cancelled.stderr
    again = runner.invoke(app, ["cancel", queued_id[:8], *p])
    assert again.exit_code == 1 and "has already finished (cancelled)" in again.stderr
    assert runner.invoke(app, ["pause", "daily", *p]).exit_code == 0
    shown = runner.invoke(app, ["pipelines", *p])
    assert "paused" in shown.stdout and "@daily" in shown.stdout
    bad = runner.invoke(app, ["trigger", "daily", "--conf", "{x: 1}", *p])
    assert bad.exit_code == 1 and "--conf is not JSON" in bad.stderr
    filled = runner.invoke(
        app, ["backfill", "daily", "--start", "2024-01-01", "--end", "2024-01-03", *p]
    )
    assert filled.exit_code == 0, filled.output
    assert "3 run(s), 0 failed" in filled.stderr
    ws = Workspace.open(root)
    backfilled = [r for r in ws.runs() if r.trigger == "backfill"]
    assert sorted(r.logical_date.day for r in backfilled if r.logical_date) == [1, 2, 3]
    assert all(statuses(ws, r.run_id) == {"say": "success"} for r in backfilled)
    unknown = runner.invoke(app, ["run", "dayly", *p])
    assert unknown.exit_code == 1 and "did you mean `daily`" in unknown.stderr


def test_cli_backfill_skips_dates_run_by_hand_and_reports_them(tmp_path: Path) -> None:
    mod = unique("filled")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          daily:
            schedule: "@daily"
            tasks:
              - {{name: say, python: "{mod}:say"}}
        """,
        {
            mod: """
            from pathlib import Path

            def say(ctx):
                if (Path(ctx.run.root) / f"fail-{ctx.ds}").exists():
                    raise RuntimeError(f"no data for {ctx.ds}")
                return ctx.ds
            """
        },
    )
    runner = CliRunner()
    p = ["-p", str(root)]

    def lines(result: Any) -> list[str]:
        """What the command said besides one line per run (which holds the run's id)."""
        return [line for line in result.stderr.splitlines() if not line.startswith("2024-")]

    assert runner.invoke(app, ["run", "daily", "--date", "2024-01-02", *p]).exit_code == 0
    (root / "fail-2024-01-03").write_text("")
    assert runner.invoke(app, ["run", "daily", "--date", "2024-01-03", *p]).exit_code == 1
    (root / "fail-2024-01-03").unlink()
    (root / "fail-2024-01-04").write_text("")
    window = ["--start", "2024-01-01", "--end", "2024-01-04"]
    first = runner.invoke(app, ["backfill", "daily", *window, *p])
    assert first.exit_code == 1, first.output
    assert lines(first) == [
        "skipped 1 date that already has a successful run: 2024-01-02 (--rerun to run it again)",
        "backfill of daily: 3 run(s), 1 failed, 2 succeeded",
    ]
    # 2024-01-03 failed by hand and ran again; 2024-01-04 failed in the backfill
    assert sorted(
        (r.logical_date.day, r.trigger, r.status.value)
        for r in Workspace.open(root).runs("daily")
        if r.logical_date
    ) == [
        (1, "backfill", "success"),
        (2, "manual", "success"),
        (3, "backfill", "success"),
        (3, "manual", "failed"),
        (4, "backfill", "failed"),
    ]
    (root / "fail-2024-01-04").unlink()
    second = runner.invoke(app, ["backfill", "daily", *window, *p])
    assert second.exit_code == 0, second.output
    ran = [line for line in second.stderr.splitlines() if line.startswith("2024-")]
    assert len(ran) == 1 and ran[0].startswith("2024-01-04 00:00  success  run ")
    assert ran[0].endswith("  1 task")  # one task: never "1 tasks"
    assert lines(second) == [
        "skipped 3 dates that already have a successful run: 2024-01-01, 2024-01-02, "
        "2024-01-03 (--rerun to run them again)",
        "backfill of daily: 1 run(s), 0 failed, 1 succeeded",
    ]
    third = runner.invoke(app, ["backfill", "daily", *window, "--rerun", *p])
    assert third.exit_code == 0, third.output
    assert lines(third) == ["backfill of daily: 4 run(s), 0 failed, 4 succeeded"]
