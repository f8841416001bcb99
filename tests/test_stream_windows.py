"""Windowed processors: tumbling windows per key compared with a DuckDB GROUP BY over the same
input, late records in the error stream, each window once across a stop in the middle and
across kill -9, keys spread over several shards, and the config's errors."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headwater.cli import app
from headwater.errors import HeadwaterError, ProjectError
from headwater.streams.processor_report import ProcessorReport
from headwater.streams.records import Entry
from headwater.workspace import Workspace
from tests.processor_support import make_project, put_json, read_all, values

CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
START_S = 1_796_637_600  # 2026-12-07T10:00:00Z
LATENESS_S = 10

PROJECT = f"""
streams:
  readings: {{shards: 3}}
  minutes: {{shards: 2}}
processors:
  dm:
    stream: readings
    window: {{size: 1m, by: [device_id], time: ts, lateness: {LATENESS_S}s}}
    aggregate:
      - count(*) AS readings
      - avg(temperature) AS avg_temperature
      - min(temperature) AS min_temperature
      - max(temperature) AS max_temperature
      - min(battery) AS min_battery
    to: minutes
    batch_records: 97
    lease_ttl: 2
"""

AGGREGATES = (
    "count(*) AS readings, avg(temperature) AS avg_temperature, "
    "min(temperature) AS min_temperature, max(temperature) AS max_temperature, "
    "min(battery) AS min_battery"
)


def readings(count: int, devices: int = 6, seed: int = 7) -> list[dict[str, Any]]:
    """Readings of ``devices`` devices, a few seconds apart, out of order by less than the
    lateness (so none is late); times as epoch seconds, milliseconds or ISO text in turn."""
    rng = random.Random(seed)
    out = []
    clock = START_S * 1000
    for i in range(count):
        clock += rng.randint(0, 1500)
        millis = clock - rng.randint(0, (LATENESS_S - 1) * 1000)
        form = i % 3
        ts: Any = (
            millis / 1000
            if form == 0
            else millis
            if form == 1
            else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000))
            + f".{millis % 1000:03d}Z"
        )
        out.append(
            {
                "id": i,
                "device_id": f"dev-{rng.randrange(devices):02d}",
                "ts": ts,
                "ms": millis,
                "temperature": round(rng.uniform(15, 30), 2),
                "battery": round(100 - i * 0.001, 3),
            }
        )
    return out


def expected_windows(rows: list[dict[str, Any]], closed_before: dict[str, int] | None) -> set:
    """What a GROUP BY gives: per device and minute (only windows ending at or before
    ``closed_before[device]`` ms, when given)."""
    columns = {
        "device_id": pa.array([r["device_id"] for r in rows], pa.string()),
        "ms": pa.array([r["ms"] for r in rows], pa.int64()),
        "temperature": pa.array([r["temperature"] for r in rows], pa.float64()),
        "battery": pa.array([r["battery"] for r in rows], pa.float64()),
    }
    with duckdb.connect() as db:
        db.register("r", pa.table(columns))  # not executemany: a row at a time is slow
        found = db.execute(
            f"SELECT device_id, ms // 60000 * 60000 AS start, {AGGREGATES} FROM r GROUP BY ALL"
        ).fetchall()
    return {
        _window(w) for w in found if closed_before is None or w[1] + 60_000 <= closed_before[w[0]]
    }


def _window(row: tuple[Any, ...]) -> tuple[Any, ...]:
    device, start, count, avg, low, high, battery = row
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start // 1000))
    return (device, iso, count, round(avg, 6), low, high, battery)


def emitted(ws: Workspace) -> list[tuple[Any, ...]]:
    out = []
    for w in values(ws.streams, "minutes"):
        start = time.strptime(w["window_start"], "%Y-%m-%dT%H:%M:%SZ")
        end = time.strptime(w["window_end"], "%Y-%m-%dT%H:%M:%SZ")
        assert time.mktime(end) - time.mktime(start) == 60
        out.append(
            (
                w["device_id"],
                w["window_start"],
                w["readings"],
                round(w["avg_temperature"], 6),
                w["min_temperature"],
                w["max_temperature"],
                w["min_battery"],
            )
        )
    return out


def put_readings(ws: Workspace, rows: list[dict[str, Any]]) -> None:
    put_json(
        ws.streams,
        "readings",
        [{k: v for k, v in r.items() if k != "ms"} for r in rows],
        "device_id",
    )


def watermarks(ws: Workspace, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Each device's shard's watermark (ms) once every reading is read."""
    shard_of = {json.loads(r.data)["device_id"]: r.shard for r in read_all(ws.streams, "readings")}
    newest: dict[str, int] = {}
    for r in rows:
        shard = shard_of[r["device_id"]]
        newest[shard] = max(newest.get(shard, 0), r["ms"])
    return {d: newest[s] - LATENESS_S * 1000 for d, s in shard_of.items()}


