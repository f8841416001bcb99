"""The IoT example (examples/iot_sensors): the simulator's readings, published while the feed
is down, all reach the stream through `headwater stream feed`, each device's in full."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

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
