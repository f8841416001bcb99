"""Ride-sharing trips of three vendors, for the ML-pipeline lab (``examples/airflow_labs``).

Each vendor's trips are a train and a test split of ``trip_distance`` (miles),
``passenger_count`` and ``travel_time`` (seconds). Seconds make the lab's deployment rule,
"RMSE below 500", mean "predicts within about eight minutes". The vendors are made to reproduce
the lab's three outcomes:

- ``alitran``: durations include a long, random wait before the ride (exponential, mean 15
  minutes), so a line on distance misses by ~900 s: RMSE ≥ 500, the model is not deployed;
- ``easy_destiny``: durations close to a line on distance (±4 minutes at most): RMSE ≈ 100 s,
  the model is deployed;
- ``to_my_place_ai``: a good fit too, but about 2% of its trips are vans with 7 or 8
  passengers, which breaks the data-quality rule ``passenger_count <= 6``.

Deterministic: the same ``rows`` and ``seed`` give the same trips on any Python (every draw is
built on ``random.Random.random()``, see :mod:`headwater.samples.generate.draw`).

    python -m headwater.samples.vendor_trips --out examples/airflow_labs/data/trips
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from headwater.samples.generate.draw import Weighted, stream

SCHEMA = pa.schema(
    [
        ("trip_id", pa.int64()),
        ("vendor", pa.string()),
        ("passenger_count", pa.int32()),
        ("trip_distance", pa.float64()),  # miles
        ("travel_time", pa.float64()),  # seconds, pickup to drop-off
    ]
)
SPLITS = ("train", "test")
TRAIN_SHARE = 0.8
START_SECONDS = 240.0  # finding the pickup, getting in and out
SECONDS_PER_MILE = 150.0  # 24 mph through town
SEATS = Weighted([(1, 72.0), (2, 15.0), (3, 4.0), (4, 2.0), (5, 4.0), (6, 3.0)])
VAN_SEATS = Weighted([(7, 60.0), (8, 40.0)])


@dataclass(frozen=True)
class Vendor:
    """How a vendor's recorded durations stray from the line, and how often it sends a van."""

    name: str
    spread: float = 0.0  # symmetric noise, uniformly within ± this many seconds (triangular)
    wait: float = 0.0  # mean of an exponential wait, in seconds, added to every trip
    vans: float = 0.0  # share of trips with 7–8 passengers


VENDORS = {
    v.name: v
    for v in (
        Vendor("alitran", spread=120.0, wait=900.0),
        Vendor("easy_destiny", spread=240.0),
        Vendor("to_my_place_ai", spread=280.0, vans=0.02),
    )
}


def trips(vendor: str, rows: int = 2_000, seed: int = 42) -> pa.Table:
    """``rows`` trips of ``vendor`` (one of :data:`VENDORS`)."""
    if vendor not in VENDORS:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(VENDORS)}")
    profile = VENDORS[vendor]
    rng = stream(seed, f"vendor_trips:{vendor}")
    columns: dict[str, list[object]] = {name: [] for name in SCHEMA.names}
    for trip in range(rows):
        distance = round(0.5 + 14.5 * rng.random() ** 2.5, 2)  # mostly short trips
        noise = profile.spread * (rng.random() + rng.random() - 1.0)
        # 1 - random() is in (0, 1], so the logarithm is always defined
        wait = -profile.wait * math.log(1.0 - rng.random()) if profile.wait else 0.0
        van = rng.random() < profile.vans
        passengers = VAN_SEATS.draw(rng) if van else SEATS.draw(rng)
        seconds = START_SECONDS + SECONDS_PER_MILE * distance + noise + wait
        row = (trip + 1, vendor, passengers, distance, round(seconds, 1))
        for name, value in zip(SCHEMA.names, row, strict=True):
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def split(table: pa.Table) -> dict[str, pa.Table]:
    """The first 80% of the trips to train on, the rest to test (the trips are independent)."""
    cut = int(table.num_rows * TRAIN_SHARE)
    return {"train": table.slice(0, cut), "test": table.slice(cut)}


def paths(folder: Path, vendor: str) -> dict[str, Path]:
    """Where a vendor's splits are: ``folder/<vendor>/train.parquet`` and ``test.parquet``."""
    return {name: folder / vendor / f"{name}.parquet" for name in SPLITS}


def write(folder: Path, vendor: str, rows: int = 2_000, seed: int = 42) -> dict[str, Path]:
    """Write one vendor's splits under ``folder``; returns split name → file."""
    targets = paths(folder, vendor)
    for name, table in split(trips(vendor, rows, seed)).items():
        target = targets[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        # written aside and renamed: a reader never sees half a file
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        pq.write_table(table, partial)
        partial.replace(target)
    return targets


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="folder for <vendor>/*.parquet")
    parser.add_argument("--rows", type=int, default=2_000, help="trips per vendor")
    parser.add_argument("--seed", type=int, default=42, help="same seed, same data")
    parser.add_argument(
        "--vendor", action="append", choices=sorted(VENDORS), help="only this vendor (repeatable)"
    )
    args = parser.parse_args(argv)
    for vendor in args.vendor or VENDORS:
        written = write(args.out, vendor, args.rows, args.seed)
        print(f"wrote {args.rows:,} trips of {vendor} to {written['train'].parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
