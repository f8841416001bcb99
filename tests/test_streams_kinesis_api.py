"""The Kinesis-compatible API of `headwater serve`, driven by real boto3 against a real uvicorn
server: the course lab's producer and consumer, every iterator type, Kinesis's errors."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from headwater import Workspace
from headwater.streams.kinesis_api import ITERATOR_TTL_MS, IteratorCodec
from headwater.streams.records import TRIM_HORIZON
from headwater.web import create_app
from headwater.web.kinesis import iterator_key
from tests.test_serve_support import serving

pytestmark = pytest.mark.slow

TOKEN = "kinesis-token"
PROJECT = """\
name: lab
variables:
  api_token: {sensitive: true}
serve:
  tokens: ["${var.api_token}"]
streams:
  declared:
    shards: 2
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("kinesis") / "lab"
    root.mkdir()
    (root / "headwater.yaml").write_text(PROJECT)
    return root


@pytest.fixture(scope="module")
def ws(root: Path) -> Iterator[Workspace]:
    ws = Workspace.open(root, {"api_token": TOKEN})
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def url(ws: Workspace) -> Iterator[str]:
    with serving(create_app(ws)) as url:
        yield url


def kinesis(url: str, access_key: str = TOKEN) -> Any:
    return boto3.client(
        "kinesis",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def client(url: str) -> Any:
    return kinesis(url)


@pytest.fixture
def stream(client: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh stream of 3 shards, named after the test."""
    name = request.node.name.replace("[", "-").replace("]", "")[:100]
    client.create_stream(StreamName=name, ShardCount=3)
    yield name
    client.delete_stream(StreamName=name)


# -- the course lab's code, as it is written there ----------------------------------------


def send_record(client: Any, stream_name: str, data: dict[str, Any], partition_key: str) -> Any:
    return client.put_record(
        StreamName=stream_name, Data=json.dumps(data), PartitionKey=partition_key
    )


def session_event(i: int) -> dict[str, Any]:
    return {
        "session_id": f"s-{i:04d}",
        "customer_number": 100 + i % 37,
        "city": "NYC" if i % 3 else "Lyon",
        "country": "USA" if i % 3 else "France",
        "credit_limit": 1000 + i,
        "browse_history": [
            {"product_code": f"S10_{i % 9}", "quantity": 1 + i % 4, "in_shopping_cart": i % 2 == 0}
        ],
    }


def consume(client: Any, stream_name: str) -> dict[str, list[dict[str, Any]]]:
    """Every shard from TRIM_HORIZON, following NextShardIterator until caught up."""
    received: dict[str, list[dict[str, Any]]] = {}
    shards = client.list_shards(StreamName=stream_name)["Shards"]
    for shard in shards:
        shard_id = shard["ShardId"]
        shard_iterator = client.get_shard_iterator(
            StreamName=stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while shard_iterator is not None:
            response = client.get_records(ShardIterator=shard_iterator, Limit=40)
            for record in response["Records"]:
                received.setdefault(shard_id, []).append(json.loads(record["Data"].decode("utf-8")))
            if not response["Records"] and response["MillisBehindLatest"] == 0:
                break
            shard_iterator = response["NextShardIterator"]
    return received


def test_the_lab_producer_and_consumer(client: Any, stream: str) -> None:
    sent: dict[str, list[dict[str, Any]]] = {}
    sequences: dict[str, list[int]] = {}
    for i in range(150):
        event = session_event(i)
        answer = send_record(client, stream, event, event["session_id"])
        sent.setdefault(answer["ShardId"], []).append(event)
        sequences.setdefault(answer["ShardId"], []).append(int(answer["SequenceNumber"]))

    received = consume(client, stream)

    assert len(sent) == 3  # 150 keys spread over all three shards
    assert received == sent  # every event once, each shard's in the order it was put
    assert sum(len(events) for events in received.values()) == 150
    assert all(seqs == sorted(seqs) for seqs in sequences.values())


def test_the_consumer_through_describe_stream(client: Any, stream: str) -> None:
    keys = [f"user-{i}" for i in range(50)]
    client.put_records(
        StreamName=stream,
        Records=[
            {"Data": json.dumps({"n": i}).encode(), "PartitionKey": k} for i, k in enumerate(keys)
        ],
    )
    description = client.describe_stream(StreamName=stream)["StreamDescription"]
    numbers = []
    for shard in description["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        answer = client.get_records(ShardIterator=iterator)
        numbers += [json.loads(r["Data"])["n"] for r in answer["Records"]]
        assert all(r["PartitionKey"] in keys for r in answer["Records"])
    assert sorted(numbers) == list(range(50))
    assert description["StreamStatus"] == "ACTIVE"
    assert description["HasMoreShards"] is False
    ranges = [
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in description["Shards"]
    ]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))


# -- streams --------------------------------------------------------------------------------


def test_create_list_describe_delete(client: Any) -> None:
    client.create_stream(StreamName="orders-api", ShardCount=2)
    with pytest.raises(client.exceptions.ResourceInUseException, match="exists already"):
        client.create_stream(StreamName="orders-api", ShardCount=2)
    names = client.list_streams()["StreamNames"]
    summary = client.describe_stream_summary(StreamName="orders-api")["StreamDescriptionSummary"]
    shards = client.list_shards(StreamName="orders-api", MaxResults=1)
    rest = client.list_shards(NextToken=shards["NextToken"])
    client.delete_stream(StreamName="orders-api")

    assert "orders-api" in names
    assert summary["OpenShardCount"] == 2
    assert summary["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/orders-api"
    assert summary["RetentionPeriodHours"] == 24
    assert [s["ShardId"] for s in shards["Shards"] + rest["Shards"]] == [
        "shardId-000000000000",
        "shardId-000000000001",
    ]
    assert "NextToken" not in rest
    assert "orders-api" not in client.list_streams()["StreamNames"]
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="no stream `orders-api`"):
        client.describe_stream(StreamName="orders-api")


def test_list_streams_pages(client: Any) -> None:
    for n in range(3):
        client.create_stream(StreamName=f"page-{n}", ShardCount=1)
    try:
        first = client.list_streams(Limit=2, ExclusiveStartStreamName="page-")
        second = client.list_streams(Limit=2, NextToken=first["NextToken"])
    finally:
        for n in range(3):
            client.delete_stream(StreamName=f"page-{n}")
    assert first["StreamNames"] == ["page-0", "page-1"] and first["HasMoreStreams"] is True
    assert second["StreamNames"][0] == "page-2"


def test_a_declared_stream_is_created_on_first_use(client: Any) -> None:
    answer = client.put_record(StreamName="declared", Data=b"{}", PartitionKey="k")
    shards = client.describe_stream(StreamName="declared")["StreamDescription"]["Shards"]
    assert answer["SequenceNumber"] == "0"
    assert len(shards) == 2


def test_an_unknown_stream(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="no stream `nowhere`"):
        client.put_record(StreamName="nowhere", Data=b"x", PartitionKey="k")
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="no stream `nowhere`"):
        client.get_shard_iterator(
            StreamName="nowhere", ShardId="shardId-000000000000", ShardIteratorType="LATEST"
        )
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="no stream `nowhere`"):
        client.delete_stream(StreamName="nowhere")


def test_an_unknown_shard(client: Any, stream: str) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="no shard"):
        client.get_shard_iterator(
            StreamName=stream, ShardId="shardId-000000000009", ShardIteratorType="TRIM_HORIZON"
        )


def test_a_bad_stream_name(client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException, match="not a valid stream name"):
        client.create_stream(StreamName="../escape", ShardCount=1)


# -- records --------------------------------------------------------------------------------


def test_put_records_fails_only_the_oversized_record(client: Any, stream: str) -> None:
    records = [{"Data": f"small-{i}".encode(), "PartitionKey": "same"} for i in range(4)]
    records.insert(2, {"Data": b"x" * ((1 << 20) + 1), "PartitionKey": "same"})
    answer = client.put_records(StreamName=stream, Records=records)

    results = answer["Records"]
    assert answer["FailedRecordCount"] == 1
    assert results[2]["ErrorCode"] == "ValidationException"
    assert "1,048,577 bytes" in results[2]["ErrorMessage"]
    assert "SequenceNumber" not in results[2]
    kept = [r for i, r in enumerate(results) if i != 2]
    assert all("ErrorCode" not in r for r in kept)
    assert [int(r["SequenceNumber"]) for r in kept] == [0, 1, 2, 3]
    iterator = client.get_shard_iterator(
        StreamName=stream, ShardId=kept[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    read = client.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in read] == [f"small-{i}".encode() for i in range(4)]


def test_put_record_refuses_an_oversized_record(client: Any, stream: str) -> None:
    with pytest.raises(client.exceptions.ValidationException, match="1 MiB"):
        client.put_record(StreamName=stream, Data=b"x" * ((1 << 20) + 1), PartitionKey="k")


def test_put_records_takes_at_most_500(client: Any, stream: str) -> None:
    records = [{"Data": b"x", "PartitionKey": "k"}] * 501
    with pytest.raises(client.exceptions.ValidationException, match="takes 1 to 500"):
        client.put_records(StreamName=stream, Records=records)


def test_explicit_hash_key_picks_the_shard(client: Any, stream: str) -> None:
    last = client.put_record(
        StreamName=stream, Data=b"x", PartitionKey="k", ExplicitHashKey=str(2**128 - 1)
    )
    first = client.put_record(StreamName=stream, Data=b"x", PartitionKey="k", ExplicitHashKey="0")
    assert (first["ShardId"], last["ShardId"]) == ("shardId-000000000000", "shardId-000000000002")


def _one_shard_put(client: Any, stream: str, count: int, tag: str) -> tuple[str, list[str]]:
    answer = client.put_records(
        StreamName=stream,
        Records=[{"Data": f"{tag}-{i}".encode(), "PartitionKey": "one"} for i in range(count)],
    )
    return answer["Records"][0]["ShardId"], [r["SequenceNumber"] for r in answer["Records"]]


def _read_all(client: Any, iterator: str) -> list[bytes]:
    return [r["Data"] for r in client.get_records(ShardIterator=iterator)["Records"]]


def test_every_iterator_type(client: Any, stream: str, ws: Workspace) -> None:
    shard, sequences = _one_shard_put(client, stream, 5, "old")
    time.sleep(0.01)  # the next records arrive in a later millisecond than these
    _one_shard_put(client, stream, 2, "mid")

    def iterator(kind: str, **extra: Any) -> str:
        answer = client.get_shard_iterator(
            StreamName=stream, ShardId=shard, ShardIteratorType=kind, **extra
        )
        return str(answer["ShardIterator"])

    latest = iterator("LATEST")
    at = iterator("AT_SEQUENCE_NUMBER", StartingSequenceNumber=sequences[2])
    after = iterator("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=sequences[2])
    trim = iterator("TRIM_HORIZON")
    arrived = ws.streams.read(stream, shard, TRIM_HORIZON, 10).records
    assert arrived[4].arrived_ms < arrived[5].arrived_ms
    at_time = iterator("AT_TIMESTAMP", Timestamp=arrived[5].arrived_ms / 1000)
    _one_shard_put(client, stream, 2, "new")

    mid_and_new = [b"mid-0", b"mid-1", b"new-0", b"new-1"]
    assert _read_all(client, latest) == [b"new-0", b"new-1"]
    assert _read_all(client, at) == [b"old-2", b"old-3", b"old-4", *mid_and_new]
    assert _read_all(client, after) == [b"old-3", b"old-4", *mid_and_new]
    assert _read_all(client, trim) == [f"old-{i}".encode() for i in range(5)] + mid_and_new
    assert _read_all(client, at_time) == mid_and_new


def test_next_iterators_continue_where_the_last_read_stopped(client: Any, stream: str) -> None:
    shard, _ = _one_shard_put(client, stream, 7, "r")
    iterator = client.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    pages = []
    for _ in range(4):
        answer = client.get_records(ShardIterator=iterator, Limit=3)
        pages.append([r["Data"].decode() for r in answer["Records"]])
        iterator = answer["NextShardIterator"]
    assert pages == [["r-0", "r-1", "r-2"], ["r-3", "r-4", "r-5"], ["r-6"], []]
    assert answer["MillisBehindLatest"] == 0
    _one_shard_put(client, stream, 1, "late")
    assert _read_all(client, iterator) == [b"late-0"]


def test_records_carry_their_key_and_arrival(client: Any, stream: str) -> None:
    before = time.time()
    put = client.put_record(StreamName=stream, Data=b'{"a": 1}', PartitionKey="device-7")
    iterator = client.get_shard_iterator(
        StreamName=stream, ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    (record,) = client.get_records(ShardIterator=iterator)["Records"]
    assert record["PartitionKey"] == "device-7"
    assert record["SequenceNumber"] == put["SequenceNumber"]
    assert record["Data"] == b'{"a": 1}'
    assert record["ApproximateArrivalTimestamp"].timestamp() >= int(before)


# -- iterators that are not genuine or too old ----------------------------------------------


def test_a_forged_iterator(client: Any, stream: str) -> None:
    genuine = client.get_shard_iterator(
        StreamName=stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    payload, _, signature = genuine.partition(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields[0] = "declared"  # point it at another stream, keeping the signature
    altered = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
    other_key = IteratorCodec(b"k" * 32).encode(stream, "shardId-000000000000", TRIM_HORIZON)
    for forged in (f"{altered}.{signature}", other_key, "garbage"):
        with pytest.raises(
            client.exceptions.InvalidArgumentException, match="not one this server issued"
        ):
            client.get_records(ShardIterator=forged)


def test_an_expired_iterator(client: Any, stream: str, root: Path) -> None:
    key_file = root / ".headwater" / "kinesis-iterators.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    codec = IteratorCodec(iterator_key(root / ".headwater"))
    issued = int(time.time() * 1000) - ITERATOR_TTL_MS - 1000
    old = codec.encode(stream, "shardId-000000000000", TRIM_HORIZON, issued_ms=issued)
    fresh = codec.encode(stream, "shardId-000000000000", TRIM_HORIZON)
    with pytest.raises(client.exceptions.ExpiredIteratorException, match="Iterator expired"):
        client.get_records(ShardIterator=old)
    assert client.get_records(ShardIterator=fresh)["Records"] == []


# -- authentication -------------------------------------------------------------------------


def test_the_access_key_must_be_a_token(url: str) -> None:
    with pytest.raises(
        ClientError, match="UnrecognizedClientException.*not one of this server's tokens"
    ):
        kinesis(url, access_key="not-a-token").list_streams()


def test_other_routes_are_not_taken(url: str) -> None:
    import httpx

    answer = httpx.post(f"{url}/", headers={"X-Amz-Target": "Other_1.Op"}, json={})
    assert answer.status_code == 404  # the app answered (it has no route there), not the API
    assert answer.json()["error"]["type"] == "NotFoundException"
    unknown = httpx.post(
        f"{url}/",
        headers={
            "X-Amz-Target": "Kinesis_20131202.SplitShard",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={TOKEN}/20260101/eu-west-1/kinesis/aws4_request",
            "Content-Type": "application/x-amz-json-1.1",
        },
        content=b"{}",
    )
    assert unknown.status_code == 400
    assert unknown.json()["__type"] == "UnknownOperationException"
