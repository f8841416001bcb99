"""The Great Expectations lab (examples/trips): per-vendor checks pass on clean data, and one
bad vendor-2 row fails exactly vendor 2's congestion_surcharge check."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from headwater import Workspace
from headwater.cli import app
from headwater.samples import trips as sample

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "trips"
ROWS = 2_000
SEED = 7
CHECKS = [
    f"vendor_{vendor}_{check}"
    for vendor in (1, 2)
    for check in (
        "pickup_datetime_not_null",
        "passenger_count_not_null",
        "congestion_surcharge_between",
    )
]


def test_the_generator_is_deterministic_and_clean() -> None:
    table = sample.trips(500, seed=3)
    assert table.equals(sample.trips(500, seed=3))
    assert not table.equals(sample.trips(500, seed=4))
    assert table.schema == sample.SCHEMA and table.num_rows == 500
    rows = table.to_pylist()
    assert {r["vendor_id"] for r in rows} == {1, 2}
    assert all(r["pickup_datetime"] < r["dropoff_datetime"] for r in rows)
    assert {r["congestion_surcharge"] for r in rows} <= {0.0, 2.5}
    assert table.column("passenger_count").null_count == 0

    bad = sample.outlier(table)
    assert bad.num_rows == 1
    assert bad.to_pylist()[0]["vendor_id"] == 2
    assert bad.to_pylist()[0]["congestion_surcharge"] == 1001.0


def test_the_entry_point_writes_the_month_then_the_outlier(tmp_path: Path) -> None:
    assert sample.main(["--out", str(tmp_path), "--rows", "300", "--seed", "3"]) == 0
    month = pq.read_table(tmp_path / sample.FILE)
    assert month.equals(sample.trips(300, seed=3))
    before = (tmp_path / sample.FILE).stat().st_mtime_ns
    assert sample.main(["--out", str(tmp_path), "--rows", "300", "--seed", "3", "--outlier"]) == 0
    assert (tmp_path / sample.FILE).stat().st_mtime_ns == before  # not rewritten, not re-read
    assert pq.read_table(tmp_path / sample.OUTLIER_FILE).equals(sample.outlier(month))


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """The example project, copied without its data, loaded with generated trips."""
    root = tmp_path / "trips"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("data", ".headwater"))
    sample.write(root / "data", ROWS, SEED)
    workspace = Workspace.open(root)
    workspace.run("trips")
    yield workspace
    workspace.close()


def by_name(ws: Workspace) -> dict[str, tuple[bool, int, int]]:
    return {r.check: (r.passed, r.evaluated, r.failing) for r in ws.check("trips").results}


def check_cli(ws: Workspace) -> int:
    return CliRunner().invoke(app, ["check", "trips", "-p", str(ws.project.root)]).exit_code


def test_clean_trips_pass_every_vendor_check(ws: Workspace) -> None:
    counts = ws.query("SELECT vendor_id, count(*) AS n FROM raw.trips GROUP BY 1 ORDER BY 1")
    per_vendor = dict(
        zip(counts.column("vendor_id").to_pylist(), counts.column("n").to_pylist(), strict=True)
    )
    assert sum(per_vendor.values()) == ROWS and set(per_vendor) == {1, 2}

    got = by_name(ws)
    assert list(got) == CHECKS
    assert got == {name: (True, per_vendor[int(name.split("_")[1])], 0) for name in CHECKS}
    assert check_cli(ws) == 0


def test_one_bad_vendor_2_row_fails_only_vendor_2_surcharge(ws: Workspace) -> None:
    table = ws.lake.table("raw.trips")
    schema = ws.lake.arrow_schema("raw.trips")
    row = sample.outlier(sample.trips(ROWS, SEED)).to_pylist()[0]
    row["source_file"] = "late_vendor_2.parquet"
    table.append(pa.Table.from_pylist([row], schema=schema))

    results = {r.check: r for r in ws.check("trips").results}
    failed = [name for name, r in results.items() if not r.passed]
    assert failed == ["vendor_2_congestion_surcharge_between"]
    bad = results["vendor_2_congestion_surcharge_between"]
    assert (bad.failing, bad.blocking) == (1, True)
    assert [r["congestion_surcharge"] for r in bad.sample] == [1001.0]
    assert all(r.failing == 0 and r.error is None for n, r in results.items() if n not in failed)
    assert check_cli(ws) == 1
