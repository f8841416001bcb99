"""One contender of bench/quality.py, run as its own process: the eight checks on the Parquet
file, then one JSON line ``{"counts": {check: failing rows}, "semantics": {...}}`` on stdout.

    python bench/quality_contenders.py duckdb_sql bench/.work/quality/events.parquet

Headwater is not here: it runs as its CLI, ``headwater check``, on the Iceberg copy.
Each tool counts with its own semantics; ``semantics`` says which, for the comparison:
``unique`` is "extra" (rows beyond the first of each value) or "all" (every row of a
duplicated value).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STATUSES = ["new", "paid", "shipped", "delivered", "cancelled"]
AMOUNT = (0, 100_000)
CODE_LENGTH = 7
CHECKS = (
    "id_not_null",
    "status_not_null",
    "id_unique",
    "amount_between",
    "status_accepted",
    "code_length",
    "row_count",
    "customer_id_not_null",
)


def duckdb_sql(parquet: Path) -> dict[str, int]:
    """The baseline: one hand-written query, one scan."""
    import duckdb

    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    row = duckdb.sql(
        f"""
        SELECT count(*) FILTER (WHERE id IS NULL),
               count(*) FILTER (WHERE status IS NULL),
               count(id) - count(DISTINCT id),
               count(*) FILTER (WHERE amount NOT BETWEEN {AMOUNT[0]} AND {AMOUNT[1]}),
               count(*) FILTER (WHERE status NOT IN ({statuses})),
               count(*) FILTER (WHERE length(code) <> {CODE_LENGTH}),
               count(*),
               count(*) FILTER (WHERE customer_id IS NULL)
        FROM read_parquet('{parquet}')
        """
    ).fetchone()
    assert row is not None
    return dict(zip(CHECKS, map(int, row), strict=True))


def great_expectations(parquet: Path) -> dict[str, int]:
    """GX 1.x on a pandas DataFrame: an ephemeral context, one suite, one validation."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    frame = pd.read_parquet(parquet)
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("pandas")
        .add_dataframe_asset("events")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(
        name="events",
        expectations=[
            gxe.ExpectColumnValuesToNotBeNull(column="id"),
            gxe.ExpectColumnValuesToNotBeNull(column="status"),
            gxe.ExpectColumnValuesToBeUnique(column="id"),
            gxe.ExpectColumnValuesToBeBetween(
                column="amount", min_value=AMOUNT[0], max_value=AMOUNT[1]
            ),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=STATUSES),
            gxe.ExpectColumnValueLengthsToBeBetween(
                column="code", min_value=CODE_LENGTH, max_value=CODE_LENGTH
            ),
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        ],
    )
    result = batch.validate(suite, result_format="BASIC")
    names = {
        ("expect_column_values_to_not_be_null", "id"): "id_not_null",
        ("expect_column_values_to_not_be_null", "status"): "status_not_null",
        ("expect_column_values_to_be_unique", "id"): "id_unique",
        ("expect_column_values_to_be_between", "amount"): "amount_between",
        ("expect_column_values_to_be_in_set", "status"): "status_accepted",
        ("expect_column_value_lengths_to_be_between", "code"): "code_length",
        ("expect_table_row_count_to_be_between", None): "row_count",
        ("expect_column_values_to_not_be_null", "customer_id"): "customer_id_not_null",
    }
    counts = {}
    for r in result.results:  # not in the suite's order
        config = r.expectation_config
        name = names[(config.type, config.kwargs.get("column"))]
        got = r.result
        counts[name] = int(got["observed_value" if name == "row_count" else "unexpected_count"])
    return {name: counts[name] for name in CHECKS}


