"""The broker under a running delivery killed with SIGKILL and restarted on its data, twice,
while a producer puts 100,000 events: every event is in the table exactly once.

Each backend runs on a private server (tests/private_brokers.py); the shared ones on 4222 and
6379 are never restarted. The producer is an application of its own on the backend, with a
short timeout so that puts fail while the broker is away; it puts a failed batch again with
the same ids, which the backend de-duplicates. The delivery is `headwater stream run`.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import StreamUnavailable
from headwater.streams.log import StreamLog
from headwater.streams.records import Entry
from headwater.workspace import Workspace
from tests.delivery_support import event, make_project, table_ids
from tests.fault_support import cli
from tests.private_brokers import (
    NATS_SERVER,
    REDIS_SERVER,
    PrivateNats,
    PrivateRedis,
    require_binary,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

EVENTS = 100_000
BATCH = 2_000
PAUSE = 0.1  # seconds between batches: the producer is still putting when the broker dies
OUTAGE = 2.0  # seconds the broker stays dead: longer than the producer's put timeout
KILLS_AT = (0.3, 0.65)  # fractions of the events acknowledged when the broker is killed
DELIVERY = {
    "stream": "events",
    "table": "raw.events",
    "buffer": {"seconds": 0.2, "mb": 1},
    "lease_seconds": 3,
}

Broker = PrivateNats | PrivateRedis


@pytest.fixture(params=["nats", "redis"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    server: Broker
    if request.param == "nats":
        require_binary(NATS_SERVER, "nats-server")
        server = PrivateNats(tmp_path / "jetstream")
    else:
        require_binary(REDIS_SERVER, "redis-server")
        server = PrivateRedis(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


def connection(broker: Broker) -> dict[str, Any]:
    if isinstance(broker, PrivateNats):
        return {"type": "nats", "url": broker.url, "dedup_window": "10m"}
    return {"type": "redis", "url": broker.url}


def producer_log(broker: Broker) -> StreamLog:
    """The producer's own client, quick to give up on a put the broker does not answer."""
    if isinstance(broker, PrivateNats):
        from headwater.streams.nats_log import NatsLog

        return NatsLog(broker.url, dedup_window=600, timeout=1.0)
    from headwater.streams.redis_log import RedisLog

    return RedisLog(broker.url, timeout=1.0)


def delivered(root: Path) -> int:
    with Workspace.open(root) as ws:
        return sum(c.records for c in ws.store.checkpoints("delivery:d"))


class Producer(threading.Thread):
    """Puts events 0..EVENTS-1 in batches; a batch that fails, wholly or in part, is put
    again whole with the same ids until every record is acknowledged."""

    def __init__(self, log: StreamLog) -> None:
        super().__init__(name="producer")
        self.log = log
        self.acked = 0
        self.failed_puts = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for start in range(0, EVENTS, BATCH):
                entries = [
                    Entry(json.dumps(event(i)).encode(), partition_key=str(i), id=f"e{i}")
                    for i in range(start, start + BATCH)
                ]
                self._put(entries)
                self.acked += len(entries)
                time.sleep(PAUSE)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _put(self, entries: list[Entry]) -> None:
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the restarted broker never took the puts"
            try:
                if all(p.ok for p in self.log.put("events", entries)):
                    return
            except StreamUnavailable:
                pass
            self.failed_puts += 1
            time.sleep(0.2)


def test_broker_killed_twice_under_a_running_delivery_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    root = make_project(tmp_path / "p", {"d": DELIVERY}, shards=4, connection=connection(broker))
    with Workspace.open(root) as ws:
        ws.streams.describe("events")  # created as declared, before either side starts
    log = producer_log(broker)
    producer = Producer(log)
    delivery = cli(root, "stream", "run", "d")
    kills: list[tuple[int, int]] = []  # (acknowledged, delivered) when the broker died
    try:
        producer.start()
        for fraction in KILLS_AT:
            deadline = time.monotonic() + 60
            while producer.acked < EVENTS * fraction or delivered(root) == 0:
                assert producer.is_alive(), producer.error
                assert delivery.poll() is None, delivery.communicate()
                assert time.monotonic() < deadline, "the producer or the delivery stalled"
                time.sleep(0.05)
            broker.kill()
            kills.append((producer.acked, delivered(root)))
            time.sleep(OUTAGE)
            broker.start()
        producer.join(120)
        assert not producer.is_alive() and producer.error is None, producer.error
        assert producer.acked == EVENTS

        deadline = time.monotonic() + 120
        while (done := delivered(root)) < EVENTS:  # the delivery catches up
            assert delivery.poll() is None, delivery.communicate()
            assert time.monotonic() < deadline, f"{done:,} of {EVENTS:,} delivered"
            time.sleep(0.2)
        assert delivery.poll() is None, delivery.communicate()  # it outlived both outages
        delivery.send_signal(signal.SIGTERM)
        out, err = delivery.communicate(timeout=60)
        assert delivery.returncode == 0, out + err
    finally:
        if delivery.poll() is None:
            delivery.kill()
            delivery.communicate(timeout=30)
        producer.join(120)
        log.close()

    assert len(kills) == len(KILLS_AT)
    assert all(0 < acked < EVENTS and 0 < done < EVENTS for acked, done in kills), kills
    assert producer.failed_puts > 0  # the outages outlasted a put: batches were put again
    with Workspace.open(root) as ws:
        ids = table_ids(ws, "raw.events")
    assert len(set(ids)) == EVENTS  # 0 lost
    assert len(ids) == EVENTS  # 0 duplicated
