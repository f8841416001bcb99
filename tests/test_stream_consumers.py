"""Shard leases and checkpoints of stream consumers in the metadata store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from headwater.state import Store
from headwater.state.consumers import LeaseLost

SHARDS = [f"shardId-{i:012d}" for i in range(4)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    return store


def test_workers_share_the_shards_without_overlap(store: Store) -> None:
    first = store.claim_shards("etl", "clicks", SHARDS, "w1", ttl=30)
    assert sorted(first) == SHARDS  # alone, it takes them all
    second = store.claim_shards("etl", "clicks", SHARDS, "w2", ttl=30)
    assert second == {}  # nothing is free yet
    first = store.claim_shards("etl", "clicks", SHARDS, "w1", ttl=30)
    assert len(first) == 2  # it gives back the surplus over its fair share
    second = store.claim_shards("etl", "clicks", SHARDS, "w2", ttl=30)
    assert len(second) == 2 and not set(first) & set(second)
    assert set(first) | set(second) == set(SHARDS)


def test_a_dead_workers_shards_are_taken_over_and_it_cannot_checkpoint(store: Store) -> None:
    held = store.claim_shards("etl", "clicks", SHARDS[:1], "w1", ttl=0.2)
    shard, epoch = next(iter(held.items()))
    store.save_checkpoint("etl", "clicks", shard, "41", owner="w1", epoch=epoch, records=42)
    assert store.claim_shards("etl", "clicks", SHARDS[:1], "w2", ttl=30) == {}
    time.sleep(0.3)  # w1 stops renewing: its lease expires
    taken = store.claim_shards("etl", "clicks", SHARDS[:1], "w2", ttl=30)
    assert taken == {shard: epoch + 1}
    with pytest.raises(LeaseLost, match=f"`etl` lost shard {shard} of `clicks`"):
        store.save_checkpoint("etl", "clicks", shard, "99", owner="w1", epoch=epoch)
    store.save_checkpoint("etl", "clicks", shard, "50", owner="w2", epoch=epoch + 1, records=9)
    [point] = store.checkpoints("etl", "clicks")
    assert (point.shard, point.sequence, point.records) == (shard, "50", 51)


def test_released_shards_are_free_at_once(store: Store) -> None:
    store.claim_shards("etl", "clicks", SHARDS, "w1", ttl=30)
    store.release_shards("etl", "clicks", "w1")
    assert sorted(store.claim_shards("etl", "clicks", SHARDS, "w2", ttl=30)) == SHARDS
    store.forget_consumer("etl")
    assert store.checkpoints("etl") == []


def test_workers_that_come_and_go_leave_no_rows_behind(store: Store) -> None:
    import sqlalchemy as sa

    from headwater.state import schema

    for run in range(5):  # a scheduled delivery: a new owner at each run
        store.claim_shards("etl", "clicks", SHARDS, f"run-{run}", ttl=30)
        store.release_shards("etl", "clicks", f"run-{run}")
    store.claim_shards("etl", "clicks", SHARDS, "dead", ttl=0.1)  # never released
    time.sleep(0.3)
    store.claim_shards("etl", "clicks", SHARDS, "last", ttl=30)
    with store.engine.connect() as conn:
        members = (
            conn.execute(
                sa.select(schema.stream_leases.c.shard).where(
                    schema.stream_leases.c.shard.startswith("@")
                )
            )
            .scalars()
            .all()
        )
    assert members == ["@last"]
