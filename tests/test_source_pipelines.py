"""File and Redis sources through `headwater run`: strategies, state and quarantine."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from headwater import Workspace
from tests import services


def write_project(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "headwater.yaml").write_text("name: t\n" + body, encoding="utf-8")
    return root


FILES = """
connections:
  drop: {type: files, url: data}
sources:
  files:
    connection: drop
    load: append
    tables:
      - {name: trips, glob: "*.csv*", file_column: source_file}
pipelines:
  p:
    tasks:
      - ingest: files
"""


def test_new_files_only_and_malformed_rows_quarantined(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", FILES)
    data = root / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,km\n1,1.5\n2,2.5,extra\n3,3.5\n")
    ws = Workspace.open(root)
    record = ws.run("p")
    assert ws.query("SELECT id FROM raw.trips ORDER BY id").column("id").to_pylist() == [1, 3]
    rejected = ws.query("SELECT location, reason, record FROM raw.trips__quarantine").to_pylist()
    assert len(rejected) == 1
    assert rejected[0]["location"].endswith("a.csv:3") and "2,2.5,extra" in rejected[0]["record"]
    assert record.tasks[0].details["rejected"] == 1

    snapshots = len(ws.lake.snapshots("raw.trips"))
    ws.run("p")  # no new file: nothing read, nothing committed
    assert len(ws.lake.snapshots("raw.trips")) == snapshots

    with gzip.open(data / "b.csv.gz", "wt") as f:
        f.write("id,km\n4,4.5\n")
    record = ws.run("p")
    assert record.tasks[0].rows == 1  # only the new file was read
    rows = ws.query("SELECT id, source_file FROM raw.trips ORDER BY id").to_pylist()
    assert [r["id"] for r in rows] == [1, 3, 4] and rows[-1]["source_file"].endswith("b.csv.gz")
    ws.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    yield from services.redis_prefix()


def test_redis_hashes_merge_by_key(tmp_path: Path, prefix: str) -> None:
    client = redis.Redis.from_url(services.REDIS_URL, decode_responses=True)
    client.hset(f"{prefix}u:1", mapping={"name": "ann", "age": "31"})
    client.hset(f"{prefix}u:2", mapping={"name": "bob", "age": "42"})
    root = write_project(
        tmp_path / "p",
        f"""
connections:
  cache: {{type: redis, url: "{services.REDIS_URL}"}}
sources:
  kv:
    connection: cache
    load: {{strategy: merge, primary_key: _key, delete_missing: true}}
    tables:
      - {{name: users, pattern: "{prefix}u:*", value: hash, types: {{age: INTEGER}}}}
pipelines:
  p:
    tasks:
      - ingest: kv
""",
    )
    ws = Workspace.open(root)
    ws.run("p")
    client.hset(f"{prefix}u:1", "age", "32")
    client.delete(f"{prefix}u:2")
    client.hset(f"{prefix}u:3", mapping={"name": "cy", "age": "23"})
    record = ws.run("p")
    rows = ws.query("SELECT _key, name, age FROM raw.users ORDER BY _key").to_pylist()
    assert [(r["_key"].removeprefix(prefix), r["name"], r["age"]) for r in rows] == [
        ("u:1", "ann", 32),
        ("u:3", "cy", 23),
    ]
    assert (record.tasks[0].details["inserted"], record.tasks[0].details["deleted"]) == (2, 1)
    client.close()
    ws.close()
