"""A delivery process killed with kill -9 at random moments, or stopped with SIGTERM, and run
again: every event is in the table exactly once."""

from __future__ import annotations

import random
import signal
import threading
import time
from pathlib import Path

import pytest

from headwater.workspace import Workspace
from tests.delivery_support import event, make_project, put_events, table_ids
from tests.fault_support import cli

pytestmark = [pytest.mark.faults, pytest.mark.slow]

EVENTS = 100_000
DELIVERY = {
    "stream": "events",
    "table": "raw.events",
    "buffer": {"seconds": 0.2, "mb": 1},
    "lease_seconds": 2,
}


def delivered(root: Path) -> int:
    with Workspace.open(root) as ws:
        return sum(c.records for c in ws.store.checkpoints("delivery:d"))


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": DELIVERY}, shards=4)
    produced = threading.Event()

    def produce() -> None:  # about 5,000 events a second while the worker is killed
        with Workspace.open(root) as ws:
            for part in range(EVENTS // 2500):
                put_events(ws, (event(i) for i in range(part * 2500, (part + 1) * 2500)))
                time.sleep(0.5)
        produced.set()

    producer = threading.Thread(target=produce)
    producer.start()
    rng = random.Random(7)
    seen = []
    try:
        for _ in range(3):
            before = delivered(root)
            process = cli(root, "stream", "run", "d")
            deadline = time.monotonic() + 60
            while delivered(root) == before:  # killed after it committed, at a random moment
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the delivery committed nothing in 60 s"
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
            assert process.poll() is None, process.communicate()
            process.kill()
            process.communicate(timeout=30)
            seen.append(delivered(root))
            time.sleep(2.1)  # the dead worker's leases expire
    finally:
        producer.join()
    assert produced.is_set()
    assert any(0 < n < EVENTS for n in seen), seen  # killed mid-stream, after some commits
    final = cli(root, "stream", "run", "d", "--once")
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, out + err
    with Workspace.open(root) as ws:
        ids = table_ids(ws, "raw.events")
    assert len(ids) == EVENTS and len(set(ids)) == EVENTS


def test_sigterm_flushes_commits_and_exits_0(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": {**DELIVERY, "buffer": {"seconds": 900}}})
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(2000)))
    process = cli(root, "stream", "run", "d")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the records are read, and wait in the buffer
        with Workspace.open(root) as ws:
            if ws.store.claim_shards("delivery:d", "events", [], "probe", 0.01) == {} and any(
                lease for lease in _holders(ws)
            ):
                break
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    assert "2,000 delivered" in out
    with Workspace.open(root) as ws:
        assert sorted(table_ids(ws, "raw.events")) == list(range(2000))


def _holders(ws: Workspace) -> list[str]:
    import sqlalchemy as sa

    from headwater.state import schema

    leases = schema.stream_leases
    with ws.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(leases.c.owner).where(
                leases.c.consumer == "delivery:d",
                ~leases.c.shard.startswith("@"),
                leases.c.expires_at > time.time(),
            )
        ).all()
    return [r.owner for r in rows]
