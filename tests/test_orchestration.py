"""Pipelines as code: task kinds, trigger rules, branching, values, templates, retries,
timeouts, pools, groups and maps — through real runs recorded in the metadata store."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from headwater import Workspace
from headwater.errors import DagError, ProjectFileError, RunFailed
from tests.orchestration_support import make_project, statuses, unique


def test_yaml_steps_templates_map_groups_and_values(tmp_path: Path) -> None:
    mod = unique("vals")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          daily:
            schedule: "@daily"
            params: {{who: world}}
            tasks:
              - name: hello
                shell: "echo hello {{{{ params.who }}}} on {{{{ ds }}}} > hello.txt; echo done"
              - name: each
                python: {mod}:double
                map: [1, 2, 3]
                params: {{x: "{{{{ item }}}}"}}
                depends_on: hello
              - name: total
                python: {mod}:total
                depends_on: each
              - group: report
                depends_on: total
                tasks:
                  - {{name: first, python: "{mod}:stamp", params: {{tag: a}}}}
                  - {{name: second, python: "{mod}:stamp", params: {{tag: b}}, depends_on: first}}
        """,
        {
            mod: """
            def double(x):
                return x * 2

            def total(ctx):
                return sum(ctx.value(f"each[{i}]") for i in (1, 2, 3))

            def stamp(ctx, tag):
                return f"{tag}:{ctx.ds}:{ctx.values}"
            """
        },
    )
    ws = Workspace.open(root)
    record = ws.run("daily", logical_date=datetime(2024, 3, 1, tzinfo=UTC))
    tasks = {t.task_id: t for t in record.tasks}
    assert set(tasks) == {
        "hello",
        "each[1]",
        "each[2]",
        "each[3]",
        "total",
        "report.first",
        "report.second",
    }
    assert (root / "hello.txt").read_text() == "hello world on 2024-03-01\n"
    assert tasks["hello"].value == "done"  # a shell task's value is its last line
    assert [tasks[f"each[{i}]"].value for i in (1, 2, 3)] == [2, 4, 6]  # native types kept
    assert tasks["total"].value == 12
    assert tasks["report.first"].value == "a:2024-03-01:{'total': 12}"
    # a group's dependency applies to each of its tasks, beside their own
    assert tasks["report.second"].value == (
        "b:2024-03-01:{'report.first': \"a:2024-03-01:{'total': 12}\", 'total': 12}"
    )
    assert record.logical_date == datetime(2024, 3, 1, tzinfo=UTC)
    assert record.interval_end == datetime(2024, 3, 2, tzinfo=UTC)
    order = sorted(record.tasks, key=lambda t: t.started_at)
    position = {t.task_id: i for i, t in enumerate(order)}
    assert position["hello"] < min(position[f"each[{i}]"] for i in (1, 2, 3))
    assert position["total"] < position["report.first"] < position["report.second"]
    log = ws.logs(record.run_id, "hello")["hello"].splitlines()
    assert log[0].endswith("$ echo hello world on 2024-03-01 > hello.txt; echo done")
    assert log[1:] == ["done"]


def test_python_pipeline_branching_trigger_rules_and_prints(tmp_path: Path) -> None:
    mod = unique("branchy")
    root = make_project(
        tmp_path / "p",
        "pipelines: {}\n",
        {
            mod: """
            from headwater import Branch, pipeline, task

            @task
            def measure(ctx):
                return ctx.params["size"]

            @task
            def choose(size):
                return Branch("big" if size > 5 else "small", value=size)

            @task
            def big():
                print("went big")
                return "big"

            @task
            def small():
                print("went small")
                return "small"

            @task(trigger_rule="none_failed_or_skipped")
            def join(ctx):
                return sorted(ctx.values)

            @task
            def strict(ctx):  # all_success: a skipped upstream skips it
                return "ran"

            @pipeline(params={"size": 7})
            def branching():
                chosen = choose(measure())
                b = big(after=chosen)
                s = small(after=chosen)
                join(after=[b, s])
                strict(after=[b, s])
            """
        },
    )
    ws = Workspace.open(root)
    record = ws.run("branching")
    assert statuses(ws, record.run_id) == {
        "measure": "success",
        "choose": "success",
        "big": "success",
        "small": "skipped",
        "join": "success",
        "strict": "skipped",
    }
    tasks = {t.task_id: t for t in record.tasks}
    assert tasks["join"].value == ["big"]
    assert ws.logs(record.run_id, "big")["big"].strip() == "went big"
    assert "small" not in ws.logs(record.run_id)
    # the run's conf overrides the pipeline's params: the other branch
    other = ws.run("branching", conf={"size": 2})
    assert statuses(ws, other.run_id)["big"] == "skipped"
    assert statuses(ws, other.run_id)["small"] == "success"


