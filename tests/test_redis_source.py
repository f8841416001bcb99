"""The Redis source against the local server: hashes, JSON values, strings, rejects, errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import redis

from headwater.errors import SourceError, SourceUnreachable
from headwater.ingest.extraction import Extraction, ReadContext
from headwater.ingest.redis_source import DocumentResource
from headwater.project.redis import RedisTable
from tests import services


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own on the local Redis, deleted afterwards."""
    yield from services.redis_prefix()


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(services.REDIS_URL, decode_responses=True)
    yield c
    c.close()


def read(table: dict[str, Any], url: str = services.REDIS_URL) -> Extraction:
    from headwater.connect.redis import RedisStore

    resource = DocumentResource(RedisTable(name="t", **table), lambda: RedisStore(url, 2))
    return resource.read(ReadContext())


def rows(extraction: Extraction, key: str = "_key") -> list[dict[str, Any]]:
    table = pa.Table.from_batches(list(extraction.readers[0]), extraction.schema)
    return sorted(table.to_pylist(), key=lambda r: r[key])


def test_hashes_are_text_unless_typed_and_bad_values_are_rejects(
    prefix: str, client: redis.Redis
) -> None:
    client.hset(f"{prefix}user:1", mapping={"name": "Ann", "age": "41", "joined": "2024-01-02"})
    client.hset(f"{prefix}user:2", mapping={"name": "Bob", "age": "x7"})
    client.hset(f"{prefix}user:3", mapping={"name": "Cy", "age": "7", "city": "Oslo"})
    client.set(f"{prefix}user:4", "not a hash")

    plain = read({"pattern": f"{prefix}user:*", "value": "hash"})
    got = rows(plain)
    assert plain.schema.field("age").type == pa.string()
    assert plain.schema.field("joined").type == pa.string()  # no guessing from text
    assert [r["name"] for r in got] == ["Ann", "Bob", "Cy"]
    assert got[2]["city"] == "Oslo" and got[0]["city"] is None
    [wrong] = plain.rejects()
    assert wrong.location == f"{prefix}user:4" and "WRONGTYPE" in wrong.reason

    typed = read(
        {
            "pattern": f"{prefix}user:*",
            "value": "hash",
            "types": {"age": "INTEGER", "joined": "DATE"},
        }
    )
    got = rows(typed)
    assert typed.schema.field("age").type == pa.int32()
    assert [(r["name"], r["age"]) for r in got] == [("Ann", 41), ("Cy", 7)]
    assert str(got[0]["joined"]) == "2024-01-02"
    bad = [r for r in typed.rejects() if r.column == "age"]
    assert len(bad) == 1 and bad[0].location == f"{prefix}user:2"
    assert "`x7` is not a valid INTEGER" in bad[0].reason
    assert json.loads(bad[0].record)["name"] == "Bob"


def test_json_values_become_typed_records_and_bad_json_is_a_reject(
    prefix: str, client: redis.Redis
) -> None:
    client.set(f"{prefix}o:1", json.dumps({"id": 1, "total": 9.5, "ship": {"city": "Rome"}}))
    client.set(f"{prefix}o:2", json.dumps({"id": 2, "ship": {"city": "Lima"}, "tags": ["a"]}))
    client.set(f"{prefix}o:3", '{"id": 3, "total": ')
    client.set(f"{prefix}o:4", "[1, 2]")

    extraction = read({"pattern": f"{prefix}o:*"})  # auto: the first string holds an object
    got = rows(extraction)
    assert [r["id"] for r in got] == [1, 2]
    assert pa.types.is_struct(extraction.schema.field("ship").type)
    assert got[1]["ship"] == {"city": "Lima"} and got[1]["tags"] == ["a"]
    assert got[0]["total"] == 9.5 and got[1]["total"] is None
    rejects = {r.location: r for r in extraction.rejects()}
    assert set(rejects) == {f"{prefix}o:3", f"{prefix}o:4"}
    assert rejects[f"{prefix}o:3"].reason.startswith("invalid JSON")
    assert rejects[f"{prefix}o:3"].record == '{"id": 3, "total": '
    assert "not an object" in rejects[f"{prefix}o:4"].reason
    assert extraction.complete


def test_string_values_and_a_custom_key_column(prefix: str, client: redis.Redis) -> None:
    client.set(f"{prefix}s:a", "hello")
    client.set(f"{prefix}s:b", "wörld")
    client.rpush(f"{prefix}s:c", "x")
    extraction = read({"pattern": f"{prefix}s:*", "value": "string", "key_column": "k"})
    assert rows(extraction, "k") == [
        {"k": f"{prefix}s:a", "value": "hello"},
        {"k": f"{prefix}s:b", "value": "wörld"},
    ]
    [reject] = extraction.rejects()
    assert reject.location == f"{prefix}s:c" and "WRONGTYPE" in reject.reason


def test_auto_reads_hashes_and_rejects_keys_of_other_types(
    prefix: str, client: redis.Redis
) -> None:
    for i in range(5):  # more keys than a batch (2): several SCAN calls and pipelines
        client.hset(f"{prefix}h:{i}", mapping={"n": str(i)})
    client.sadd(f"{prefix}h:set", "x")
    extraction = read({"pattern": f"{prefix}h:*"})
    assert sorted(r["n"] for r in rows(extraction)) == ["0", "1", "2", "3", "4"]
    [reject] = extraction.rejects()
    assert reject.location == f"{prefix}h:set" and "the key is a set, not a hash" in reject.reason


def test_no_matching_key_is_an_empty_table(prefix: str) -> None:
    extraction = read({"pattern": f"{prefix}nothing:*"})
    assert rows(extraction) == [] and extraction.schema.names == ["_key"]


def test_an_unknown_typed_field_names_the_fields_found(prefix: str, client: redis.Redis) -> None:
    client.hset(f"{prefix}u:1", mapping={"name": "Ann"})
    with pytest.raises(SourceError, match=r"field `agee` in `types`.*fields found: _key, name"):
        read({"pattern": f"{prefix}u:*", "types": {"agee": "INTEGER"}})


def test_server_down_names_host_and_port() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceUnreachable) as info:
        read({"pattern": "*"}, url=f"redis://127.0.0.1:{port}/0")
    assert f"cannot connect to Redis at 127.0.0.1:{port}" in str(info.value)
    assert "is the server running?" in str(info.value)
    assert info.value.retryable
