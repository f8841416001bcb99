"""The scheduler: schedules and catch-up, restarts, two schedulers on one PostgreSQL store,
orphaned runs, SLA alerts, event triggers, backfills and queued runs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater import RunFailed, Workspace
from headwater.orchestrate.schedule import key
from headwater.orchestrate.scheduler import Scheduler
from headwater.state import schema
from headwater.state.records import RunStatus
from tests.orchestration_support import make_project, statuses, unique


def daily_project(root: Path, state_url: str | None = None) -> Path:
    """A daily pipeline from 2024-01-01 to 2024-01-05 with catch-up; each run leaves a stamp."""
    mod = unique("daily")
    state = f"state:\n  url: {state_url}\n" if state_url else ""
    pipeline = (
        "pipelines:\n"
        "  daily:\n"
        '    schedule: "@daily"\n'
        "    start_date: 2024-01-01\n"
        "    end_date: 2024-01-05\n"
        "    catchup: true\n"
        "    max_active_runs: 5\n"
        "    tasks:\n"
        f'      - {{name: stamp, python: "{mod}:stamp"}}\n'
    )
    return make_project(
        root,
        state + pipeline,
        {
            mod: """
            from pathlib import Path

            def stamp(ctx):
                folder = Path(ctx.run.root) / "stamps"
                folder.mkdir(exist_ok=True)
                path = folder / f"{ctx.ds}-{ctx.run_id}"
                path.write_text(ctx.ds)
                return ctx.ds
            """
        },
    )


def drain(scheduler: Scheduler, now: datetime | None = None) -> None:
    scheduler.tick(now)
    for thread in list(scheduler.running.values()):
        thread.join(timeout=60)


def test_catchup_runs_each_date_once_across_restarts(tmp_path: Path) -> None:
    root = daily_project(tmp_path / "p")
    now = datetime(2024, 1, 4, 3, tzinfo=UTC)
    first = Workspace.open(root).scheduler()
    drain(first, now)
    drain(first, now)  # the queued runs start on the next pass if the first was full
    stamps = sorted(p.name[:10] for p in (root / "stamps").iterdir())
    assert stamps == ["2024-01-01", "2024-01-02", "2024-01-03"]  # 01-04 is not over yet
    # a new scheduler (a restart) finds those dates done: nothing runs twice
    second = Workspace.open(root).scheduler()
    drain(second, now + timedelta(hours=1))
    assert len(list((root / "stamps").iterdir())) == 3
    drain(second, datetime(2024, 2, 1, tzinfo=UTC))  # later: up to the end date only
    stamps = sorted(p.name[:10] for p in (root / "stamps").iterdir())
    assert stamps == [f"2024-01-0{d}" for d in range(1, 6)]
    ws = Workspace.open(root)
    runs = ws.runs("daily")
    assert {r.trigger for r in runs} == {"schedule"} and all(r.status == "success" for r in runs)
    assert sorted(r.logical_date.day for r in runs if r.logical_date) == [1, 2, 3, 4, 5]


def test_catchup_skips_a_date_already_run_by_hand(tmp_path: Path) -> None:
    root = failing_daily_project(tmp_path / "p")
    text = (root / "headwater.yaml").read_text()
    (root / "headwater.yaml").write_text(
        text.replace("max_active_runs", "catchup: true\n    max_active_runs")
    )
    ws = Workspace.open(root)
    ws.run("daily", logical_date=day(2))
    (root / "fail-2024-01-03").write_text("")
    with pytest.raises(RunFailed, match="no data for 2024-01-03"):
        ws.run("daily", logical_date=day(3))
    (root / "fail-2024-01-03").unlink()  # a date whose runs failed is caught up again
    scheduler = ws.scheduler()
    drain(scheduler, datetime(2024, 1, 4, 3, tzinfo=UTC))
    drain(scheduler, datetime(2024, 1, 4, 3, tzinfo=UTC))
    stamps = sorted(p.name[:10] for p in (root / "stamps").iterdir())
    assert stamps == ["2024-01-01", "2024-01-02", "2024-01-03"]
    runs = sorted(
        (r.logical_date.day, r.trigger, r.status) for r in ws.runs("daily") if r.logical_date
    )
    assert runs == [
        (1, "schedule", "success"),
        (2, "manual", "success"),
        (3, "manual", "failed"),
        (3, "schedule", "success"),
    ]


def test_without_catchup_only_the_latest_interval_runs(tmp_path: Path) -> None:
    root = daily_project(tmp_path / "p")
    text = (root / "headwater.yaml").read_text().replace("catchup: true", "catchup: false")
    (root / "headwater.yaml").write_text(text.replace("    end_date: 2024-01-05\n", ""))
    ws = Workspace.open(root)
    scheduled_run(ws, datetime(2024, 3, 8, tzinfo=UTC))  # it ran on schedule before
    scheduler = ws.scheduler()
    drain(scheduler, datetime(2024, 3, 10, 12, tzinfo=UTC))
    assert [p.name[:10] for p in (root / "stamps").iterdir()] == ["2024-03-09"]
    # it started far later than due: the missed schedule is an alert
    kinds = [e.kind for e in Workspace.open(root).store.events()]
    assert "schedule_missed" in kinds
    (missed,) = ws.store.events("schedule_missed")
    due = [r.run_id for r in ws.runs("daily") if r.logical_date == datetime(2024, 3, 9, tzinfo=UTC)]
    assert [missed.run_id] == due
    assert missed.message == (
        "pipeline `daily`: the run due at 2024-03-10 00:00 UTC starts 720 min late "
        "(was the scheduler down?)"
    )


def scheduled_run(ws: Workspace, logical: datetime) -> None:
    """Record a successful run the scheduler made for ``logical`` (of the daily pipeline)."""
    interval = (logical, logical + timedelta(days=1))
    run_id = ws.store.start_run(
        "daily",
        trigger="schedule",
        logical_date=logical,
        interval=interval,
        schedule_key=key(logical),
    )
    assert run_id is not None
    ws.store.finish_run(run_id, RunStatus.SUCCESS)


def test_the_first_scheduled_run_of_a_pipeline_is_not_a_missed_schedule(tmp_path: Path) -> None:
    root = daily_project(tmp_path / "p")
    text = (root / "headwater.yaml").read_text().replace("catchup: true", "catchup: false")
    (root / "headwater.yaml").write_text(text.replace("    end_date: 2024-01-05\n", ""))
    ws = Workspace.open(root)
    # run by hand and backfilled before the scheduler ever ran it (a schedule just added)
    ws.run("daily", logical_date=datetime(2024, 3, 7, tzinfo=UTC))
    ws.backfill("daily", datetime(2024, 3, 8, tzinfo=UTC), datetime(2024, 3, 8, tzinfo=UTC))
    scheduler = ws.scheduler()
    report = scheduler.tick(datetime(2024, 3, 10, 12, tzinfo=UTC))  # 12 h after it was due
    for thread in list(scheduler.running.values()):
        thread.join(timeout=60)
    assert report.alerts == []
    assert ws.store.events("schedule_missed") == []
    scheduled = [(r.logical_date, r.status) for r in ws.runs("daily") if r.trigger == "schedule"]
    assert scheduled == [(datetime(2024, 3, 9, tzinfo=UTC), "success")]
    # from then on it has a scheduled run: the next one starting late is a missed schedule
    report = scheduler.tick(datetime(2024, 3, 11, 6, tzinfo=UTC))
    for thread in list(scheduler.running.values()):
        thread.join(timeout=60)
    assert report.alerts == [
        "pipeline `daily`: the run due at 2024-03-11 00:00 UTC starts 360 min late "
        "(was the scheduler down?)"
    ]
    assert [e.kind for e in ws.store.events("schedule_missed")] == ["schedule_missed"]
    ws.close()


@pytest.mark.postgres
def test_two_schedulers_on_one_postgres_store_never_run_a_date_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    root = daily_project(tmp_path / "p", state_url=postgres_url)
    now = datetime(2024, 1, 6, tzinfo=UTC)
    schedulers = [Workspace.open(root).scheduler() for _ in range(2)]
    barrier = threading.Barrier(2)

    def work(s: Scheduler) -> None:
        barrier.wait()
        for _ in range(3):
            drain(s, now)

    threads = [threading.Thread(target=work, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for s in schedulers:
        s.scope.close()
    stamps = sorted(p.name[:10] for p in (root / "stamps").iterdir())
    assert stamps == [f"2024-01-0{d}" for d in range(1, 6)]  # five dates, each run once
    ws = Workspace.open(root)
    runs = ws.runs("daily")
    ws.close()
    assert len(runs) == 5 and {r.status for r in runs} == {"success"}


def test_an_orphaned_run_resumes_without_rerunning_what_succeeded(tmp_path: Path) -> None:
    mod = unique("orphan")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          two:
            tasks:
              - {{name: first, python: "{mod}:count"}}
              - {{name: second, python: "{mod}:count", depends_on: first}}
        """,
        {
            mod: """
            from pathlib import Path

            def count(ctx):
                path = Path(ctx.run.root) / f"{ctx.task.id}.calls"
                calls = int(path.read_text()) + 1 if path.exists() else 1
                path.write_text(str(calls))
                return calls
            """
        },
    )
    ws = Workspace.open(root)
    store = ws.store
    # a scheduler that died mid-run: `first` succeeded, `second` was running
    run_id = store.start_run("two", owner="scheduler:gone:1:abc")
    assert run_id is not None
    dag = ws.plan("two")
    store.add_tasks(run_id, {t.id: (t.kind, t.target) for t in dag.tasks.values()})
    store.update_task(run_id, "first", status="success", value=1)
    store.update_task(run_id, "second", status="running")
    (root / "first.calls").write_text("1")
    store.heartbeat("scheduler:gone:1:abc", "gone", 1)
    with store.engine.begin() as conn:
        conn.execute(
            schema.schedulers.update().values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
    scheduler = ws.scheduler(stale_after=30)
    report = scheduler.tick()
    assert report.recovered == [run_id]
    for thread in list(scheduler.running.values()):
        thread.join(timeout=60)
    record = store.run(run_id)
    assert record.status == "success"
    assert (root / "first.calls").read_text() == "1"  # not run again
    assert (root / "second.calls").read_text() == "1"
    assert statuses(ws, run_id) == {"first": "success", "second": "success"}


def test_sla_miss_raises_one_alert(tmp_path: Path) -> None:
    mod = unique("sla")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          slow:
            sla: 0.5
            tasks:
              - {{name: nap, python: "{mod}:nap"}}
        """,
        {mod: "import time\n\ndef nap():\n    time.sleep(2)\n"},
    )
    ws = Workspace.open(root)
    run_id = ws.trigger("slow")
    scheduler = ws.scheduler()
    scheduler.tick()  # starts it
    time.sleep(1.0)
    scheduler.tick()  # past its deadline while it runs
    scheduler.tick()
    for thread in list(scheduler.running.values()):
        thread.join(timeout=30)
    missed = [e for e in ws.store.events("sla_missed") if e.run_id == run_id]
    assert len(missed) == 1 and "missed its deadline" in missed[0].message
    assert ws.store.run(run_id).sla_missed


def test_event_triggers_start_runs_when_a_table_changes_or_files_arrive(tmp_path: Path) -> None:
    mod = unique("evt")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          on_files:
            poke: 0
            triggers:
              - file: "landing/*.csv"
            tasks:
              - {{name: seen, python: "{mod}:seen"}}
        """,
        {mod: "def seen(ctx):\n    return ctx.params['trigger']\n"},
    )
    ws = Workspace.open(root)
    scheduler = ws.scheduler()
    drain(scheduler)
    assert ws.runs("on_files") == []  # nothing there yet
    (root / "landing").mkdir()
    (root / "landing" / "a.csv").write_text("x\n1\n")
    drain(scheduler)
    drain(scheduler)
    runs = ws.runs("on_files")
    assert len(runs) == 1 and runs[0].trigger == "event" and runs[0].status == "success"
    drain(scheduler)  # no new file: no new run
    assert len(ws.runs("on_files")) == 1
    (root / "landing" / "b.csv").write_text("x\n2\n")
    drain(scheduler)
    drain(scheduler)
    assert len(ws.runs("on_files")) == 2


