"""The broker under a running processor killed with SIGKILL and restarted on its data, twice,
while a producer puts 100,000 events: `headwater stream process` waits the outages out and
routes every event exactly once.

The input and both outputs live on a private server (tests/private_brokers.py); the shared
ones on 4222 and 6379 are never restarted. A batch whose outputs the broker did not take is
read again from the checkpoint once the broker is back; the outputs it put already carry the
same ids the second time, which the backend drops.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from headwater.workspace import Workspace
from tests.broker_fault_support import (  # noqa: F401 (private_broker: the `broker` fixture)
    EVENTS,
    Broker,
    connection,
    kill_twice_under,
    private_broker,
)
from tests.fault_support import cli
from tests.processor_support import read_all

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def make_project(root: Path, broker: Broker) -> Path:
    on_broker = {"connection": "broker"}
    config = {
        "name": "outage",
        "connections": {"broker": connection(broker)},
        "streams": {
            "events": {"shards": 4, **on_broker},
            "usa": {"shards": 2, **on_broker},
            "other": on_broker,
        },
        "processors": {
            "etl": {
                "stream": "events",
                "sql": "SELECT id, country, amount * 2 AS doubled FROM records",
                "routes": [{"when": "country = 'USA'", "to": "usa"}, {"to": "other"}],
                "lease_ttl": 3,
                "batch_records": 2000,
            }
        },
    }
    root.mkdir(parents=True)
    (root / "headwater.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def processed(root: Path) -> int:
    with Workspace.open(root) as ws:
        return sum(c.records for c in ws.store.checkpoints("processor:etl"))


def test_broker_killed_twice_under_a_running_processor_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    root = make_project(tmp_path / "p", broker)
    with Workspace.open(root) as ws:
        for stream in ("events", "usa", "other"):
            ws.streams.describe(stream)  # created as declared, before either side starts
    outages = kill_twice_under(
        broker, cli(root, "stream", "process", "etl"), lambda: processed(root)
    )
    if connection(broker)["type"] == "redis":  # nats-py rides out a short outage by itself
        assert "trying again in" in outages.stderr  # the processor saw the outages, and waited
    found: Counter[int] = Counter()
    with Workspace.open(root) as ws:
        for stream in ("usa", "other"):
            for record in read_all(ws.streams, stream):
                value = json.loads(record.data)
                assert (value["country"] == "USA") == (stream == "usa")
                assert value["doubled"] == value["id"] * 1.0  # amount is id × 0.5
                found[value["id"]] += 1
    assert set(found) == set(range(EVENTS))  # 0 lost
    assert sum(found.values()) == EVENTS  # 0 duplicated
