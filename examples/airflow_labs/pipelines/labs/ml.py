"""The ML lab's tasks: check a vendor's trips, fit trip time on distance, deploy or notify.

Trip times are in seconds, so the deployment rule "RMSE below 500" means the model predicts a
trip's duration within about eight minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from headwater import Branch, TaskContext, task
from headwater.errors import QualityFailed
from headwater.samples import vendor_trips
from labs import common

MAX_RMSE = 500.0  # seconds; a pipeline param, so `--conf '{"max_rmse": 800}'` can change it
MAX_PASSENGERS = 6


def trips(ctx: TaskContext, vendor: str) -> dict[str, Path]:
    """The vendor's train and test files under ``<data_dir>/trips``, generated when missing."""
    folder = common.data_dir(ctx) / "trips"
    files = vendor_trips.paths(folder, vendor)
    if not all(path.exists() for path in files.values()):
        ctx.log.info(f"no trips of {vendor} in {folder}: generating them")
        files = vendor_trips.write(folder, vendor)
    return files


def _max_rmse(ctx: TaskContext) -> float:
    return float(ctx.params.get("max_rmse", MAX_RMSE))


@task
def check_quality(vendor: str, ctx: TaskContext) -> int:
    """Fail when any of the vendor's trips has more than six passengers: nothing downstream
    (training, deployment) runs on data that breaks the rule."""
    files = [str(path) for path in trips(ctx, vendor).values()]
    with duckdb.connect() as con:
        found = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE passenger_count > {MAX_PASSENGERS}) "
            "FROM read_parquet(?)",
            [files],
        ).fetchone()
    assert found is not None
    total, bad = found
    if bad:
        raise QualityFailed(
            f"{bad} of {total} trips of {vendor} break the rule "
            f"passenger_count <= {MAX_PASSENGERS}",
            table=f"trips/{vendor}",
            failed=[f"passenger_count <= {MAX_PASSENGERS}"],
            hint="the model was not trained; correct the trips and run the pipeline again",
        )
    ctx.log.info(f"{total} trips of {vendor} pass: passenger_count <= {MAX_PASSENGERS}")
    return int(total)


@task
def train(vendor: str, ctx: TaskContext) -> dict:
    """Fit ``travel_time = slope × trip_distance + intercept`` (least squares) on the train
    split and measure its RMSE on the test split; the value is the model."""
    files = trips(ctx, vendor)
    with duckdb.connect() as con:
        fitted = con.execute(
            "SELECT regr_slope(travel_time, trip_distance), "
            "regr_intercept(travel_time, trip_distance), count(*) FROM read_parquet(?)",
            [str(files["train"])],
        ).fetchone()
        assert fitted is not None
        slope, intercept, train_rows = fitted
        tested = con.execute(
            "SELECT sqrt(avg(power(travel_time - (? * trip_distance + ?), 2))), count(*) "
            "FROM read_parquet(?)",
            [slope, intercept, str(files["test"])],
        ).fetchone()
    assert tested is not None
    rmse, test_rows = tested
    model = {
        "vendor": vendor,
        "slope": slope,
        "intercept": intercept,
        "rmse": rmse,
        "train_rows": train_rows,
        "test_rows": test_rows,
    }
    ctx.log.info(
        f"travel_time = {slope:.2f} × trip_distance + {intercept:.2f}; "
        f"RMSE on {test_rows} test trips: {rmse:.1f} s"
    )
    return model


@task
def is_deployable(model: dict, ctx: TaskContext) -> Branch:
    """Deploy a model whose RMSE is below ``max_rmse``; otherwise notify."""
    chosen = "deploy" if model["rmse"] < _max_rmse(ctx) else "notify"
    return Branch(chosen, value=chosen)


@task
def deploy(model: dict, ctx: TaskContext) -> str:
    """Write the model's coefficients to ``<data_dir>/models/<vendor>/model.json``."""
    target = common.data_dir(ctx) / "models" / model["vendor"] / "model.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    ctx.log.info(f"deployed the model of {model['vendor']} to {target}")
    return common.shown(ctx, target)


@task
def notify(model: dict, ctx: TaskContext) -> None:
    """Say why the model was not deployed."""
    print(
        f"Model of {model['vendor']} not deployed: RMSE {model['rmse']:.1f} s "
        f"is not below {_max_rmse(ctx):g} s"
    )
