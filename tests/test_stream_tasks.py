"""Deliveries, processors and feeds as pipeline tasks (``deliver:``, ``process:``, ``feed:``)
and as long-running workers beside the scheduler, on the embedded log."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from headwater import Workspace
from headwater.errors import ProjectFileError
from headwater.streams.delivery import DeliveryWorker
from tests.delivery_support import event, put_events, table_ids
from tests.orchestration_support import make_project, statuses, unique

STREAMS = """
streams:
  events: {shards: 2}
  usa: {}
  international: {}
deliveries:
  to_lake:
    stream: events
    table: raw.events
    buffer: {seconds: 900, mb: 128}
"""


def wait_until(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.05)


def model(root: Path, name: str, sql: str) -> None:
    namespace, table = name.split(".")
    path = root / "models" / namespace / f"{table}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(sql))


def delivered(ws: Workspace, delivery: str) -> int:
    """Records whose positions the delivery committed, over every shard."""
    return sum(row.delivered for row in ws.stream_lag(f"delivery:{delivery}"))


def test_put_deliver_model_check_in_one_pipeline(tmp_path: Path) -> None:
    producer = unique("produce")
    root = make_project(
        tmp_path / "p",
        STREAMS
        + f"""
pipelines:
  lake:
    tasks:
      - python: "{producer}:put"
      - deliver: to_lake
        depends_on: [put]
      - models: [gold.by_country]
      - check: gold.by_country
        depends_on: [models_gold.by_country]
""",
        {
            producer: """
            import json
            from headwater import Workspace
            from headwater.streams.records import Entry

            def put(ctx):
                with Workspace.open(ctx.run.root) as ws:
                    events = [
                        {"id": i, "country": "USA" if i % 3 == 0 else "France", "amount": i}
                        for i in range(600)
                    ]
                    ws.streams.put(
                        "events", [Entry(json.dumps(e).encode(), str(e["id"])) for e in events]
                    )
                return len(events)
            """
        },
    )
    model(
        root,
        "gold.by_country",
        """
        SELECT country, count(*) AS events, count(DISTINCT id) AS ids, sum(amount) AS amount
        FROM raw.events GROUP BY country
        """,
    )
    (root / "checks").mkdir()
    (root / "checks" / "gold.yaml").write_text(
        "gold.by_country:\n  - not_null: country\n  - unique: country\n"
    )
    with Workspace.open(root) as ws:
        dag = ws.plan("lake")
        # the model reads the delivery's table: it waits for the delivery, as for a load
        assert dag.tasks["gold.by_country"].depends_on == {"deliver_to_lake"}
        assert dag.tasks["deliver_to_lake"].target == "raw.events"
        record = ws.run("lake")
        assert statuses(ws, record.run_id) == {
            "put": "success",
            "deliver_to_lake": "success",
            "gold.by_country": "success",
            "check_gold_by_country": "success",
        }
        task = next(t for t in record.tasks if t.task_id == "deliver_to_lake")
        assert task.rows == 600
        assert task.value == {"records_in": 600, "records_out": 600, "errors": 0}
        assert sorted(table_ids(ws, "raw.events")) == list(range(600))
        rows = ws.query("SELECT * FROM gold.by_country ORDER BY country").to_pylist()
        assert rows == [
            {
                "country": "France",
                "events": 400,
                "ids": 400,
                "amount": sum(i for i in range(600) if i % 3),
            },
            {
                "country": "USA",
                "events": 200,
                "ids": 200,
                "amount": sum(range(0, 600, 3)),
            },
        ]
        # run again: the 600 events put by this run are delivered, the first 600 not again
        again = ws.run("lake")
        task = next(t for t in again.tasks if t.task_id == "deliver_to_lake")
        assert task.rows == 600
        assert sorted(table_ids(ws, "raw.events")) == sorted(list(range(600)) * 2)
        assert delivered(ws, "to_lake") == 1200


def test_a_processor_step_then_a_delivery_step(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        """
streams:
  events: {shards: 2}
  usa: {}
  international: {}
processors:
  route:
    stream: events
    sql: SELECT *, amount * 2 AS doubled FROM records
    routes:
      - {when: "country = 'USA'", to: usa}
      - to: international
deliveries:
  usa_lake: {stream: usa, table: raw.usa}