@pytest.mark.slow
def test_windows_per_key_match_a_group_by_and_flush_emits_the_rest(tmp_path: Path) -> None:
    ws = make_project(tmp_path, PROJECT)
    rows = readings(3000)
    put_readings(ws, rows)

    report = ws.run_processor("dm", once=True)
    closed = emitted(ws)
    assert len(closed) == len(set(closed))
    assert set(closed) == expected_windows(rows, watermarks(ws, rows))
    assert report.records_in == 3000 and report.errors == 0 and report.late == 0
    assert report.outputs == {"minutes": len(closed)}

    # the open windows stay open across --once runs; --flush-windows emits them
    ws.run_processor("dm", once=True)
    assert len(emitted(ws)) == len(closed)
    ws.run_processor("dm", once=True, flush_windows=True)
    everything = emitted(ws)
    assert len(everything) == len(set(everything))
    assert set(everything) == expected_windows(rows, None)
    assert sum(w[2] for w in everything) == 3000


def test_a_window_record_is_keyed_by_device_and_routed(tmp_path: Path) -> None:
    ws = make_project(
        tmp_path,
        PROJECT.replace(
            "    to: minutes\n",
            "    routes:\n      - when: max_temperature >= 29\n        to: hot\n      - to: minutes\n",
        ).replace("  minutes: {shards: 2}\n", "  minutes: {shards: 2}\n  hot: {}\n"),
    )
    rows = readings(1500)
    put_readings(ws, rows)
    ws.run_processor("dm", once=True, flush_windows=True)
    hot = read_all(ws.streams, "hot")
    rest = read_all(ws.streams, "minutes")
    assert hot and rest
    assert all(json.loads(r.data)["max_temperature"] >= 29 for r in hot)
    assert all(json.loads(r.data)["max_temperature"] < 29 for r in rest)
    assert all(r.partition_key == json.loads(r.data)["device_id"] for r in hot + rest)
    assert len(hot) + len(rest) == len(expected_windows(rows, None))


def test_late_records_go_to_the_error_stream_with_the_record(tmp_path: Path) -> None:
    ws = make_project(tmp_path, PROJECT.replace("shards: 3", "shards: 1"))
    rows = readings(600, devices=2)
    late = [
        {"id": "late-1", "device_id": "dev-00", "ts": START_S, "temperature": 99.0, "battery": 1},
        {
            "id": "late-2",
            "device_id": "dev-01",
            "ts": START_S + 5,
            "temperature": 99.0,
            "battery": 1,
        },
    ]
    bad = {"id": "bad", "device_id": "dev-00", "ts": "yesterday", "temperature": 1, "battery": 1}
    put_readings(ws, rows)
    put_json(ws.streams, "readings", [*late, bad], "device_id")

    report = ws.run_processor("dm", once=True, flush_windows=True)
    assert report.late == 2 and report.errors == 3
    errors = values(ws.streams, "dm__errors")
    by_type = {json.loads(e["raw"])["id"]: e for e in errors}
    assert {k: e["error_type"] for k, e in by_type.items()} == {
        "late-1": "LateRecord",
        "late-2": "LateRecord",
        "bad": "BadEventTime",
    }
    assert (
        "is in window [2026-12-07T10:00:00Z, 2026-12-07T10:01:00Z), closed"
        in (by_type["late-1"]["error_message"])
    )
    assert (
        "`yesterday`" in by_type["bad"]["error_message"]
        or "'yesterday'" in (by_type["bad"]["error_message"])
    )
    # the late readings are in no window
    assert set(emitted(ws)) == expected_windows(rows, None)


