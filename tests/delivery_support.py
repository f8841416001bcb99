"""Helpers of the delivery tests: a project with a stream and deliveries, events put into it,
and the delivered rows read back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from headwater.streams.records import Entry
from headwater.workspace import Workspace


def make_project(
    root: Path,
    deliveries: dict[str, Any],
    shards: int = 2,
    connection: dict[str, Any] | None = None,
) -> Path:
    """A project with the stream `events` (on the embedded log, or on ``connection``, declared
    as `broker`) and ``deliveries``."""
    root.mkdir(parents=True, exist_ok=True)
    stream: dict[str, Any] = {"shards": shards}
    config: dict[str, Any] = {"name": "deliveries"}
    if connection is not None:
        config["connections"] = {"broker": connection}
        stream["connection"] = "broker"
    config |= {"streams": {"events": stream}, "deliveries": deliveries}
    (root / "headwater.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def event(i: int, **extra: Any) -> dict[str, Any]:
    return {"id": i, "country": "USA" if i % 3 == 0 else "France", "amount": i * 0.5, **extra}


def put_events(ws: Workspace, events: Iterable[dict[str, Any]], stream: str = "events") -> int:
    batch: list[Entry] = []
    count = 0
    for value in events:
        batch.append(Entry(json.dumps(value).encode(), partition_key=str(value.get("id"))))
        if len(batch) >= 5000:
            count += _put(ws, stream, batch)
            batch = []
    if batch:
        count += _put(ws, stream, batch)
    return count


def put_raw(ws: Workspace, datas: Iterable[bytes], stream: str = "events") -> None:
    _put(ws, stream, [Entry(d, partition_key=str(i)) for i, d in enumerate(datas)])


def _put(ws: Workspace, stream: str, batch: list[Entry]) -> int:
    results = ws.streams.put(stream, batch)
    assert all(r.ok for r in results)
    return len(batch)


def table_ids(ws: Workspace, table: str) -> list[int]:
    """The ``id`` of every row of ``table`` (duplicates kept)."""
    return [int(v) for v in ws.query(f"SELECT id FROM {table}").column("id").to_pylist()]