def test_failure_and_the_trigger_rules_downstream(tmp_path: Path) -> None:
    mod = unique("rules")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          rules:
            tasks:
              - {{name: ok, python: "{mod}:ok"}}
              - {{name: bad, python: "{mod}:bad"}}
              - {{name: needs_all, python: "{mod}:ok", depends_on: [ok, bad]}}
              - {{name: cleanup, python: "{mod}:ok", depends_on: [ok, bad], trigger_rule: all_done}}
              - {{name: any_one, python: "{mod}:ok", depends_on: [ok, bad], trigger_rule: one_success}}
              - {{name: after_needs_all, python: "{mod}:ok", depends_on: needs_all, trigger_rule: none_failed}}
        """,
        {
            mod: """
            def ok():
                return 1

            def bad():
                raise ValueError("broken input in row 3")
            """
        },
    )
    ws = Workspace.open(root)
    with pytest.raises(RunFailed, match=r"bad: ValueError: broken input in row 3") as failed:
        ws.run("rules")
    run_id = failed.value.run.run_id  # type: ignore[attr-defined]
    assert statuses(ws, run_id) == {
        "ok": "success",
        "bad": "failed",
        "needs_all": "upstream_failed",
        "cleanup": "success",
        "any_one": "success",
        "after_needs_all": "upstream_failed",
    }
    events = ws.store.events("task_failed")
    assert any("bad" in e.message and e.run_id == run_id for e in events)


def test_retries_with_backoff_then_success(tmp_path: Path) -> None:
    mod = unique("flaky")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          flaky:
            tasks:
              - name: flaky
                python: {mod}:flaky
                retries: {{retries: 3, delay: 0.05, backoff: 2, jitter: false}}
        """,
        {
            mod: """
            from pathlib import Path

            def flaky(ctx):
                marker = Path(ctx.run.root) / "attempts"
                n = int(marker.read_text()) + 1 if marker.exists() else 1
                marker.write_text(str(n))
                if n < 3:
                    raise ConnectionError(f"attempt {n}: server busy")
                return ctx.attempt
            """
        },
    )
    ws = Workspace.open(root)
    record = ws.run("flaky")
    task = record.tasks[0]
    assert task.status == "success" and task.attempts == 3 and task.value == 3
    retries = [e for e in ws.store.events("task_retry") if e.run_id == record.run_id]
    assert len(retries) == 2 and "attempt 1 of 4" in retries[-1].message


