"""Simulated sensors: N devices publish readings to <topic_root>/<device_id>/reading, QoS 1.

Each reading is {device_id, ts, temperature, humidity, battery}; a device's `ts` grows by at
least a millisecond from one reading to the next, so no two of its readings are alike. The
devices take turns, at --rate readings per second in all (0: as fast as the broker takes
them), until --count readings were published or Ctrl-C. It prints how many each device sent.

`ts` is the wall-clock time, or with --start a simulated clock that begins there and moves
--step-ms milliseconds per reading (hours of readings in seconds, and the same `ts` values on
every run with the same seed).

    python simulate.py --devices 20 --rate 200 --count 10000
    python simulate.py --devices 20 --rate 0 --count 36000 --start 2026-12-07T10:00:00Z --step-ms 100
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime

import paho.mqtt.client as mqtt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10, help="devices publishing")
    parser.add_argument("--rate", type=float, default=50.0, help="readings per second, in all")
    parser.add_argument("--count", type=int, default=None, help="readings to publish in all")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--topic-root", default="sensors")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default=None, help="simulated clock start (ISO time)")
    parser.add_argument("--step-ms", type=int, default=100, help="simulated ms per reading")
    args = parser.parse_args()
    clock_ms = None
    if args.start is not None:
        start = datetime.fromisoformat(args.start)
        clock_ms = int((start if start.tzinfo else start.replace(tzinfo=UTC)).timestamp() * 1000)

    rng = random.Random(args.seed)
    devices = [f"dev-{n:03d}" for n in range(1, args.devices + 1)]
    state = {
        d: {"temperature": rng.uniform(18, 26), "humidity": rng.uniform(30, 60), "battery": 100.0}
        for d in devices
    }
    last_ms = dict.fromkeys(devices, 0)
    sent = dict.fromkeys(devices, 0)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect(args.host, args.port)
    client.loop_start()
    pending: list[mqtt.MQTTMessageInfo] = []
    started = time.monotonic()
    published = 0
    try:
        while args.count is None or published < args.count:
            device = devices[published % len(devices)]
            s = state[device]
            s["temperature"] += rng.gauss(0, 0.2)
            s["humidity"] = min(100.0, max(0.0, s["humidity"] + rng.gauss(0, 0.5)))
            s["battery"] = max(0.0, s["battery"] - rng.uniform(0, 0.01))
            if clock_ms is None:
                now_ms = max(int(time.time() * 1000), last_ms[device] + 1)
            else:
                clock_ms += args.step_ms
                now_ms = max(clock_ms, last_ms[device] + 1)
            last_ms[device] = now_ms
            reading = {
                "device_id": device,
                "ts": datetime.fromtimestamp(now_ms / 1000, UTC).isoformat(timespec="milliseconds"),
                "temperature": round(s["temperature"], 2),
                "humidity": round(s["humidity"], 1),
                "battery": round(s["battery"], 2),
            }
            topic = f"{args.topic_root}/{device}/reading"
            pending.append(client.publish(topic, json.dumps(reading), qos=1))
            sent[device] += 1
            published += 1
            if len(pending) >= 500:  # keep the client's queue bounded
                for info in pending:
                    info.wait_for_publish(60)
                pending.clear()
            if args.rate > 0:
                ahead = published / args.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
    except KeyboardInterrupt:
        pass
    finally:
        for info in pending:
            info.wait_for_publish(60)
        client.disconnect()
        client.loop_stop()
    print(json.dumps({"published": published, "per_device": sent}))


if __name__ == "__main__":
    main()
