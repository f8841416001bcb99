"""Shared by the processor tests: a project with streams and processors, and reading a
stream whole."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from headwater.streams.hub import Streams
from headwater.streams.records import TRIM_HORIZON, Entry, Record
from headwater.workspace import Workspace


def make_project(root: Path, body: str, files: dict[str, str] | None = None) -> Workspace:
    """A project in ``root`` whose headwater.yaml is ``name: t`` plus ``body``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "headwater.yaml").write_text("name: t\n" + textwrap.dedent(body))
    for path, text in (files or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text))
    return Workspace.open(root)


def put_json(streams: Streams, stream: str, values: list[dict[str, Any]], key: str) -> None:
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        results = streams.put(
            stream,
            [Entry(json.dumps(v).encode(), partition_key=str(v[key])) for v in chunk],
        )
        assert all(r.ok and not r.duplicate for r in results)


def read_all(streams: Streams, stream: str) -> list[Record]:
    out: list[Record] = []
    for shard in streams.shards(stream):
        position = TRIM_HORIZON
        while True:
            batch = streams.read(stream, shard, position, limit=10_000)
            if not batch.records:
                break
            out.extend(batch.records)
            position = batch.next
    return out


def values(streams: Streams, stream: str) -> list[dict[str, Any]]:
    return [json.loads(r.data) for r in read_all(streams, stream)]