def test_backfill_runs_each_date_once_and_skips_done_dates(tmp_path: Path) -> None:
    root = daily_project(tmp_path / "p")
    ws = Workspace.open(root)
    records = ws.backfill(
        "daily", datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC), max_active=2
    ).runs
    assert sorted(r.logical_date.day for r in records if r.logical_date) == [2, 3, 4]
    assert {r.trigger for r in records} == {"backfill"}
    stamps = sorted(p.name[:10] for p in (root / "stamps").iterdir())
    assert stamps == ["2024-01-02", "2024-01-03", "2024-01-04"]
    again = ws.backfill(
        "daily", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 4, tzinfo=UTC)
    ).runs
    assert [r.logical_date.day for r in again if r.logical_date] == [1]
    # the scheduler's catch-up does not redo backfilled dates either
    drain(Workspace.open(root).scheduler(), datetime(2024, 1, 5, 1, tzinfo=UTC))
    assert len(list((root / "stamps").iterdir())) == 4


def failing_daily_project(root: Path) -> Path:
    """A daily pipeline without catch-up whose run for a date fails while `fail-<date>` exists;
    each successful run leaves a stamp."""
    mod = unique("flaky")
    return make_project(
        root,
        f"""
        pipelines:
          daily:
            schedule: "@daily"
            start_date: 2024-01-01
            max_active_runs: 5
            tasks:
              - {{name: stamp, python: "{mod}:stamp"}}
        """,
        {
            mod: """
            from pathlib import Path

            def stamp(ctx):
                root = Path(ctx.run.root)
                if (root / f"fail-{ctx.ds}").exists():
                    raise RuntimeError(f"no data for {ctx.ds}")
                (root / "stamps").mkdir(exist_ok=True)
                (root / "stamps" / f"{ctx.ds}-{ctx.run_id}").write_text(ctx.ds)
            """
        },
    )


