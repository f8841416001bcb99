"""Processors under stress and faults: ≥100,000 records across a restart, `headwater stream
process` killed with kill -9 or stopped with SIGTERM, and workers in two processes sharing a
stream's shards, one taking over when the other dies. Checked on the outputs' data: every
input once, by count and distinct ids."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from headwater.state import schema
from headwater.streams.processor_report import ProcessorReport
from headwater.workspace import Workspace
from tests.processor_support import make_project, put_json, read_all

CLI = [sys.executable, "-c", "from headwater.cli.app import main; main()"]
TOTAL = 100_000

PROJECT = """
streams:
  events: {shards: 4}
  even: {shards: 2}
  odd: {}
processors:
  etl:
    stream: events
    sql: SELECT id, n, n * 2 AS doubled, now() AS processing_timestamp FROM records
    routes:
      - when: n % 2 = 0
        to: even
      - to: odd
    lease_ttl: 2
    batch_records: 1000
"""


def events(first: int, last: int) -> list[dict[str, object]]:
    return [{"id": f"e{i}", "n": i} for i in range(first, last)]


def output_ids(ws: Workspace) -> Counter[str]:
    found: Counter[str] = Counter()
    for stream in ("even", "odd"):
        for record in read_all(ws.streams, stream):
            value = json.loads(record.data)
            assert value["doubled"] == value["n"] * 2
            assert (value["n"] % 2 == 0) == (stream == "even")
            found[value["id"]] += 1
    return found


def assert_each_once(ws: Workspace, total: int) -> None:
    found = output_ids(ws)
    assert sum(found.values()) == total  # nothing duplicated …
    assert set(found) == {f"e{i}" for i in range(total)}  # … and nothing lost


def leases(ws: Workspace) -> dict[str, str]:
    """Shard → owner, of the live leases of `etl`."""
    table = schema.stream_leases
    with ws.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.shard, table.c.owner).where(
                table.c.consumer == "processor:etl",
                table.c.expires_at > time.time(),
                ~table.c.shard.startswith("@"),
            )
        ).all()
    return {r.shard: r.owner for r in rows}


def wait_for(what: str, check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def start(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*CLI, "stream", "process", "etl", "--project", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_100k_records_across_a_restart_each_once(tmp_path: Path) -> None:
    ws = make_project(tmp_path, PROJECT)
    put_json(ws.streams, "events", events(0, TOTAL), key="id")
    stop = threading.Event()

    def halfway(reports: list[ProcessorReport]) -> None:
        if reports[0].records_in >= 30_000:
            stop.set()

    [first] = ws.run_processors(["etl"], stop=stop, progress=halfway)
    assert 30_000 <= first.records_in < TOTAL
    second = ws.run_processor("etl", once=True)
    assert first.records_in + second.records_in == TOTAL
    assert_each_once(ws, TOTAL)
    points = ws.processor_checkpoints("etl")
    assert sum(p.records for p in points) == TOTAL and len(points) == 4


@pytest.mark.slow
@pytest.mark.faults
def test_kill_9_then_restart_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    ws = make_project(tmp_path, PROJECT)
    put_json(ws.streams, "events", events(0, TOTAL), key="id")
    worker = start(tmp_path)
    try:
        wait_for("the first outputs", lambda: sum(output_ids(ws).values()) > 0)
        time.sleep(random.uniform(0.0, 1.5))
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.communicate()
    done = sum(output_ids(ws).values())
    assert done < TOTAL  # it was killed in the middle
    time.sleep(2.5)  # its leases expire (lease_ttl: 2)
    result = subprocess.run(
        [*CLI, "stream", "process", "--once", "--project", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert_each_once(ws, TOTAL)


@pytest.mark.slow
@pytest.mark.faults
def test_sigterm_finishes_the_batch_checkpoints_and_gives_the_shards_back(
    tmp_path: Path,
) -> None:
    ws = make_project(tmp_path, PROJECT)
    put_json(ws.streams, "events", events(0, TOTAL), key="id")
    worker = start(tmp_path)
    wait_for("the first outputs", lambda: sum(output_ids(ws).values()) > 0)
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert leases(ws) == {}  # given back, not left to expire
    # every output is covered by a checkpoint: nothing is left to replay
    points = ws.processor_checkpoints("etl")
    assert sum(p.records for p in points) == sum(output_ids(ws).values())
    ws.run_processor("etl", once=True)
    assert_each_once(ws, TOTAL)


@pytest.mark.slow
@pytest.mark.faults
def test_two_workers_share_the_shards_and_one_takes_over_from_a_dead_one(
    tmp_path: Path,
) -> None:
    ws = make_project(tmp_path, PROJECT)
    put_json(ws.streams, "events", events(0, 20_000), key="id")
    first, second = start(tmp_path), start(tmp_path)
    try:

        def shared() -> bool:
            held = Counter(leases(ws).values())
            return sorted(held.values()) == [2, 2]

        wait_for("two workers holding 2 shards each", shared)
        owners = leases(ws)
        assert len(owners) == 4 and len(set(owners.values())) == 2  # no shard twice
        pid = str(first.pid)
        os.kill(first.pid, signal.SIGKILL)
        first.communicate()
        # the survivor takes the dead one's shards when their leases expire
        wait_for(
            "the survivor to hold all 4 shards",
            lambda: (
                len(leases(ws)) == 4
                and {o.split(":")[1] for o in leases(ws).values()} == {str(second.pid)}
            ),
        )
        assert all(o.split(":")[1] != pid for o in leases(ws).values())
        put_json(ws.streams, "events", events(20_000, 30_000), key="id")
        wait_for("every record processed", lambda: sum(output_ids(ws).values()) >= 30_000)
    finally:
        for worker in (first, second):
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            worker.communicate(timeout=60)
    assert second.returncode == 0
    assert_each_once(ws, 30_000)
