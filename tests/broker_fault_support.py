"""A private NATS or Redis server to kill under a running consumer, and a producer that puts
through the outages (a failed batch is put again whole, with the same ids, which the backend
de-duplicates)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import StreamUnavailable
from headwater.streams.log import StreamLog
from headwater.streams.records import Entry
from tests.delivery_support import event
from tests.private_brokers import (
    NATS_SERVER,
    REDIS_SERVER,
    PrivateNats,
    PrivateRedis,
    require_binary,
)

EVENTS = 100_000
BATCH = 2_000
PAUSE = 0.1  # seconds between batches: the producer is still putting when the broker dies
OUTAGE = 2.0  # seconds the broker stays dead: longer than the producer's put timeout
KILLS_AT = (0.3, 0.65)  # fractions of the events acknowledged when the broker is killed

Broker = PrivateNats | PrivateRedis


@pytest.fixture(params=["nats", "redis"], name="broker")
def private_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
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