def pandera_polars(parquet: Path) -> dict[str, int]:
    """Pandera's polars backend on an eager polars DataFrame, every failure collected."""
    import pandera.polars as pa
    import polars as pl

    frame = pl.read_parquet(parquet)
    schema = pa.DataFrameSchema(
        {
            "id": pa.Column(pl.Int64, nullable=False, unique=True),
            "status": pa.Column(pl.Utf8, nullable=False, checks=pa.Check.isin(STATUSES)),
            "amount": pa.Column(pl.Float64, checks=pa.Check.in_range(*AMOUNT)),
            "code": pa.Column(pl.Utf8, checks=pa.Check.str_length(CODE_LENGTH, CODE_LENGTH)),
            "customer_id": pa.Column(pl.Int32, nullable=False),
        },
        checks=[pa.Check(lambda data: data.lazyframe.select(pl.len() >= 1), name="row_count")],
    )
    counts = dict.fromkeys(CHECKS, 0)
    counts["row_count"] = frame.height
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for column, check, n in (
            cases.group_by("column", "check").len().sort("column", "check").iter_rows()
        ):
            key = {
                ("id", "not_nullable"): "id_not_null",
                ("status", "not_nullable"): "status_not_null",
                ("id", "field_uniqueness"): "id_unique",
                ("amount", "in_range(0, 100000)"): "amount_between",
                ("status", f"isin({STATUSES})"): "status_accepted",
                ("code", f"str_length({CODE_LENGTH}, {CODE_LENGTH})"): "code_length",
                ("customer_id", "not_nullable"): "customer_id_not_null",
            }.get((column, check))
            if key is None:
                raise RuntimeError(f"unexpected pandera failure {column}/{check}: {n}") from exc
            counts[key] = int(n)
    return counts


def soda_core(parquet: Path) -> dict[str, int]:
    """Soda Core 4 with its DuckDB data source: a data contract verified locally, on a DuckDB
    database whose ``events`` is a view of the Parquet file."""
    import duckdb
    from soda_core.contracts import verify_contract_locally

    work = parquet.parent / "soda"
    work.mkdir(exist_ok=True)
    database = work / "events.duckdb"
    if not database.exists():
        with duckdb.connect(str(database)) as con:
            con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{parquet}')")
    (work / "data_source.yml").write_text(
        f"type: duckdb\nname: bench\nconnection:\n  database: {database}\n  read_only: true\n"
    )
    statuses = ", ".join(f"'{s}'" for s in STATUSES)
    (work / "contract.yml").write_text(
        f"""dataset: bench/events/main/events
checks:
  - row_count:
columns:
  - name: id
    checks:
      - missing:
      - duplicate:
  - name: status
    checks:
      - missing:
      - invalid:
          valid_values: [{statuses}]
  - name: amount
    checks:
      - invalid:
          valid_min: {AMOUNT[0]}
          valid_max: {AMOUNT[1]}
  - name: code
    checks:
      - invalid:
          valid_length: {CODE_LENGTH}
  - name: customer_id
    checks:
      - missing:
"""
    )
    result = verify_contract_locally(
        data_source_file_path=str(work / "data_source.yml"),
        contract_file_path=str(work / "contract.yml"),
    )
    return _soda_counts(result)


def _soda_counts(result: object) -> dict[str, int]:
    counts: dict[str, int] = {}
    for contract in result.contract_verification_results:  # type: ignore[attr-defined]
        for check in contract.check_results:
            column = check.check.column_name
            kind = check.check.type
            key = {
                (None, "row_count"): "row_count",
                ("id", "missing"): "id_not_null",
                ("id", "duplicate"): "id_unique",
                ("status", "missing"): "status_not_null",
                ("status", "invalid"): "status_accepted",
                ("amount", "invalid"): "amount_between",
                ("code", "invalid"): "code_length",
                ("customer_id", "missing"): "customer_id_not_null",
            }[(column, kind)]
            counts[key] = int(check.diagnostic_metric_values.get(_SODA_METRIC[kind]))
    return {name: counts[name] for name in CHECKS}


_SODA_METRIC = {
    "row_count": "check_rows_tested",
    "missing": "missing_count",
    "duplicate": "duplicate_count",
    "invalid": "invalid_count",
}

CONTENDERS = {
    "duckdb_sql": duckdb_sql,
    "great_expectations": great_expectations,
    "pandera_polars": pandera_polars,
    "soda_core": soda_core,
}
SEMANTICS = {
    "duckdb_sql": "extra",
    "great_expectations": "all",
    "pandera_polars": "all",  # the polars backend ignores report_duplicates
    "soda_core": "extra",
}


def main(argv: list[str]) -> int:
    name, parquet = argv[0], Path(argv[1]).resolve()
    counts = CONTENDERS[name](parquet)
    print(json.dumps({"counts": counts, "semantics": {"unique": SEMANTICS[name]}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