def test_timeouts_stop_python_and_shell_tasks(tmp_path: Path) -> None:
    mod = unique("slow")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          slow:
            tasks:
              - {{name: spin, python: "{mod}:spin", timeout: 0.5}}
              - {{name: sleepy, shell: "echo $$ > shell.pid; sleep 30", timeout: 0.5}}
              - {{name: after, python: "{mod}:spin", depends_on: spin}}
        """,
        {
            mod: """
            import time
            from pathlib import Path

            def spin(ctx):
                end = time.monotonic() + 30
                while time.monotonic() < end:  # pure Python: stopped from outside
                    pass
                Path(ctx.run.root, "spin-finished").write_text("yes")
            """
        },
    )
    ws = Workspace.open(root)
    began = time.monotonic()
    with pytest.raises(RunFailed) as failed:
        ws.run("slow")
    assert time.monotonic() - began < 15
    record = failed.value.run
    tasks = {t.task_id: t for t in record.tasks}  # type: ignore[attr-defined]
    assert tasks["spin"].status == "failed" and "timed out after 0.5s" in tasks["spin"].error
    assert tasks["sleepy"].status == "failed" and "timed out" in tasks["sleepy"].error
    assert tasks["after"].status == "upstream_failed"
    time.sleep(0.5)
    pid = int((root / "shell.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the shell and its sleep were killed
    assert not (root / "spin-finished").exists()


def test_pools_bound_concurrency(tmp_path: Path) -> None:
    mod = unique("pooled")
    root = make_project(
        tmp_path / "p",
        f"""
        pools: {{db: 1}}
        pipelines:
          pooled:
            parallelism: 4
            tasks:
              - {{name: work, python: "{mod}:work", map: [1, 2, 3, 4], pool: db}}
        """,
        {
            mod: """
            import threading, time
            active = 0
            peak = 0
            lock = threading.Lock()

            def work():
                global active, peak
                with lock:
                    active += 1
                    peak = max(peak, active)
                time.sleep(0.05)
                with lock:
                    active -= 1
                return peak
            """
        },
    )
    ws = Workspace.open(root)
    record = ws.run("pooled")
    assert max(t.value for t in record.tasks) == 1  # never two in the pool at once


def test_bad_definitions_are_refused_with_where_and_why(tmp_path: Path) -> None:
    mod = unique("cyc")
    root = make_project(
        tmp_path / "cycle",
        f"""
        pipelines:
          loop:
            tasks:
              - {{name: a, python: "{mod}:f", depends_on: c}}
              - {{name: b, python: "{mod}:f", depends_on: a}}
              - {{name: c, python: "{mod}:f", depends_on: b}}
        """,
        {mod: "def f():\n    return 1\n"},
    )
    with pytest.raises(DagError, match=r"dependency cycle: (a|b|c) → .* → (a|b|c)"):
        Workspace.open(root).plan("loop")
    root = make_project(
        tmp_path / "unknown",
        f"""
        pipelines:
          p:
            tasks:
              - {{name: extract, python: "{mod}:f"}}
              - {{name: load, python: "{mod}:f", depends_on: extrakt}}
        """,
    )
    with pytest.raises(DagError, match=r"depends on `extrakt`.*did you mean `extract`"):
        Workspace.open(root).plan("p")
    root = make_project(
        tmp_path / "cron",
        """
        pipelines:
          p:
            schedule: "0 25 * * *"
            tasks:
              - {shell: "true"}
        """,
    )
    with pytest.raises(
        ProjectFileError,
        match=r"headwater.yaml:5: pipelines.p.schedule: `0 25 \* \* \*` is not a valid cron",
    ):
        Workspace.open(root)
    root = make_project(
        tmp_path / "missing",
        """
        pipelines:
          p:
            tasks:
              - {python: "nowhere_xyz:f"}
        """,
    )
    ws = Workspace.open(root)
    with pytest.raises(RunFailed, match=r"no module `nowhere_xyz`"):
        ws.run("p")


def test_cancel_stops_a_running_run(tmp_path: Path) -> None:
    mod = unique("cancel")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          long:
            tasks:
              - {{name: wait, python: "{mod}:wait"}}
              - {{name: never, python: "{mod}:never", depends_on: wait}}
        """,
        {
            mod: """
            def wait(ctx):
                ctx.sleep(60)  # wakes at once when the task is cancelled

            def never():
                return "should not run"
            """
        },
    )
    ws = Workspace.open(root)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            ws.run("long")
        except RunFailed as exc:
            result["run"] = exc.run

    thread = threading.Thread(target=run)
    began = time.monotonic()
    thread.start()
    while not ws.runs():
        time.sleep(0.05)
    run_id = ws.runs()[0].run_id
    while statuses(ws, run_id).get("wait") != "running":
        time.sleep(0.05)
    Workspace.open(root).cancel(run_id[:8])  # another process's view of the store
    thread.join(timeout=20)
    assert not thread.is_alive() and time.monotonic() - began < 15
    record = ws.store.run(run_id)
    assert record.status == "cancelled"
    assert statuses(ws, run_id) == {"wait": "cancelled", "never": "cancelled"}