pipelines:
  etl:
    tasks:
      - deliver: usa_lake
      - process: route
""",
    )
    with Workspace.open(root) as ws:
        # the delivery reads what the processor writes: it waits for it, whatever the order
        assert ws.plan("etl").tasks["deliver_usa_lake"].depends_on == {"process_route"}
        put_events(ws, (event(i) for i in range(300)))
        record = ws.run("etl")
        tasks = {t.task_id: t for t in record.tasks}
        assert tasks["process_route"].value == {
            "records_in": 300,
            "records_out": 300,
            "errors": 0,
        }
        assert tasks["process_route"].details["outputs"] == {"usa": 100, "international": 200}
        assert tasks["deliver_usa_lake"].rows == 100
        assert sorted(table_ids(ws, "raw.usa")) == list(range(0, 300, 3))
        doubled = ws.query("SELECT id, doubled FROM raw.usa").to_pylist()
        assert all(row["doubled"] == row["id"] for row in doubled)  # amount is id × 0.5


def test_a_stream_step_names_a_declared_item(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        STREAMS + "pipelines:\n  lake:\n    tasks:\n      - deliver: to_lakes\n",
    )
    with pytest.raises(ProjectFileError, match=r"delivery `to_lakes` is not defined.*to_lake"):
        Workspace.open(root)
    (root / "headwater.yaml").write_text(
        "name: p\n" + STREAMS + "pipelines:\n  lake:\n    tasks:\n      - process: etl\n"
    )
    with pytest.raises(ProjectFileError, match=r"processor `etl` is not defined"):
        Workspace.open(root)
    (root / "headwater.yaml").write_text(
        "name: p\n" + STREAMS + "pipelines:\n  lake:\n    tasks:\n      - feed: sensors\n"
    )
    with pytest.raises(ProjectFileError, match=r"feed `sensors` is not defined"):
        Workspace.open(root)


def test_a_cancelled_run_stops_a_delivery_task_gracefully(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(
        tmp_path / "p", STREAMS + "pipelines:\n  lake:\n    tasks:\n      - deliver: to_lake\n"
    )
    reading = threading.Event()
    real = DeliveryWorker.read_round

    def never_caught_up(self: DeliveryWorker) -> tuple[int, bool]:
        # a stream that never runs dry: the task goes on until it is stopped
        read, _ = real(self)
        reading.set()
        return read, False

    monkeypatch.setattr(DeliveryWorker, "read_round", never_caught_up)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(5000)))
        done: list[object] = []
        runner = threading.Thread(target=lambda: done.append(_run(ws, "lake")))
        runner.start()
        assert reading.wait(60)
        wait_until(lambda: bool(ws.runs("lake")) and ws.runs("lake")[0].status == "running")
        ws.cancel(ws.runs("lake")[0].run_id)
        runner.join(120)
        assert not runner.is_alive()
        record = ws.runs("lake")[0]
        assert record.status == "cancelled"
        # the buffer (900 s, 128 MB: never flushed by its hints) was flushed and committed
        # with its positions when the task was asked to stop, and the shards were given back
        ids = table_ids(ws, "raw.events")
        assert sorted(ids) == list(range(5000))
        assert delivered(ws, "to_lake") == len(ids)
        shards = ws.streams.shards("events")
        taken = ws.store.claim_shards("delivery:to_lake", "events", shards, "another", 30)
        assert sorted(taken) == sorted(shards)  # given back: another worker takes them at once


def _run(ws: Workspace, pipeline: str) -> object:
    from headwater.errors import RunFailed

    try:
        return ws.run(pipeline)
    except RunFailed as exc:
        return exc


ROUTED = """
streams:
  events: {shards: 2}
  usa: {}
  international: {}
processors:
  route:
    stream: events
    python: route.py:route
    routes:
      - {when: "country = 'USA'", to: usa}
      - to: international
deliveries:
  to_lake:
    stream: events
    table: raw.events
    buffer: {seconds: 900, mb: 128}
  usa_lake: {stream: usa, table: raw.usa, buffer: {seconds: 0}}
