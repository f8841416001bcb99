"""Pushing events over HTTP: `POST /v1/streams/{name}/records` on a real uvicorn server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headwater import Workspace
from headwater.streams.records import TRIM_HORIZON
from headwater.web import create_app
from tests.test_serve_support import serving

pytestmark = pytest.mark.slow

TOKEN = "push-token"
PROJECT = """\
name: events
variables:
  api_token: {sensitive: true}
serve:
  tokens: ["${var.api_token}"]
streams:
  clicks:
    shards: 2
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root: Path = tmp_path_factory.mktemp("push") / "events"
    root.mkdir()
    (root / "headwater.yaml").write_text(PROJECT)
    ws = Workspace.open(root, {"api_token": TOKEN})
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def url(ws: Workspace) -> Iterator[str]:
    with serving(create_app(ws)) as url:
        yield url


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture
def stream(ws: Workspace, request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.name[:100]
    ws.streams.create(name, shards=2)
    yield name
    ws.streams.delete(name)


def stored(ws: Workspace, stream: str) -> list[tuple[str, str, bytes]]:
    """(shard, key, data) of every record, shard by shard in order."""
    return [
        (record.shard, record.partition_key, record.data)
        for shard in ws.streams.shards(stream)
        for record in ws.streams.read(stream, shard, TRIM_HORIZON, 1000).records
    ]


def test_a_json_batch(client: httpx.Client, ws: Workspace, stream: str) -> None:
    events = [{"user": f"u{i}", "n": i} for i in range(20)]
    body = {"records": [{"data": e, "partition_key": e["user"]} for e in events]}
    answer = client.post(f"/v1/streams/{stream}/records", json=body)

    assert answer.status_code == 200
    result = answer.json()
    assert result["failed"] == 0
    records = stored(ws, stream)
    assert sorted(json.loads(data)["n"] for _, _, data in records) == list(range(20))
    by_shard = {(r["shard"], r["sequence"]) for r in result["records"]}
    assert len(by_shard) == 20
    assert {shard for shard, _ in by_shard} == {"shardId-000000000000", "shardId-000000000001"}
    assert {key for _, key, _ in records} == {e["user"] for e in events}


def test_json_lines_keyed_by_a_field(client: httpx.Client, ws: Workspace, stream: str) -> None:
    lines = [json.dumps({"device": f"d{i % 3}", "t": i}) for i in range(9)]
    lines.insert(4, json.dumps({"t": "no device"}))
    answer = client.post(
        f"/v1/streams/{stream}/records",
        params={"key": "device"},
        content=("\n".join(lines) + "\n\n").encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )

    result = answer.json()
    assert answer.status_code == 200
    assert result["failed"] == 1
    assert result["records"][4] == {
        "shard": None,
        "sequence": None,
        "error": "MissingPartitionKey",
        "message": "the record has no `device` to key it by",
    }
    records = stored(ws, stream)
    assert sorted(json.loads(data)["t"] for _, _, data in records) == list(range(9))
    assert all(key == json.loads(data)["device"] for _, key, data in records)
    # one device's events sit in one shard, in the order they were sent
    d0 = [json.loads(data)["t"] for _, key, data in records if key == "d0"]
    assert d0 == [0, 3, 6]


def test_an_oversized_record_fails_alone(client: httpx.Client, ws: Workspace, stream: str) -> None:
    body = {
        "records": [
            {"data": "small"},
            {"data": "x" * (1 << 20)},
            {"data": {"also": "small"}},
        ]
    }
    result = client.post(f"/v1/streams/{stream}/records", json=body).json()
    assert result["failed"] == 1
    assert result["records"][1]["error"] == "RecordRefused"
    assert "1 MiB" in result["records"][1]["message"]
    assert sorted(data for _, _, data in stored(ws, stream)) == [b'"small"', b'{"also":"small"}']


def test_bad_json_names_the_line(client: httpx.Client, ws: Workspace, stream: str) -> None:
    lines = b'{"a": 1}\n{"a": 2}\n{"a": oops}\n'
    answer = client.post(
        f"/v1/streams/{stream}/records",
        content=lines,
        headers={"Content-Type": "application/x-ndjson"},
    )
    batch = client.post(
        f"/v1/streams/{stream}/records",
        content=b'{"records": [\n  {"data": 1},\n  {"data": }\n]}',
        headers={"Content-Type": "application/json"},
    )
    shape = client.post(f"/v1/streams/{stream}/records", json={"events": []})

    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("line 3: not JSON (Expecting value)")
    assert batch.status_code == 400
    assert batch.json()["error"]["message"].startswith("line 3, column 12: not JSON")
    assert shape.status_code == 400
    assert "records: Field required" in shape.json()["error"]["message"]
    assert stored(ws, stream) == []  # nothing of a refused body was put


def test_an_unknown_stream_and_the_token(client: httpx.Client, url: str) -> None:
    missing = client.post("/v1/streams/nowhere/records", json={"records": [{"data": 1}]})
    anonymous = httpx.post(f"{url}/v1/streams/clicks/records", json={"records": [{"data": 1}]})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NoSuchStreamException"
    assert "no stream `nowhere`" in missing.json()["error"]["message"]
    assert anonymous.status_code == 401


def test_a_declared_stream_takes_pushes(client: httpx.Client, ws: Workspace) -> None:
    result = client.post("/v1/streams/clicks/records", json={"records": [{"data": 1}]}).json()
    assert result["failed"] == 0
    assert ws.streams.describe("clicks").records == 1


def test_the_route_is_in_the_openapi_document(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    route = spec["paths"]["/v1/streams/{name}/records"]["post"]
    assert set(route["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert route["parameters"][1]["name"] == "key"
    assert "PushResult" in spec["components"]["schemas"]
