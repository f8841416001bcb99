"""A private NATS or Redis server to kill under a running consumer, and a producer that puts
through the outages (a failed batch is put again whole, with the same ids, which the backend
de-duplicates)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


@dataclass
class Outages:
    """What :func:`kill_twice_under` saw: (acknowledged, consumed) when the broker died, the
    puts the producer had to make again, and the consumer's stderr."""

    kills: list[tuple[int, int]]
    failed_puts: int
    stderr: str


def kill_twice_under(
    broker: Broker, consumer: subprocess.Popen[str], consumed: Callable[[], int]
) -> Outages:
    """A producer puts EVENTS into `events` while ``consumer`` (a `headwater` command) runs;
    the broker is killed at each of KILLS_AT and started again after OUTAGE. Waits until the
    consumer has taken every event (``consumed``), checks that it outlived both outages, and
    stops it with SIGTERM, which must end it cleanly."""
    log = producer_log(broker)
    producer = Producer(log)
    kills: list[tuple[int, int]] = []
    try:
        producer.start()
        for fraction in KILLS_AT:
            deadline = time.monotonic() + 60
            while producer.acked < EVENTS * fraction or consumed() == 0:
                assert producer.is_alive(), producer.error
                assert consumer.poll() is None, consumer.communicate()
                assert time.monotonic() < deadline, "the producer or the consumer stalled"
                time.sleep(0.05)
            broker.kill()
            kills.append((producer.acked, consumed()))
            time.sleep(OUTAGE)
            broker.start()
        producer.join(120)
        assert not producer.is_alive() and producer.error is None, producer.error
        assert producer.acked == EVENTS

        deadline = time.monotonic() + 120
        while (done := consumed()) < EVENTS:  # the consumer catches up
            assert consumer.poll() is None, consumer.communicate()
            assert time.monotonic() < deadline, f"{done:,} of {EVENTS:,} taken"
            time.sleep(0.2)
        assert consumer.poll() is None, consumer.communicate()  # it outlived both outages
        consumer.send_signal(signal.SIGTERM)
        out, err = consumer.communicate(timeout=60)
        assert consumer.returncode == 0, out + err
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.communicate(timeout=30)
        producer.join(120)
        log.close()
    assert len(kills) == len(KILLS_AT)
    assert all(0 < acked < EVENTS and 0 < done < EVENTS for acked, done in kills), kills
    return Outages(kills, producer.failed_puts, err)
