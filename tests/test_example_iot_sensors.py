"""The IoT example (examples/iot_sensors): the simulator's readings, published while the feed
is down, all reach the stream through `headwater stream feed`, each device's in full; the
processor `device_minutes` makes of them the one-minute windows a GROUP BY gives."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from tests import mqtt_support as mq

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "iot_sensors"
DEVICES = 7
READINGS = 350


@pytest.fixture
def project(tmp_path: Path) -> Path:
    mq.require_mosquitto()
    root = tmp_path / "iot_sensors"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".headwater"))
    return root


def test_simulated_readings_reach_the_stream_per_device(project: Path) -> None:
    topic_root = f"hwtest_{uuid.uuid4().hex[:10]}"
    variables = ["--var", f"topic_root={topic_root}", "--var", f"mqtt_port={mq.PORT}"]
    runner = CliRunner()

    # the feed's session first: the broker keeps what is published while the feed is down
    started = runner.invoke(app, ["stream", "feed", "--for", "0", "-p", str(project), *variables])
    assert started.exit_code == 0, started.output

    simulated = subprocess.run(
        [
            sys.executable,
            str(project / "simulate.py"),
            f"--devices={DEVICES}",
            f"--count={READINGS}",
            "--rate=0",
            f"--port={mq.PORT}",
            f"--topic-root={topic_root}",
            "--start=2026-12-07T10:00:00Z",
            "--step-ms=1000",  # 350 readings: about 6 minutes of simulated time
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sent = json.loads(simulated.stdout)
    assert sent["published"] == READINGS

    fed = runner.invoke(
        app,
        [
            *("stream", "feed", "sensors", "--max-messages", str(READINGS), "--for", "60"),
            *("-p", str(project), *variables),
        ],
    )
    assert fed.exit_code == 0, fed.output
    assert f"feed sensors: {READINGS} records into readings" in fed.output

    ws = Workspace.open(project, {"topic_root": topic_root})
    records = mq.read_stream(ws, "readings")
    readings = [json.loads(r.data) for r in records]
    assert Counter(r["device_id"] for r in readings) == Counter(sent["per_device"])
    assert all(r.partition_key == json.loads(r.data)["device_id"] for r in records)
    assert {tuple(sorted(r)) for r in readings} == {
        ("battery", "device_id", "humidity", "temperature", "ts")
    }
    assert len({(r["device_id"], r["ts"]) for r in readings}) == READINGS

    tail = runner.invoke(
        app, ["stream", "tail", "readings", "--limit", "5", "-p", str(project), *variables]
    )
    assert tail.exit_code == 0, tail.output
    assert len(tail.output.splitlines()) == 5
    assert json.loads(tail.output.splitlines()[0])["data"]["device_id"].startswith("dev-")

    minutes = check_device_minutes(project, variables, ws, records, runner)

    delivered = runner.invoke(app, ["stream", "run", "--once", "-p", str(project), *variables])
    assert delivered.exit_code == 0, delivered.output
    in_lake = ws.query(
        "SELECT count(*) AS n, count(DISTINCT (device_id, ts)) AS distinct_n FROM iot.readings"
    ).to_pylist()
    assert in_lake == [{"n": READINGS, "distinct_n": READINGS}]
    table = ws.query(
        "SELECT device_id, strftime(window_start, '%Y-%m-%dT%H:%M:%SZ') AS window_start, "
        "readings, avg_temperature, min_temperature, "
        "max_temperature, avg_humidity, min_battery FROM iot.device_minutes"
    ).to_pylist()
    assert {_rounded(row.values()) for row in table} == minutes and len(table) == len(minutes)
    queried = runner.invoke(
        app,
        [
            *("query", "SELECT sum(readings) AS n FROM iot.device_minutes", "--format", "csv"),
            *("-p", str(project), *variables),
        ],
    )
    assert queried.exit_code == 0 and queried.stdout.splitlines() == ['"n"', str(READINGS)]
    ws.close()


AGGREGATES = """
    count(*), avg(temperature), min(temperature), max(temperature), avg(humidity), min(battery)
"""


def check_device_minutes(
    project: Path, variables: list[str], ws: Workspace, records: list[Any], runner: CliRunner
) -> set[tuple[Any, ...]]:
    """`stream process device_minutes` emits the minutes the watermark closed, each as a
    GROUP BY over the readings gives it; `--flush-windows` the rest; tail shows them."""
    rows = [(r.shard, json.loads(r.data)) for r in records]
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        db.execute(
            "CREATE TABLE r (shard VARCHAR, device_id VARCHAR, ts TIMESTAMPTZ, "
            "temperature DOUBLE, humidity DOUBLE, battery DOUBLE)"
        )
        db.executemany(
            "INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)",
            [
                (s, v["device_id"], v["ts"], v["temperature"], v["humidity"], v["battery"])
                for s, v in rows
            ],
        )
        grouped = db.execute(
            "SELECT device_id, strftime(time_bucket(INTERVAL 1 minute, ts), '%Y-%m-%dT%H:%M:%SZ'), "
            f"{AGGREGATES}, time_bucket(INTERVAL 1 minute, ts) + INTERVAL 1 minute "
            "<= (SELECT max(ts) FROM r AS o WHERE o.shard = r.shard) - INTERVAL 10 second "
            "FROM r GROUP BY device_id, shard, time_bucket(INTERVAL 1 minute, ts)"
        ).fetchall()
    expected = {tuple(_rounded(g[:-1])): g[-1] for g in grouped}
    assert any(expected.values()) and not all(expected.values())

    def windows() -> set[tuple[Any, ...]]:
        out = set()
        for r in mq.read_stream(ws, "device_minutes"):
            w = json.loads(r.data)
            assert r.partition_key == w["device_id"]
            out.add(
                _rounded(
                    [
                        w["device_id"],
                        w["window_start"],
                        w["readings"],
                        w["avg_temperature"],
                        w["min_temperature"],
                        w["max_temperature"],
                        w["avg_humidity"],
                        w["min_battery"],
                    ]
                )
            )
        return out

    processed = runner.invoke(
        app, ["stream", "process", "device_minutes", "--once", "-p", str(project), *variables]
    )
    assert processed.exit_code == 0, processed.output
    assert windows() == {w for w, closed in expected.items() if closed}
    flushed = runner.invoke(
        app,
        [
            *("stream", "process", "device_minutes", "--once", "--flush-windows"),
            *("-p", str(project), *variables),
        ],
    )
    assert flushed.exit_code == 0, flushed.output
    assert windows() == set(expected)
    assert sum(w[2] for w in windows()) == READINGS

    tail = runner.invoke(
        app, ["stream", "tail", "device_minutes", "--limit", "2", "-p", str(project), *variables]
    )
    assert tail.exit_code == 0, tail.output
    assert {"device_id", "window_start", "window_end", "readings", "min_battery"} <= set(
        json.loads(tail.output.splitlines()[0])["data"]
    )
    return windows()


def _rounded(values: Any) -> tuple[Any, ...]:
    return tuple(round(v, 6) if isinstance(v, float) else v for v in values)
