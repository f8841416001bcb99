"""MQTT feed throughput: messages per second from Mosquitto into the embedded log.

A private Mosquitto (its own folder and port, no limit on queued messages) holds N messages
of about 200 bytes, published QoS 1 to the feed's session while the feed was stopped; the
feed is then timed in process, warm, from its start until it has put and acknowledged the
N-th message (``Workspace.run_feed(max_messages=N)``). Beside it, in the same run: a raw paho
consumer of the same broker that only receives and acknowledges (no stream put), the
ceiling the feed's client library sets.

    .venv/bin/python bench/mqtt_feed.py --messages 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_broker(folder: Path, port: int) -> subprocess.Popen[bytes]:
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nuser root\n"
    )
    broker = subprocess.Popen(
        [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def publish(port: int, topic: str, count: int) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    pad = "x" * 120
    for first in range(0, count, 1000):
        infos = [
            client.publish(
                f"{topic}/d{i % 50}/reading",
                json.dumps({"device_id": f"d{i % 50}", "seq": i, "temperature": 21.5, "pad": pad}),
                qos=1,
            )
            for i in range(first, min(first + 1000, count))
        ]
        for info in infos:
            info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def raw_consumer(port: int, topic: str, count: int, subscribe_only: bool) -> float:
    """Seconds a paho consumer takes to receive and acknowledge ``count`` messages."""
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions

    got = 0
    done = threading.Event()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        nonlocal got
        client.ack(message.mid, message.qos)
        got += 1
        if got >= count:
            done.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id="bench-raw",
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    client.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    properties.ReceiveMaximum = 1000
    started = time.perf_counter()
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    client.subscribe(f"{topic}/+/reading", options=SubscribeOptions(qos=1))
    if not subscribe_only:
        done.wait(600)
    else:
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    count = args.messages

    from headwater.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        port = free_port()
        broker = start_broker(folder, port)
        try:
            topic = f"bench/{uuid.uuid4().hex[:8]}"
            project = folder / "project"
            project.mkdir()
            (project / "headwater.yaml").write_text(
                json.dumps(
                    {
                        "name": "bench",
                        "connections": {"broker": {"type": "mqtt", "port": port}},
                        "streams": {"readings": {"shards": 4}},
                        "feeds": {
                            "sensors": {
                                "connection": "broker",
                                "topics": [f"{topic}/+/reading"],
                                "stream": "readings",
                                "key": "device_id",
                            }
                        },
                    }
                )
            )
            ws = Workspace.open(project)
            ws.run_feed("sensors", seconds=0)  # its session and subscription
            raw_consumer(port, topic, count, subscribe_only=True)
            publish(port, topic, count)
            started = time.perf_counter()
            report = ws.run_feed("sensors", max_messages=count)
            feed_seconds = time.perf_counter() - started
            raw_seconds = raw_consumer(port, topic, count, subscribe_only=False)
            info = ws.streams.describe("readings")
        finally:
            broker.terminate()
            broker.wait()
    print(
        json.dumps(
            {
                "messages": count,
                "stream_records": info.records,
                "feed_seconds": round(feed_seconds, 3),
                "feed_messages_per_s": round(count / feed_seconds),
                "feed_batches": report.batches,
                "raw_paho_seconds": round(raw_seconds, 3),
                "raw_paho_messages_per_s": round(count / raw_seconds),
                "feed_vs_raw": round(raw_seconds / feed_seconds, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
