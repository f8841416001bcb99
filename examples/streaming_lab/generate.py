"""User-session events of the course's streaming lab, put into the `sessions` stream (keyed
by session_id) at a chosen rate, or printed as JSON lines.

    python generate.py --count 10000 --rate 500      # 500 events a second into `sessions`
    python generate.py --example                      # the lab's example record alone
    python generate.py --count 100 --stdout | headwater stream put sessions --key session_id
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# the lab's example record: 3 products in all, 2 in the cart, 2 different products; USA
EXAMPLE = {
    "session_id": "a1b2c3",
    "customer_number": 123,
    "city": "New York",
    "country": "USA",
    "credit_limit": 5000,
    "browse_history": [
        {"product_code": "S10_1678", "quantity": 1, "in_shopping_cart": False},
        {"product_code": "S10_1949", "quantity": 2, "in_shopping_cart": True},
    ],
}

PLACES = [
    ("New York", "USA"),
    ("San Francisco", "USA"),
    ("Boston", "USA"),
    ("Las Vegas", "USA"),
    ("Nantes", "France"),
    ("Paris", "France"),
    ("Madrid", "Spain"),
    ("Melbourne", "Australia"),
    ("Tokyo", "Japan"),
    ("Frankfurt", "Germany"),
    ("Singapore", "Singapore"),
    ("London", "UK"),
]
PRODUCTS = [
    "S10_1678", "S10_1949", "S10_2016", "S10_4698", "S10_4757", "S10_4962", "S12_1099",
    "S12_1108", "S12_1666", "S12_2823", "S12_3148", "S12_3380", "S12_3891", "S12_3990",
    "S18_1097", "S18_1129", "S18_1342", "S18_1367", "S18_1589", "S18_1662", "S24_1444",
    "S24_1578", "S24_1628", "S24_1785", "S32_1268", "S32_1374", "S50_1341", "S700_1138",
]  # fmt: skip


def sessions(count: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for _ in range(count):
        city, country = rng.choice(PLACES)
        products = rng.sample(PRODUCTS, rng.randint(1, 6))
        yield {
            "session_id": f"{rng.getrandbits(48):012x}",
            "customer_number": rng.randint(103, 496),
            "city": city,
            "country": country,
            "credit_limit": rng.choice([0, 21000, 45300, 71800, 90700, 117300, 227600]),
            "browse_history": [
                {
                    "product_code": code,
                    "quantity": rng.randint(1, 10),
                    "in_shopping_cart": rng.random() < 0.4,
                }
                for code in products
            ],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="events to generate")
    parser.add_argument("--rate", type=float, default=0, help="events a second (0: at once)")
    parser.add_argument("--seed", type=int, default=42, help="same seed, same events")
    parser.add_argument("--example", action="store_true", help="put the lab's example record")
    parser.add_argument("--stdout", action="store_true", help="print JSON lines instead")
    parser.add_argument("--stream", default="sessions")
    parser.add_argument("--project", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()

    events = iter([EXAMPLE]) if args.example else sessions(args.count, args.seed)
    if args.stdout:
        for event in events:
            sys.stdout.write(json.dumps(event) + "\n")
        return

    from headwater import Workspace
    from headwater.streams.records import Entry

    with Workspace.open(args.project) as ws:
        batch = max(1, min(500, int(args.rate) or 500))  # about ten puts a second at a rate
        started, sent = time.monotonic(), 0
        while True:
            chunk = [next(events, None) for _ in range(batch)]
            entries = [
                Entry(json.dumps(e).encode(), partition_key=e["session_id"]) for e in chunk if e
            ]
            if not entries:
                break
            ws.streams.put(args.stream, entries)
            sent += len(entries)
            if args.rate > 0:
                time.sleep(max(0.0, started + sent / args.rate - time.monotonic()))
        print(f"put {sent:,} event{'' if sent == 1 else 's'} into {args.stream}")


if __name__ == "__main__":
    main()