def test_maintain_step_compacts_what_loads_appended(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        """
        connections:
          drop: {type: files, url: landing}
        sources:
          drops:
            connection: drop
            namespace: raw
            load: append
            tables:
              - {name: events, glob: "*.csv"}
        pipelines:
          load:
            tasks:
              - ingest: drops
          tidy:
            tasks:
              - {maintain: raw.events, keep_last: 1, orphans: false}
        """,
    )
    (root / "landing").mkdir()
    ws = Workspace.open(root)
    for day in range(3):
        (root / "landing" / f"day{day}.csv").write_text(
            f"id,day\n{day * 2},{day}\n{day * 2 + 1},{day}\n"
        )
        ws.run("load")
    assert len(ws.lake.data_files("raw.events")) == 3
    before = sorted(ws.query("SELECT id, day FROM raw.events").to_pylist(), key=str)
    record = ws.run("tidy")
    task = record.tasks[0]
    assert task.task_id == "maintain_raw_events" and task.kind == "maintain"
    assert task.value["raw.events"]["files"] == [3, 1]
    assert task.value["raw.events"]["snapshots_expired"] >= 2
    assert len(ws.lake.data_files("raw.events")) == 1
    assert sorted(ws.query("SELECT id, day FROM raw.events").to_pylist(), key=str) == before
    (root / "landing" / "day3.csv").write_text("id,day\n6,3\n")
    ws.run("load")  # the files already loaded are still known after compaction
    assert ws.query("SELECT count(*) AS n FROM raw.events").to_pylist() == [{"n": 7}]


def test_crawl_step_registers_files_a_model_then_reads(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        """
        pipelines:
          discover:
            tasks:
              - {crawl: landing, namespace: ext}
              - {models: gold, depends_on: crawl_ext}
        """,
    )
    for year, rows in ((2023, "1,4.5\n2,1.5\n"), (2024, "3,10\n")):
        folder = root / "landing" / "sales" / f"year={year}"
        folder.mkdir(parents=True)
        (folder / "part.csv").write_text("id,amount\n" + rows)
    model = root / "models" / "gold" / "by_year.sql"
    model.parent.mkdir(parents=True)
    model.write_text("SELECT year, sum(amount) AS total FROM ext.sales GROUP BY year")
    ws = Workspace.open(root)
    record = ws.run("discover")
    crawl = {t.task_id: t for t in record.tasks}["crawl_ext"]
    assert crawl.kind == "crawl" and crawl.value == {"ext.sales": "added"}
    rows = ws.query("SELECT year, total FROM gold.by_year ORDER BY year").to_pylist()
    assert rows == [{"year": 2023, "total": 6.0}, {"year": 2024, "total": 10.0}]


def test_override_keeps_what_it_does_not_change() -> None:
    from headwater.orchestrate.define import task

    @task(retries=3, timeout=5, pool="db")
    def pull() -> None:
        return None

    renamed = pull.override(id="pull_orders")
    assert renamed.id == "pull_orders"
    assert renamed.options.retry is not None and renamed.options.retry.retries == 3
    assert (renamed.options.timeout, renamed.options.pool) == (5, "db")
    slower = pull.override(timeout=60)
    assert slower.options.timeout == 60 and slower.options.retry == pull.options.retry


def test_pipelines_lists_the_good_ones_beside_a_broken_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from headwater.cli import app

    root = make_project(
        tmp_path / "p",
        """
        pipelines:
          good:
            tasks:
              - {shell: "true"}
          broken:
            tasks:
              - {shell: "true", depends_on: nowhere}
        """,
    )
    shown = CliRunner().invoke(app, ["pipelines", "-p", str(root)])
    assert shown.exit_code == 1
    assert "good" in shown.stdout and "cannot plan" in shown.stdout
    assert "broken: pipeline `broken`" in shown.stderr and "`nowhere`" in shown.stderr
