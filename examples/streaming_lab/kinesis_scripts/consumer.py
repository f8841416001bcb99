"""The lab's ETL consumer: reads every shard of the data stream from TRIM_HORIZON, adds the
session's derived fields and puts each session into the USA stream or the International one.
Plain boto3: it runs against Amazon Kinesis, or against `headwater serve` when
KINESIS_ENDPOINT_URL (or --endpoint-url) points at it.

    python kinesis_scripts/consumer.py                    # runs until Ctrl-C, polling once a second
    python kinesis_scripts/consumer.py --once             # stops when every shard is caught up
    python kinesis_scripts/consumer.py --idle-seconds 30  # stops after 30 s without a new record
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from typing import Any

import boto3


def transform(record: dict[str, Any]) -> dict[str, Any]:
    """The session with processing_timestamp and its product totals added."""
    history = record.get("browse_history") or []
    record["processing_timestamp"] = datetime.now(UTC).isoformat()
    record["overall_product_quantity"] = sum(item["quantity"] for item in history)
    record["overall_in_shopping_cart"] = sum(
        item["quantity"] for item in history if item["in_shopping_cart"]
    )
    record["total_different_products"] = len(history)
    return record


def shard_ids(kinesis_client: Any, stream_name: str) -> list[str]:
    """Every shard of the stream, page after page."""
    ids: list[str] = []
    response = kinesis_client.list_shards(StreamName=stream_name)
    while True:
        ids.extend(shard["ShardId"] for shard in response["Shards"])
        if not response.get("NextToken"):
            return ids
        response = kinesis_client.list_shards(NextToken=response["NextToken"])


def create_stream(kinesis_client: Any, stream_name: str, shards: int) -> None:
    """Create the stream unless it exists, and wait until it is active."""
    try:
        kinesis_client.create_stream(StreamName=stream_name, ShardCount=shards)
        print(f"created stream {stream_name} with {shards} shard{'' if shards == 1 else 's'}")
    except kinesis_client.exceptions.ResourceInUseException:
        print(f"stream {stream_name} exists already")
    kinesis_client.get_waiter("stream_exists").wait(StreamName=stream_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source-stream",
        default=os.environ.get("SOURCE_STREAM", "sessions"),
        help="the data stream to read (env SOURCE_STREAM; default: sessions)",
    )
    parser.add_argument(
        "--usa-stream",
        default=os.environ.get("USA_STREAM", "usa"),
        help="where sessions from the USA go (env USA_STREAM; default: usa)",
    )
    parser.add_argument(
        "--international-stream",
        default=os.environ.get("INTERNATIONAL_STREAM", "international"),
        help="where the other sessions go (env INTERNATIONAL_STREAM; default: international)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("KINESIS_ENDPOINT_URL"),
        help="e.g. http://127.0.0.1:8000 for headwater serve (env KINESIS_ENDPOINT_URL; "
        "unset: Amazon Kinesis)",
    )
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--limit", type=int, default=1000, help="records per get_records")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="pause when caught up")
    parser.add_argument("--once", action="store_true", help="stop when every shard is caught up")
    parser.add_argument(
        "--idle-seconds", type=float, default=None, help="stop after this long without records"
    )
    parser.add_argument(
        "--create", action="store_true", help="create the USA and International streams first"
    )
    parser.add_argument("--shards", type=int, default=1, help="shards of a created stream")
    args = parser.parse_args()

    kinesis_client = boto3.client(
        "kinesis", endpoint_url=args.endpoint_url, region_name=args.region
    )
    if args.create:
        create_stream(kinesis_client, args.usa_stream, args.shards)
        create_stream(kinesis_client, args.international_stream, args.shards)

    iterators = {
        shard_id: kinesis_client.get_shard_iterator(
            StreamName=args.source_stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for shard_id in shard_ids(kinesis_client, args.source_stream)
    }
    counts = {args.usa_stream: 0, args.international_stream: 0}
    last_record = time.monotonic()
    try:
        while iterators:
            caught_up = True
            for shard_id, shard_iterator in list(iterators.items()):
                response = kinesis_client.get_records(
                    ShardIterator=shard_iterator, Limit=args.limit
                )
                for record in response["Records"]:
                    session = transform(json.loads(record["Data"]))
                    if session["country"] == "USA":
                        destination = args.usa_stream
                    else:
                        destination = args.international_stream
                    kinesis_client.put_record(
                        StreamName=destination,
                        Data=json.dumps(session),
                        PartitionKey=session["session_id"],
                    )
                    counts[destination] += 1
                if response["Records"] or response.get("MillisBehindLatest", 0) > 0:
                    caught_up = False
                    last_record = time.monotonic()
                if response.get("NextShardIterator"):
                    iterators[shard_id] = response["NextShardIterator"]
                else:  # the shard was closed (resharded) and is read to its end
                    del iterators[shard_id]
            if caught_up:
                idle = time.monotonic() - last_record
                if args.once or (args.idle_seconds is not None and idle >= args.idle_seconds):
                    break
                time.sleep(args.poll_seconds)
    except KeyboardInterrupt:
        pass
    total = sum(counts.values())
    routed = ", ".join(f"{name} {count:,}" for name, count in counts.items())
    print(f"processed {total:,} records from {args.source_stream}: {routed}")


if __name__ == "__main__":
    main()