"""

ROUTE = "def route(record):\n    return {**record, 'routed': True}\n"


def test_the_scheduler_runs_every_stream_and_stops_them_gracefully(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", ROUTED)
    (root / "route.py").write_text(ROUTE)
    events: list[str] = []
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(500)))
        daemon = ws.scheduler(streams=True, heartbeat=0.5, on_event=events.append)
        thread = threading.Thread(target=daemon.serve, kwargs={"tick": 0.1})
        thread.start()
        try:
            assert daemon.streams is not None
            wait_until(lambda: len(daemon.streams.alive()) == 3)  # type: ignore[union-attr]
            put_events(ws, (event(i) for i in range(500, 1000)))  # while it runs
            usa = [i for i in range(1000) if i % 3 == 0]
            # routed by the processor, then delivered by the other delivery as it goes
            wait_until(lambda: "raw.usa" in ws.lake.tables() and delivered(ws, "usa_lake") == 334)
        finally:
            daemon.stop()
            thread.join(120)
        assert not thread.is_alive() and not daemon.streams.alive()
        # to_lake never reached its hints (900 s, 128 MB): stopping flushed and committed it
        assert sorted(table_ids(ws, "raw.events")) == list(range(1000))
        assert delivered(ws, "to_lake") == 1000
        assert sorted(table_ids(ws, "raw.usa")) == usa
        assert ws.query("SELECT bool_and(routed) AS r FROM raw.usa").to_pylist() == [{"r": True}]
    assert any("running delivery `to_lake`" in e for e in events)


def test_a_failed_stream_worker_is_restarted_with_backoff(tmp_path: Path) -> None:
    from headwater.orchestrate.stream_workers import StreamWorkers

    root = make_project(tmp_path / "p", ROUTED)  # route.py is missing: the processor fails
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(90)))
        events: list[str] = []
        workers = StreamWorkers(ws.scope, events.append, first_wait=0.05, max_wait=0.2)
        workers.start()
        try:
            [route] = [w for w in workers.workers if w.name == "route"]
            wait_until(lambda: route.failures >= 2)
            assert route.last_error is not None and "route.py" in route.last_error
            (root / "route.py").write_text(ROUTE)  # fixed: the next restart processes
            wait_until(lambda: "raw.usa" in ws.lake.tables() and delivered(ws, "usa_lake") == 30)
        finally:
            workers.stop()
        assert not workers.alive()
        assert sorted(table_ids(ws, "raw.usa")) == list(range(0, 90, 3))
        assert sorted(table_ids(ws, "raw.events")) == list(range(90))
    assert any("processor `route` failed" in e and "restarting it in" in e for e in events)


def test_a_feed_step_takes_what_the_broker_kept_then_a_delivery_lands_it(tmp_path: Path) -> None:
    import json

    import yaml

    from tests import mqtt_support as mq

    mq.require_mosquitto()
    prefix = mq.fresh_prefix()
    root = mq.write_project(tmp_path / "p", {"sensors": {"topics": [f"{prefix}/#"]}})
    config = json.loads((root / "headwater.yaml").read_text())
    config["deliveries"] = {"readings_lake": {"stream": "readings", "table": "raw.readings"}}
    config["pipelines"] = {
        "iot": {"tasks": [{"feed": "sensors", "idle": "1s"}, {"deliver": "readings_lake"}]}
    }
    (root / "headwater.yaml").write_text(yaml.safe_dump(config))
    with Workspace.open(root) as ws:
        assert ws.plan("iot").tasks["deliver_readings_lake"].depends_on == {"feed_sensors"}
        ws.run_feed("sensors", seconds=0)  # the session: the broker keeps what comes next
        mq.publish_all([(f"{prefix}/d{i % 5}", json.dumps({"id": i})) for i in range(50)])
        record = ws.run("iot")
        tasks = {t.task_id: t for t in record.tasks}
        assert tasks["feed_sensors"].value == {"records_in": 50, "records_out": 50, "errors": 0}
        assert tasks["deliver_readings_lake"].rows == 50
        assert sorted(table_ids(ws, "raw.readings")) == list(range(50))


def test_streams_under_the_scheduler_need_it_to_keep_running(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from headwater.cli import app

    root = make_project(tmp_path / "p", STREAMS)
    result = CliRunner().invoke(app, ["scheduler", "--once", "--streams", "-p", str(root)])
    assert result.exit_code == 1
    assert "--streams runs the streams for as long as the scheduler runs" in result.output
