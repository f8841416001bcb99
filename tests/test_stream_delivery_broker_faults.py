"""The broker under a running delivery killed with SIGKILL and restarted on its data, twice,
while a producer puts 100,000 events: every event is in the table exactly once.

Each backend runs on a private server (tests/private_brokers.py); the shared ones on 4222 and
6379 are never restarted. The producer is an application of its own on the backend, with a
short timeout so that puts fail while the broker is away; it puts a failed batch again with
the same ids, which the backend de-duplicates. The delivery is `headwater stream run`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.workspace import Workspace
from tests.broker_fault_support import (  # noqa: F401 (private_broker: the `broker` fixture)
    EVENTS,
    Broker,
    connection,
    kill_twice_under,
    private_broker,
)
from tests.delivery_support import make_project, table_ids
from tests.fault_support import cli

pytestmark = [pytest.mark.faults, pytest.mark.slow]

DELIVERY = {
    "stream": "events",
    "table": "raw.events",
    "buffer": {"seconds": 0.2, "mb": 1},
    "lease_seconds": 3,
}


def delivered(root: Path) -> int:
    with Workspace.open(root) as ws:
        return sum(c.records for c in ws.store.checkpoints("delivery:d"))


def test_broker_killed_twice_under_a_running_delivery_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    root = make_project(tmp_path / "p", {"d": DELIVERY}, shards=4, connection=connection(broker))
    with Workspace.open(root) as ws:
        ws.streams.describe("events")  # created as declared, before either side starts
    outages = kill_twice_under(broker, cli(root, "stream", "run", "d"), lambda: delivered(root))
    assert outages.failed_puts > 0  # the outages outlasted a put: batches were put again
    with Workspace.open(root) as ws:
        ids = table_ids(ws, "raw.events")
    assert len(set(ids)) == EVENTS  # 0 lost
    assert len(ids) == EVENTS  # 0 duplicated
