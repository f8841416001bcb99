"""Windowed processor throughput on the embedded log: the IoT example's `device_minutes`
(one-minute windows per device, six aggregates) over N simulated readings in 4 shards, against
a stateless SQL processor (`SELECT * FROM records`) over the same stream in the same run.

Each measured command is a fresh process timed as a whole (`headwater stream process --once
--flush-windows`, interpreter start and imports included), as a user runs it. Run from the
repository's root:

    .venv/bin/python bench/windows.py --readings 200000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "iot_sensors"
CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
STATELESS = """
  passthrough:
    stream: readings
    sql: SELECT * FROM records
    to: device_minutes
"""


def project(folder: Path, readings: int, devices: int) -> Path:
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".headwater"))
    with (folder / "headwater.yaml").open("a") as config:
        config.write(STATELESS)
    from headwater import Workspace
    from headwater.streams.records import Entry

    rng = random.Random(1)
    clock = int(datetime(2026, 12, 7, 10, tzinfo=UTC).timestamp() * 1000)
    with Workspace.open(folder) as ws:
        if "readings" not in ws.streams.names():
            ws.streams.create("readings", shards=4)
        entries = []
        for i in range(readings):
            clock += 100
            device = f"dev-{i % devices:03d}"
            reading = {
                "device_id": device,
                "ts": datetime.fromtimestamp(clock / 1000, UTC).isoformat(timespec="milliseconds"),
                "temperature": round(rng.uniform(18, 26), 2),
                "humidity": round(rng.uniform(30, 60), 1),
                "battery": round(100 - i / readings, 2),
            }
            entries.append(Entry(json.dumps(reading).encode(), device))
            if len(entries) == 5000:
                ws.streams.put("readings", entries)
                entries = []
        if entries:
            ws.streams.put("readings", entries)
    return folder


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = project(Path(tmp) / "iot", args.readings, args.devices)
        results = {
            "windows": timed(
                [*CLI, "stream", "process", "device_minutes", "--once", "--flush-windows"], folder
            ),
            "stateless": timed([*CLI, "stream", "process", "passthrough", "--once"], folder),
        }
    print(
        f"{args.readings:,} readings of {args.devices} devices, {sys.platform}, "
        f"Python {sys.version.split()[0]}"
    )
    base = results["stateless"]
    for name, seconds in results.items():
        print(
            f"  {name:<10} {seconds:6.2f} s  {args.readings / seconds:10,.0f} records/s"
            f"  {seconds / base:5.2f}× the stateless SQL processor"
        )


if __name__ == "__main__":
    main()
