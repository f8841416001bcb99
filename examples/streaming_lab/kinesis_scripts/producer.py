"""The lab's producer: user-session events put one by one into a Kinesis data stream, keyed by
session_id. Plain boto3: it runs against Amazon Kinesis, or against `headwater serve` when
KINESIS_ENDPOINT_URL (or --endpoint-url) points at it.

    python kinesis_scripts/producer.py --count 500                  # 500 generated sessions
    python kinesis_scripts/producer.py --example                    # the lab's example record alone
    python kinesis_scripts/producer.py --create --count 500 --rate 20
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import boto3

# the events come from the example's generator (generate.py, one folder up)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from generate import EXAMPLE, sessions


def send_record(kinesis_client: Any, stream_name: str, data: dict[str, Any], key: str) -> Any:
    """Put one record, its data the JSON of ``data``, into ``stream_name``."""
    return kinesis_client.put_record(
        StreamName=stream_name, Data=json.dumps(data), PartitionKey=key
    )


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
        "--stream",
        default=os.environ.get("SOURCE_STREAM", "sessions"),
        help="the data stream to put into (env SOURCE_STREAM; default: sessions)",
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("KINESIS_ENDPOINT_URL"),
        help="e.g. http://127.0.0.1:8000 for headwater serve (env KINESIS_ENDPOINT_URL; "
        "unset: Amazon Kinesis)",
    )
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--count", type=int, default=100, help="sessions to generate")
    parser.add_argument("--rate", type=float, default=0, help="records a second (0: at once)")
    parser.add_argument("--seed", type=int, default=42, help="same seed, same sessions")
    parser.add_argument("--example", action="store_true", help="put the lab's example record")
    parser.add_argument("--create", action="store_true", help="create the stream first")
    parser.add_argument("--shards", type=int, default=2, help="shards of a created stream")
    args = parser.parse_args()

    kinesis_client = boto3.client(
        "kinesis", endpoint_url=args.endpoint_url, region_name=args.region
    )
    if args.create:
        create_stream(kinesis_client, args.stream, args.shards)

    records = [EXAMPLE] if args.example else sessions(args.count, args.seed)
    started, sent = time.monotonic(), 0
    for record in records:
        response = send_record(kinesis_client, args.stream, record, record["session_id"])
        sent += 1
        if sent % 100 == 0:
            print(f"{sent} records sent, last to {response['ShardId']}")
        if args.rate > 0:
            time.sleep(max(0.0, started + sent / args.rate - time.monotonic()))
    print(f"put {sent:,} record{'' if sent == 1 else 's'} into {args.stream}")


if __name__ == "__main__":
    main()
