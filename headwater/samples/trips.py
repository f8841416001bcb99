"""NYC-taxi-like yellow-cab trips, for the Great Expectations lab (``examples/trips``).

Deterministic: the same ``rows`` and ``seed`` give the same table on any Python (every draw is
built on ``random.Random.random()``, see :mod:`headwater.samples.generate.draw`). The columns
are the TLC's yellow-trip record, snake-cased; the data is clean for the lab's checks
(``pickup_datetime`` and ``passenger_count`` never NULL, ``congestion_surcharge`` 0 or 2.5).

    python -m headwater.samples.trips --out examples/trips/data --rows 10000
    python -m headwater.samples.trips --out examples/trips/data --outlier   # + one bad row
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from headwater.samples.generate.draw import Weighted, chance, integer, stream

MONTH = datetime(2022, 1, 1)
MONTH_SECONDS = 31 * 24 * 3600
VENDORS = Weighted([(1, 35.0), (2, 65.0)])  # Creative Mobile Technologies, VeriFone
PASSENGERS = Weighted([(1, 72.0), (2, 15.0), (3, 4.0), (4, 2.0), (5, 4.0), (6, 3.0)])
RATE_CODES = Weighted([(1, 95.0), (2, 3.0), (3, 0.5), (4, 0.3), (5, 1.2)])
PAYMENTS = Weighted([(1, 75.0), (2, 23.0), (3, 1.2), (4, 0.8)])  # card, cash, none, dispute
FILE = "yellow_tripdata_2022-01.parquet"
OUTLIER_FILE = "late_vendor_2.parquet"

SCHEMA = pa.schema(
    [
        ("vendor_id", pa.int32()),
        ("pickup_datetime", pa.timestamp("us")),
        ("dropoff_datetime", pa.timestamp("us")),
        ("passenger_count", pa.int32()),
        ("trip_distance", pa.float64()),
        ("rate_code_id", pa.int32()),
        ("store_and_fwd_flag", pa.string()),
        ("pu_location_id", pa.int32()),
        ("do_location_id", pa.int32()),
        ("payment_type", pa.int32()),
        ("fare_amount", pa.float64()),
        ("extra", pa.float64()),
        ("mta_tax", pa.float64()),
        ("tip_amount", pa.float64()),
        ("tolls_amount", pa.float64()),
        ("improvement_surcharge", pa.float64()),
        ("total_amount", pa.float64()),
        ("congestion_surcharge", pa.float64()),
    ]
)


def trips(rows: int = 10_000, seed: int = 42) -> pa.Table:
    """``rows`` trips of January 2022, in pickup order, from vendors 1 and 2."""
    rng = stream(seed, "trips")
    columns: dict[str, list[object]] = {name: [] for name in SCHEMA.names}
    for position in range(rows):
        pickup = MONTH + timedelta(seconds=int((position + rng.random()) / rows * MONTH_SECONDS))
        distance = round(0.3 + 12.0 * rng.random() ** 2.5, 2)
        minutes = distance * (2.5 + 3.0 * rng.random()) + 1.0
        rate = RATE_CODES.draw(rng)
        payment = PAYMENTS.draw(rng)
        fare = 52.0 if rate == 2 else round(2.5 + 2.5 * distance + 0.5 * minutes, 1)
        hour = pickup.hour
        extra = 1.0 if 16 <= hour < 20 else 0.5 if hour >= 20 or hour < 6 else 0.0
        tolls = 6.55 if chance(rng, 0.05) else 0.0
        congestion = 2.5 if chance(rng, 0.9) else 0.0
        tip = round((fare + extra) * (0.1 + 0.2 * rng.random()), 2) if payment == 1 else 0.0
        row = {
            "vendor_id": VENDORS.draw(rng),
            "pickup_datetime": pickup,
            "dropoff_datetime": pickup + timedelta(seconds=int(minutes * 60)),
            "passenger_count": PASSENGERS.draw(rng),
            "trip_distance": distance,
            "rate_code_id": rate,
            "store_and_fwd_flag": "Y" if chance(rng, 0.01) else "N",
            "pu_location_id": integer(rng, 1, 263),
            "do_location_id": integer(rng, 1, 263),
            "payment_type": payment,
            "fare_amount": fare,
            "extra": extra,
            "mta_tax": 0.5,
            "tip_amount": tip,
            "tolls_amount": tolls,
            "improvement_surcharge": 0.3,
            "total_amount": round(fare + extra + 0.5 + tip + tolls + 0.3 + congestion, 2),
            "congestion_surcharge": congestion,
        }
        for name, value in row.items():
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def outlier(table: pa.Table, vendor: int = 2, surcharge: float = 1001.0) -> pa.Table:
    """One row of ``vendor`` from ``table`` with ``congestion_surcharge`` set to ``surcharge``:
    the lab's bad record, outside the check's 0–1000."""
    row = next(r for r in table.to_pylist() if r["vendor_id"] == vendor)
    row["congestion_surcharge"] = surcharge
    return pa.Table.from_pylist([row], schema=SCHEMA)


def write(folder: Path, rows: int = 10_000, seed: int = 42) -> Path:
    """The month's trips as ``folder/yellow_tripdata_2022-01.parquet``; returns the file."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(trips(rows, seed), folder / FILE)
    return folder / FILE


def write_outlier(folder: Path, rows: int = 10_000, seed: int = 42) -> Path:
    """The lab's bad record alone, as ``folder/late_vendor_2.parquet``: a file that arrives
    after the month's (the month's file is left as it is, so it is not read again)."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(outlier(trips(rows, seed)), folder / OUTLIER_FILE)
    return folder / OUTLIER_FILE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="folder for the Parquet files")
    parser.add_argument("--rows", type=int, default=10_000, help="trips to generate")
    parser.add_argument("--seed", type=int, default=42, help="same seed, same data")
    parser.add_argument(
        "--outlier",
        action="store_true",
        help=f"write only {OUTLIER_FILE}: one vendor-2 trip with congestion_surcharge 1001",
    )
    args = parser.parse_args(argv)
    if args.outlier:
        path = write_outlier(args.out, args.rows, args.seed)
        print(f"wrote 1 vendor-2 trip with congestion_surcharge 1001 to {path}")
    else:
        path = write(args.out, args.rows, args.seed)
        print(f"wrote {args.rows:,} trips to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