@pytest.mark.slow
def test_a_stop_in_the_middle_then_a_restart_emits_each_window_once(tmp_path: Path) -> None:
    rows = readings(6000)
    uninterrupted = make_project(tmp_path / "a", PROJECT)
    put_readings(uninterrupted, rows)
    uninterrupted.run_processor("dm", once=True, flush_windows=True)

    ws = make_project(tmp_path / "b", PROJECT)
    put_readings(ws, rows)
    stop = threading.Event()

    def partway(reports: list[ProcessorReport]) -> None:
        if reports[0].records_in >= 2500:
            stop.set()

    [first] = ws.run_processors(["dm"], stop=stop, progress=partway)
    assert 2500 <= first.records_in < 6000
    emitted_first = emitted(ws)
    assert emitted_first  # some windows closed before the stop
    # checkpoints lie before the open windows: the restart reads their records again
    second = ws.run_processor("dm", once=True, flush_windows=True)
    assert first.records_in + second.records_in > 6000
    windows = emitted(ws)
    assert len(windows) == len(set(windows))  # the replay's windows were dropped as duplicates
    assert sorted(windows) == sorted(emitted(uninterrupted))
    assert set(windows) == expected_windows(rows, None)
    ids = {r.data for r in read_all(ws.streams, "minutes")}
    assert len(ids) == len(windows)


def test_keys_spread_over_shards_make_a_window_record_per_shard(tmp_path: Path) -> None:
    ws = make_project(tmp_path, PROJECT)
    rows = readings(2000, devices=2)
    # keyed by the reading's id, not the device: both devices' readings land in every shard
    results = ws.streams.put(
        "readings",
        [
            Entry(json.dumps({k: v for k, v in r.items() if k != "ms"}).encode(), str(r["id"]))
            for r in rows
        ],
    )
    assert all(r.ok for r in results)
    shards_of = {}
    for record in read_all(ws.streams, "readings"):
        shards_of.setdefault(json.loads(record.data)["device_id"], set()).add(record.shard)
    assert all(len(s) == 3 for s in shards_of.values())

    ws.run_processor("dm", once=True, flush_windows=True)
    windows = emitted(ws)
    total: dict[tuple[str, str], int] = {}
    for device, start, count, *_ in windows:
        total[(device, start)] = total.get((device, start), 0) + count
    expected = {(w[0], w[1]): w[2] for w in expected_windows(rows, None)}
    assert total == expected  # every reading counted once, over the shards' windows
    assert len(windows) > len(expected)  # a window per shard that had the key's readings
    highs = {}
    for device, start, _, _, _, high, _ in windows:
        highs[(device, start)] = max(highs.get((device, start), 0), high)
    assert highs == {(w[0], w[1]): w[5] for w in expected_windows(rows, None)}


def test_aggregates_over_a_missing_field_become_a_window_error(tmp_path: Path) -> None:
    ws = make_project(
        tmp_path, PROJECT.replace("min(battery) AS min_battery", "max(pressure) AS max_pressure")
    )
    put_readings(ws, readings(200, devices=1))
    report = ws.run_processor("dm", once=True, flush_windows=True)
    assert values(ws.streams, "minutes") == []
    errors = values(ws.streams, "dm__errors")
    assert errors and {e["error_type"] for e in errors} == {"WindowFailed"}
    assert "pressure" in errors[0]["error_message"]
    assert sum(e["records"] for e in errors) == 200
    assert report.errors == len(errors)


