"""Processor throughput on the embedded log: the streaming lab's ETL (Python and SQL
transforms, two routes) over N generated sessions, against a read-only loop over the same
stream in the same run (what reading alone costs).

Each measured command is a fresh process timed as a whole (`headwater stream process --once`,
interpreter start and imports included), as a user runs it; the read-only loop is a fresh
process too. Run from the repository's root:

    .venv/bin/python bench/processors.py --events 200000
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "streaming_lab"
CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
READ_ONLY = """
import sys
from headwater import Workspace
from headwater.streams.records import TRIM_HORIZON
n = 0
with Workspace.open(sys.argv[1]) as ws:
    for shard in ws.streams.shards("sessions"):
        position = TRIM_HORIZON
        while True:
            batch = ws.streams.read("sessions", shard, position, limit=2000)
            if not batch.records:
                break
            n += len(batch.records)
            position = batch.next
print(n)
"""


def lab(folder: Path, transform: str, events: int) -> Path:
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".headwater"))
    if transform == "sql":
        config = folder / "headwater.yaml"
        lines = []
        for line in config.read_text().splitlines():
            if line.strip().startswith("python: processors/"):
                continue
            lines.append("    " + line[6:] if re.match(r"    # (sql:|  )", line) else line)
        config.write_text("\n".join(lines) + "\n")
    subprocess.run([sys.executable, "generate.py", "--count", str(events)], cwd=folder, check=True)
    return folder


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for transform in ("python", "sql"):
            folder = lab(Path(tmp) / transform, transform, args.events)
            if transform == "python":
                results["read only"] = timed([sys.executable, "-c", READ_ONLY, "."], folder)
            results[transform] = timed([*CLI, "stream", "process", "--once"], folder)
    print(f"{args.events:,} sessions, {sys.platform}, Python {sys.version.split()[0]}")
    base = results["read only"]
    for name, seconds in results.items():
        print(
            f"  {name:<10} {seconds:6.2f} s  {args.events / seconds:10,.0f} records/s"
            f"  {seconds / base:5.2f}× the read-only loop"
        )


if __name__ == "__main__":
    main()