def day(d: int) -> datetime:
    return datetime(2024, 1, d, tzinfo=UTC)


def test_backfill_skips_dates_with_a_successful_run_of_any_trigger_and_reruns_failed_ones(
    tmp_path: Path,
) -> None:
    root = failing_daily_project(tmp_path / "p")
    ws = Workspace.open(root)
    for d in (3, 4):
        (root / f"fail-2024-01-0{d}").write_text("")
    ws.run("daily", logical_date=day(2))  # by hand, succeeds
    with pytest.raises(RunFailed, match="no data for 2024-01-03"):
        ws.run("daily", logical_date=day(3))  # by hand, fails
    drain(ws.scheduler(), datetime(2024, 1, 5, 0, 0, 30, tzinfo=UTC))  # scheduled 01-04 fails
    queued = ws.trigger("daily", logical_date=day(5))  # waiting for a scheduler
    for d in (3, 4):
        (root / f"fail-2024-01-0{d}").unlink()
    before = {(r.trigger, r.logical_date, r.status) for r in ws.runs("daily")}
    assert before == {
        ("manual", day(2), "success"),
        ("manual", day(3), "failed"),
        ("schedule", day(4), "failed"),
        ("manual", day(5), "queued"),
    }

    done = ws.backfill("daily", day(1), day(5))
    assert [(r.logical_date, r.status, r.trigger) for r in done.runs] == [
        (day(1), "success", "backfill"),
        (day(3), "success", "backfill"),  # its only run failed: run again
        (day(4), "success", "backfill"),  # so did the scheduler's
    ]
    assert done.skipped == [day(2)]  # a manual run with --date counts
    assert done.in_progress == [day(5)]
    assert sorted(p.name[:10] for p in (root / "stamps").iterdir()) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert ws.store.run(queued).status == "queued"
    # every date is done now: nothing runs again
    again = ws.backfill("daily", day(1), day(4))
    assert again.runs == [] and again.skipped == [day(1), day(2), day(3), day(4)]
    # --rerun redoes every date, and says nothing was skipped
    redone = ws.backfill("daily", day(1), day(2), rerun=True)
    assert [(r.logical_date, r.status) for r in redone.runs] == [
        (day(1), "success"),
        (day(2), "success"),
    ]
    assert redone.skipped == [] and len(list((root / "stamps").iterdir())) == 6
    # a date first run by --rerun counts as done for the scheduler's catch-up too
    ws.backfill("daily", day(6), day(6), rerun=True)
    assert key(day(6)) in ws.store.schedule_keys("daily")
    ws.close()