@pytest.mark.parametrize(
    ("window", "aggregate", "message"),
    [
        ("{size: 1x}", '["count(*) AS n"]', r"`1x` is not a duration"),
        ("{size: 0s}", '["count(*) AS n"]', r"a window of `0s` is empty"),
        ("{size: 1m, lateness: soon}", '["count(*) AS n"]', r"`soon` is not a duration"),
        ("{size: 1m}", '["avg(t)"]', r"needs an alias naming its field"),
        ("{size: 1m}", '["t AS t"]', r"`t AS t` is not an aggregate"),
        ("{size: 1m}", '["max(t) + h AS x"]', r"`h` is outside every aggregate"),
        ("{size: 1m}", '["sum(t) OVER () AS s"]', r"a window function \(OVER\)"),
        ("{size: 1m, by: [d]}", '["count(*) AS d"]', r"the alias `d` is taken"),
        ("{size: 1m, by: [window_start]}", '["count(*) AS n"]', r"every window record has"),
        ("{size: 1m}", "[]", r"a `window:` needs `aggregate:`"),
    ],
)
def test_window_config_errors(tmp_path: Path, window: str, aggregate: str, message: str) -> None:
    body = f"""
    streams: {{a: {{}}, b: {{}}}}
    processors:
      w: {{stream: a, to: b, window: {window}, aggregate: {aggregate}}}
    """
    with pytest.raises(ProjectError, match=message):
        make_project(tmp_path, body)


def test_a_window_with_a_transform_or_aggregates_without_window_are_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(ProjectError, match=r"leave out `python:`/`sql:`"):
        make_project(
            tmp_path / "a",
            """
            streams: {a: {}, b: {}}
            processors:
              w: {stream: a, to: b, sql: SELECT * FROM records, window: {size: 1m},
                  aggregate: ["count(*) AS n"]}
            """,
        )
    with pytest.raises(ProjectError, match=r"`aggregate:` needs `window:"):
        make_project(
            tmp_path / "b",
            """
            streams: {a: {}, b: {}}
            processors:
              w: {stream: a, to: b, aggregate: ["count(*) AS n"]}
            """,
        )


def test_flushing_windows_needs_once(tmp_path: Path) -> None:
    ws = make_project(tmp_path, PROJECT)
    with pytest.raises(HeadwaterError, match=r"flushing windows needs once"):
        ws.run_processor("dm", flush_windows=True)
    result = CliRunner().invoke(
        app, ["stream", "process", "--flush-windows", "--project", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "--flush-windows needs --once" in result.output


@pytest.mark.slow
@pytest.mark.faults
def test_kill_9_then_restart_gives_what_an_uninterrupted_run_gives(tmp_path: Path) -> None:
    rows = readings(40_000, devices=20, seed=11)
    uninterrupted = make_project(tmp_path / "a", PROJECT)
    put_readings(uninterrupted, rows)
    uninterrupted.run_processor("dm", once=True, flush_windows=True)
    reference = emitted(uninterrupted)

    root = tmp_path / "b"
    ws = make_project(root, PROJECT)
    put_readings(ws, rows)
    worker = subprocess.Popen(
        [*CLI, "stream", "process", "dm", "--project", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not read_all(ws.streams, "minutes"):
            assert time.monotonic() < deadline, "no window was emitted"
            time.sleep(0.05)
        time.sleep(random.uniform(0.0, 1.0))
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.communicate()
    assert len(emitted(ws)) < len(reference)  # it was killed in the middle
    time.sleep(2.5)  # its leases expire (lease_ttl: 2)
    result = subprocess.run(
        [*CLI, "stream", "process", "--once", "--flush-windows", "--project", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    windows = emitted(ws)
    assert len(windows) == len(set(windows))
    assert sorted(windows) == sorted(reference)
    assert set(windows) == expected_windows(rows, None)
