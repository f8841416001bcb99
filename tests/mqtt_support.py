"""MQTT for tests: the shared Mosquitto on 127.0.0.1:1883, a private one a test may restart,
a publisher that waits for the broker's acknowledgement of every message, and projects with
a feed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests import services

HOST = os.environ.get("HEADWATER_TEST_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("HEADWATER_TEST_MQTT_PORT", "1883"))
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def require_mosquitto(port: int = PORT) -> None:
    services.require_service("Mosquitto (MQTT)", HOST, port)


def fresh_prefix() -> str:
    """A topic prefix no other test publishes under."""
    return f"hwtest/{uuid.uuid4().hex[:12]}"


def write_project(root: Path, feeds: dict[str, dict[str, Any]], port: int = PORT) -> Path:
    """A project with an mqtt connection `broker` and ``feeds`` (each: its settings)."""
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "name": f"mqtt_{uuid.uuid4().hex[:8]}",
        "connections": {"broker": {"type": "mqtt", "host": HOST, "port": port}},
        "streams": {},
        "feeds": {},
    }
    for name, settings in feeds.items():
        stream = settings.get("stream", "readings")
        config["streams"][stream] = {"shards": 2}
        config["feeds"][name] = {
            "connection": "broker",
            "stream": stream,
            "session_expiry": "10m",  # the shared broker forgets the test's session soon
            **settings,
        }
    (root / "headwater.yaml").write_text(json.dumps(config, indent=2))
    return root


class Publisher:
    """A QoS 1 publisher (paho, MQTT v5) that resends across broker restarts."""

    def __init__(self, port: int = PORT) -> None:
        import paho.mqtt.client as mqtt

        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hwtest-pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.connect(HOST, port)
        self.client.loop_start()
        self._pending: list[Any] = []

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self._pending.append(self.client.publish(topic, payload, qos=qos))

    def wait(self, timeout: float = 60.0) -> None:
        """Until the broker acknowledged every message published so far."""
        deadline = time.monotonic() + timeout
        for info in self._pending:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
            assert info.is_published(), "the broker did not acknowledge a publish in time"
        self._pending.clear()

    def close(self) -> None:
        self.wait()
        self.client.disconnect()
        self.client.loop_stop()


def publish_all(messages: Iterable[tuple[str, bytes | str]], port: int = PORT) -> None:
    publisher = Publisher(port)
    try:
        for topic, payload in messages:
            publisher.publish(topic, payload)
    finally:
        publisher.close()


def read_stream(ws: Any, stream: str) -> list[Any]:
    """Every record of ``stream``, shard by shard, oldest first."""
    from headwater.streams.records import TRIM_HORIZON

    out: list[Any] = []
    for shard in ws.streams.shards(stream):
        position = TRIM_HORIZON
        while True:
            batch = ws.streams.read(stream, shard, position, limit=10_000)
            out.extend(batch.records)
            if not batch.records:
                break
            position = batch.next
    return out


class FeedThread:
    """``Workspace.run_feed`` on a thread, stopped by :meth:`stop`; ``fed`` follows progress."""

    def __init__(self, ws: Any, feed: str, **limits: Any) -> None:
        self.stop_event = threading.Event()
        self.fed = 0
        self.report: Any = None
        self.error: BaseException | None = None

        def progress(report: Any) -> None:
            self.fed = report.messages

        def work() -> None:
            try:
                self.report = ws.run_feed(feed, stop=self.stop_event, progress=progress, **limits)
            except BaseException as exc:
                self.error = exc

        self.thread = threading.Thread(target=work, name=f"test-feed-{feed}")
        self.thread.start()

    def join(self, timeout: float = 120.0) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the feed did not stop"
        if self.error is not None:
            raise self.error
        return self.report

    def stop(self) -> Any:
        self.stop_event.set()
        return self.join()


def paced(
    publisher: Publisher,
    messages: Iterable[tuple[str, bytes | str]],
    fed: Callable[[], int],
    ahead: int = 600,
    timeout: float = 120.0,
) -> int:
    """Publish ``messages``, staying at most ``ahead`` messages in front of what the feed put
    (a broker keeps a bounded queue per client); returns how many were published."""
    deadline = time.monotonic() + timeout
    count = 0
    for topic, payload in messages:
        while count - fed() >= ahead:
            assert time.monotonic() < deadline, "the feed stopped taking messages"
            time.sleep(0.005)
        publisher.publish(topic, payload)
        count += 1
    return count


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateMosquitto:
    """A Mosquitto of the test's own, in ``folder``, on a free port, with persistence: it may be
    stopped and started again (the shared one on 1883 never is)."""

    def __init__(self, folder: Path) -> None:
        if shutil.which(MOSQUITTO) is None:
            reason = "the mosquitto binary is not installed"
            if os.environ.get("HEADWATER_REQUIRE_SERVICES") == "1":
                pytest.fail(f"{reason}; HEADWATER_REQUIRE_SERVICES=1 requires it", pytrace=False)
            pytest.skip(reason)
        self.folder = folder
        self.port = _free_port()
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        folder.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {folder}/",
            "max_queued_messages 100000",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to `mosquitto`, who cannot write here
        self.conf.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert self.process.poll() is None, self.log.read_text()
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not start on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its sessions and queued messages to disk, then exits."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Until ``condition()`` holds (an assertion error after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.1)