def test_paused_pipelines_wait_and_triggered_runs_start(tmp_path: Path) -> None:
    root = daily_project(tmp_path / "p")
    ws = Workspace.open(root)
    ws.pause("daily")
    run_id = ws.trigger("daily", conf={"note": "by hand"})
    scheduler = ws.scheduler()
    drain(scheduler, datetime(2024, 1, 3, tzinfo=UTC))
    assert ws.store.run(run_id).status == "queued"
    assert not (root / "stamps").exists()
    ws.pause("daily", False)
    drain(scheduler, datetime(2024, 1, 3, tzinfo=UTC))
    drain(scheduler, datetime(2024, 1, 3, tzinfo=UTC))
    record = ws.store.run(run_id)
    assert record.status == "success" and record.conf == {"note": "by hand"}
    with ws.store.engine.connect() as conn:
        owners = conn.execute(sa.select(schema.runs.c.owner)).scalars().all()
    assert all(o.startswith("scheduler:") for o in owners)


@pytest.mark.slow
def test_a_killed_scheduler_process_leaves_nothing_running_forever(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    mod = unique("killed")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          slow:
            tasks:
              - {{name: first, python: "{mod}:mark"}}
              - {{name: nap, python: "{mod}:nap", depends_on: first}}
        """,
        {
            mod: """
            import time
            from pathlib import Path

            def mark(ctx):
                path = Path(ctx.run.root) / "first.calls"
                path.write_text(str(int(path.read_text()) + 1 if path.exists() else 1))

            def nap(ctx):
                marker = Path(ctx.run.root) / "napping"
                if not marker.exists():
                    marker.write_text("x")
                    time.sleep(60)  # the first scheduler is killed during this
                return "rested"
            """
        },
    )
    ws = Workspace.open(root)
    run_id = ws.trigger("slow")
    command = [sys.executable, "-m", "headwater.cli", "scheduler", "-p", str(root)]
    first = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (root / "napping").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (root / "napping").exists()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert ws.store.run(run_id).status == "running"  # what the dead scheduler left
    # a new scheduler takes it over once the old heartbeat is stale (shortened here)
    second = Workspace.open(root).scheduler(stale_after=1)
    time.sleep(1.5)
    report = second.tick()
    assert report.recovered == [run_id]
    for thread in list(second.running.values()):
        thread.join(timeout=60)
    record = ws.store.run(run_id)
    assert record.status == "success"
    assert statuses(ws, run_id) == {"first": "success", "nap": "success"}
    assert (root / "first.calls").read_text() == "1"  # what had succeeded did not run again


def test_data_aware_triggers_a_new_snapshot_and_new_source_rows(tmp_path: Path) -> None:
    import sqlalchemy as sa

    source = tmp_path / "shop.db"
    engine = sa.create_engine(f"sqlite:///{source}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount REAL)")
        conn.exec_driver_sql("INSERT INTO orders VALUES (1, 5.0), (2, 7.5)")
    mod = unique("aware")
    root = make_project(
        tmp_path / "p",
        f"""
        connections:
          shop: {{type: sql, url: "sqlite:///{source}"}}
        sources:
          shop:
            connection: shop
            namespace: raw
            load: {{strategy: incremental, cursor: id}}
            tables: [orders]
        pipelines:
          load:
            poke: 0
            triggers:
              - new_rows: {{source: shop, table: orders}}
            tasks:
              - ingest: shop
          report:
            poke: 0
            triggers:
              - table_updated: raw.orders
            tasks:
              - {{name: count, python: "{mod}:count"}}
              - {{name: nested, pipeline: child, depends_on: count}}
          child:
            tasks:
              - {{name: hello, python: "{mod}:hello"}}
        """,
        {
            mod: """
            def count(ctx):
                return ctx.params["trigger"]

            def hello(ctx):
                return f"child of {ctx.params.get('trigger')}"
            """
        },
    )
    ws = Workspace.open(root)
    scheduler = ws.scheduler()
    drain(scheduler)  # rows the table does not hold yet: a load starts
    drain(scheduler)  # the load made a snapshot: the report starts
    drain(scheduler)
    loads, reports = ws.runs("load"), ws.runs("report")
    assert [r.status for r in loads] == ["success"] and loads[0].trigger == "event"
    assert [r.status for r in reports] == ["success"]
    assert ws.query("SELECT count(*) AS n FROM raw.orders").to_pylist() == [{"n": 2}]
    nested = {t.task_id: t for t in reports[0].tasks}["nested"]
    child = ws.store.run(nested.value)  # a pipeline step's value is the child run's id
    assert child.pipeline == "child" and child.trigger == "pipeline"
    assert child.tasks[0].value == "child of {'table_updated': 'raw.orders'}"
    drain(scheduler)  # nothing new anywhere: nothing starts
    assert len(ws.runs("load")) == 1 and len(ws.runs("report")) == 1
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO orders VALUES (3, 1.0)")
    for _ in range(3):
        drain(scheduler)
    assert len(ws.runs("load")) == 2 and len(ws.runs("report")) == 2
    assert ws.query("SELECT count(*) AS n FROM raw.orders").to_pylist() == [{"n": 3}]
    engine.dispose()
    ws.close()


def test_max_active_runs_holds_queued_runs_back(tmp_path: Path) -> None:
    mod = unique("one_at_a_time")
    root = make_project(
        tmp_path / "p",
        f"""
        pipelines:
          single:
            max_active_runs: 1
            tasks:
              - {{name: nap, python: "{mod}:nap"}}
        """,
        {mod: "import time\n\ndef nap():\n    time.sleep(0.5)\n"},
    )
    ws = Workspace.open(root)
    first, second = ws.trigger("single"), ws.trigger("single")
    scheduler = ws.scheduler()
    scheduler.tick()
    assert ws.store.run(first).status == "running" and ws.store.run(second).status == "queued"
    drain(scheduler)
    drain(scheduler)
    assert ws.store.run(second).status == "success"
    assert ws.store.run(second).started_at >= ws.store.run(first).ended_at  # type: ignore[operator]


def test_a_run_that_cannot_start_is_failed_not_left_running(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        """
        pipelines:
          build:
            tasks:
              - {shell: "true"}
        """,
    )
    ws = Workspace.open(root)
    run_id = ws.trigger("build")
    # the project changes before a scheduler starts the run: it cannot be planned any more
    (root / "headwater.yaml").write_text(
        (root / "headwater.yaml").read_text().replace('{shell: "true"}', "{models: nope}")
    )
    scheduler = Workspace.open(root).scheduler()
    drain(scheduler)
    record = ws.store.run(run_id)
    assert record.status == "failed"
    assert record.error is not None and record.error.startswith("not started:")
    assert ws.store.active_runs("build") == 0  # the pipeline can run again
