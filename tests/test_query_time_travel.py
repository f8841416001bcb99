"""Queries over the lake: time travel, file pruning, read-only statements and their errors."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType

from headwater import Workspace
from headwater.errors import QueryError
from headwater.lake.catalog import Lake
from headwater.lake.change import Keep
from headwater.lake.writer import Staging, WriteResult, publish, replace_table
from headwater.sql.session import Session

ORDERS = pa.schema([("id", pa.int64()), ("status", pa.string())])


def append(lake: Lake, name: str, rows: pa.Table) -> WriteResult:
    """One APPEND snapshot of ``rows``, through Headwater's writer."""

    with Staging(lake, name, rows.schema) as staging:
        files = staging.writer().write_all(rows.to_batches())
        return publish(staging, files, keep=Keep.ALL)


def replace(lake: Lake, name: str, rows: pa.Table) -> WriteResult:
    return replace_table(lake, name, rows.to_reader())


def orders(ids: range, status: str = "new") -> pa.Table:
    return pa.table({"id": list(ids), "status": [status] * len(ids)}, schema=ORDERS)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """``shop.orders`` in three snapshots: ids 1–3, then 4–5 appended, then all five replaced
    with a new column ``note``; ``shop.events`` in three appended files of 100 rows each."""
    root = tmp_path_factory.mktemp("lake")
    (root / "headwater.yaml").write_text("name: lake\n")
    ws = Workspace.open(root)
    lake = ws.lake
    replace(lake, "shop.orders", orders(range(1, 4)))
    time.sleep(0.01)  # snapshots a few milliseconds apart: times between them exist
    append(lake, "shop.orders", orders(range(4, 6)))
    time.sleep(0.01)
    evolved = orders(range(1, 6), "paid").append_column("note", pa.array(["n"] * 5))
    replace(lake, "shop.orders", evolved)
    for part in range(3):
        append(lake, "shop.events", events(part))
    yield ws
    ws.close()


def snapshots(ws: Workspace) -> list[Any]:
    return ws.lake.snapshots("shop.orders")


def ids(ws: Workspace, sql: str) -> list[int]:
    return [row["id"] for row in ws.query(sql).to_pylist()]


# ---------------------------------------------------------------- time travel


def test_version_as_of_reads_each_snapshot(ws: Workspace) -> None:
    first, second, third = snapshots(ws)
    read = "SELECT * FROM shop.orders FOR VERSION AS OF {} ORDER BY id"
    assert ws.query(read.format(first.snapshot_id)).to_pylist() == orders(range(1, 4)).to_pylist()
    assert ws.query(read.format(second.snapshot_id)).column_names == ["id", "status"]
    assert ids(ws, read.format(second.snapshot_id)) == [1, 2, 3, 4, 5]
    current = ws.query(read.format(third.snapshot_id))
    assert current.column_names == ["id", "status", "note"]
    assert current.equals(ws.query("SELECT * FROM shop.orders ORDER BY id"))
    # the other spellings say the same
    for clause in ("FOR SYSTEM_VERSION AS OF {}", "AT (VERSION => {})"):
        sql = f"SELECT id FROM shop.orders {clause.format(first.snapshot_id)} ORDER BY id"
        assert ids(ws, sql) == [1, 2, 3]


def test_timestamp_as_of_reads_the_snapshot_current_then(ws: Workspace) -> None:
    first, second, _ = snapshots(ws)
    between = first.committed_at + (second.committed_at - first.committed_at) / 2
    at = between.strftime("%Y-%m-%d %H:%M:%S.%f")
    for clause in (
        f"FOR TIMESTAMP AS OF TIMESTAMP '{at}'",
        f"FOR SYSTEM_TIME AS OF '{at}'",
        f"AT (TIMESTAMP => TIMESTAMP '{at}')",
        # the same moment, written in another time zone
        f"FOR SYSTEM_TIME AS OF '{(between + timedelta(hours=2)).strftime('%Y-%m-%d %H:%M:%S.%f')}+02:00'",
    ):
        assert ids(ws, f"SELECT id FROM shop.orders {clause} ORDER BY id") == [1, 2, 3], clause
    exactly = second.committed_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    sql = f"SELECT id FROM shop.orders FOR TIMESTAMP AS OF TIMESTAMP '{exactly}' ORDER BY id"
    assert ids(ws, sql) == [1, 2, 3, 4, 5]
    later = "SELECT count(*) AS n FROM shop.orders FOR TIMESTAMP AS OF now() + INTERVAL 1 DAY"
    assert ws.query(later).to_pylist() == [{"n": 5}]


def test_a_time_before_the_first_snapshot_names_it(ws: Workspace) -> None:
    first = snapshots(ws)[0]
    with pytest.raises(QueryError) as info:
        ws.query("SELECT * FROM shop.orders FOR SYSTEM_TIME AS OF '2020-01-01 00:00:00'")
    committed = first.committed_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    assert info.value.message == (
        "table `shop.orders` has no snapshot at or before 2020-01-01 00:00:00.000 UTC: its "
        f"first snapshot ({first.snapshot_id}) was committed at {committed} UTC"
    )
    assert "`headwater show shop.orders` lists its snapshots" in (info.value.hint or "")


def test_unknown_versions_and_tags(ws: Workspace) -> None:
    first, second, third = snapshots(ws)
    with pytest.raises(QueryError) as info:
        ws.query("SELECT * FROM shop.orders FOR VERSION AS OF 42")
    assert info.value.message == (
        "table `shop.orders` has no snapshot 42 (the latest: "
        f"{third.snapshot_id}, {second.snapshot_id}, {first.snapshot_id})"
    )
    ws.lake.table("shop.orders").manage_snapshots().create_tag(first.snapshot_id, "v1").commit()
    assert ids(ws, "SELECT id FROM shop.orders FOR VERSION AS OF 'v1' ORDER BY id") == [1, 2, 3]
    with pytest.raises(QueryError, match="is not a timestamp for `shop.orders`"):
        ws.query("SELECT * FROM shop.orders FOR TIMESTAMP AS OF 'yesterday-ish'")


def test_two_versions_of_a_table_in_one_statement(ws: Workspace) -> None:
    first = snapshots(ws)[0].snapshot_id
    added = f"""
        SELECT id FROM shop.orders
        EXCEPT SELECT id FROM shop.orders FOR VERSION AS OF {first}
        ORDER BY id"""
    assert ids(ws, added) == [4, 5]
    changed = f"""
        SELECT now.id, old.status AS was, now.status AS "is"
        FROM shop.orders AS now JOIN shop.orders FOR VERSION AS OF {first} AS old USING (id)
        WHERE now.status <> old.status ORDER BY 1"""
    assert ws.query(changed).to_pylist() == [
        {"id": i, "was": "new", "is": "paid"} for i in (1, 2, 3)
    ]


def test_the_clause_words_inside_strings_stay_text(ws: Workspace) -> None:
    first = snapshots(ws)[0].snapshot_id
    sql = f"""SELECT 'FOR SYSTEM_VERSION AS OF 1' AS said, count(*) AS n
              FROM shop.orders FOR SYSTEM_VERSION AS OF {first} -- FOR SYSTEM_VERSION AS OF"""
    assert ws.query(sql).to_pylist() == [{"said": "FOR SYSTEM_VERSION AS OF 1", "n": 3}]


def test_a_past_snapshot_is_pruned_too(ws: Workspace) -> None:
    second = snapshots(ws)[1].snapshot_id
    sql = f"SELECT id FROM shop.orders FOR VERSION AS OF {second} WHERE id >= 4 ORDER BY id"
    assert ids(ws, sql) == [4, 5]
    assert files_read(ws, sql) == 1  # of its two files, only the appended one
    assert files_read(ws, sql.replace("WHERE id >= 4", "")) == 2


# ---------------------------------------------------------------- pushdown and pruning


def events(part: int) -> pa.Table:
    """Rows 100·part+1 … 100·part+100: ids, days and times grow with the file."""
    ids = list(range(100 * part + 1, 100 * part + 101))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "kind": ["a", "b", "c", "d"][part : part + 1] * 50 + ["z"] * 50,
            "day": [date(2026, 1, 1 + part)] * 100,
            "ts": [datetime(2026, 1, 1 + part, 12) + timedelta(seconds=i) for i in range(100)],
            "amount": pa.array([Decimal(f"{i}.25") for i in ids], pa.decimal128(10, 2)),
            "note": [None if i % 10 == 0 else f"n{i}" for i in ids],
        }
    )


ALL_EVENTS = pa.concat_tables([events(p) for p in range(3)]).to_pylist()


def files_read(ws: Workspace, sql: str) -> int:
    """How many Parquet files DuckDB opened for ``sql`` (EXPLAIN ANALYZE)."""
    plan = ws.query(f"EXPLAIN ANALYZE {sql}").column(1)[0].as_py()
    return sum(int(n) for n in re.findall(r"Total Files Read: (\d+)", plan))


PREDICATES: list[tuple[str, Any, int]] = [
    # (WHERE clause, the same test in Python, files of 3 a pruned scan still opens)
    ("id > 250", lambda r: r["id"] > 250, 1),
    ("250 < id", lambda r: r["id"] > 250, 1),
    ("id BETWEEN 90 AND 110", lambda r: 90 <= r["id"] <= 110, 2),
    ("id IN (5, 205)", lambda r: r["id"] in (5, 205), 2),
    ("id <> 10", lambda r: r["id"] != 10, 3),
    ("day >= DATE '2026-01-03'", lambda r: r["day"] >= date(2026, 1, 3), 1),
    ("day = '2026-01-02'", lambda r: r["day"] == date(2026, 1, 2), 1),
    ("ts < TIMESTAMP '2026-01-02 00:00:00'", lambda r: r["ts"] < datetime(2026, 1, 2), 1),
    ("kind LIKE 'b%'", lambda r: r["kind"].startswith("b"), 2),  # bounds a–z, b–z, c–z
    ("kind = 'z'", lambda r: r["kind"] == "z", 3),
    ("(id < 10 OR id > 290)", lambda r: r["id"] < 10 or r["id"] > 290, 2),
    ("id > 150 AND lower(kind) = 'c'", lambda r: r["id"] > 150 and r["kind"] == "c", 2),
    # more digits than decimal(10,2) holds: left to DuckDB, never rounded into a wrong prune
    ("amount > 100.251", lambda r: r["amount"] > Decimal("100.251"), 3),
    ("amount <= 100.25", lambda r: r["amount"] <= Decimal("100.25"), 1),
    ("note IS NULL AND id > 200", lambda r: r["note"] is None and r["id"] > 200, 1),
    ("NOT (id > 100)", lambda r: not r["id"] > 100, 3),  # NOT is not translated
    ("id > 1000", lambda r: False, 0),
]


@pytest.mark.parametrize(("where", "test", "files"), PREDICATES, ids=[p[0] for p in PREDICATES])
def test_pruning_keeps_every_matching_row(ws: Workspace, where: str, test: Any, files: int) -> None:
    sql = f"SELECT * FROM shop.events WHERE {where} ORDER BY id"
    expected = [r for r in ALL_EVENTS if test(r)]
    got = ws.query(sql).to_pylist()
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    assert got == expected
    assert files_read(ws, sql) == files


def test_joined_tables_are_pruned_by_their_own_filters(ws: Workspace) -> None:
    sql = """
        SELECT e.id, o.status FROM shop.events AS e
        LEFT JOIN shop.orders AS o ON o.id = e.id - 200
        WHERE e.id > 200 AND o.status = 'paid' ORDER BY 1"""
    assert ws.query(sql).to_pylist() == [{"id": 200 + i, "status": "paid"} for i in range(1, 6)]
    assert files_read(ws, sql) == 1 + 1  # one file of events, the one file of orders
    # IS NULL keeps the rows an outer join adds: never pruned across a join
    unmatched = """
        SELECT count(*) AS n FROM shop.events AS e
        LEFT JOIN shop.orders AS o ON o.id = e.id WHERE o.id IS NULL"""
    assert ws.query(unmatched).to_pylist() == [{"n": 295}]


def test_filters_and_projections_reach_the_parquet_scan(ws: Workspace) -> None:
    plan = ws.query("EXPLAIN SELECT id FROM shop.events WHERE kind = 'b'").column(1)[0].as_py()
    assert "READ_PARQUET" in plan
    assert re.search(r"Projections:\s+id", plan)
    assert re.search(r"Filters:\s+kind='b'", plan)


def test_a_partitioned_table_lists_only_matching_partitions(ws: Workspace) -> None:
    schema = Schema(
        NestedField(1, "region", StringType(), required=False),
        NestedField(2, "amount", DoubleType(), required=False),
        NestedField(3, "n", LongType(), required=False),
    )
    spec = PartitionSpec(PartitionField(1, 1000, IdentityTransform(), "region"))
    ws.lake.ensure_namespace("sales")
    ws.lake.catalog.create_table(("sales", "by_region"), schema, partition_spec=spec)
    written = {}
    for region, amounts in (("eu", [1.5, 2.5]), ("us", [10.0]), ("apac", [100.0, 200.0])):
        rows = pa.table(
            {"region": [region] * len(amounts), "amount": amounts, "n": range(len(amounts))}
        )
        written[region] = append(ws.lake, "sales.by_region", rows)
    table = ws.lake.table("sales.by_region")
    partitions = {t.file.partition[0] for t in table.scan().plan_files()}
    assert partitions == {"eu", "us", "apac"}  # one file per partition, with its value
    sql = "SELECT sum(amount) AS total FROM sales.by_region WHERE region = 'eu'"
    assert ws.query(sql).to_pylist() == [{"total": 4.0}]
    assert files_read(ws, sql) == 1
    everything = "SELECT sum(amount) AS total FROM sales.by_region WHERE amount > 0"
    assert ws.query(everything).to_pylist() == [{"total": 314.0}]
    assert files_read(ws, everything) == 3  # floating-point filters never prune
    several = "SELECT count(*) AS n FROM sales.by_region WHERE region IN ('us', 'apac')"
    assert ws.query(several).to_pylist() == [{"n": 3}]
    assert files_read(ws, several) == 2


def test_a_literal_cast_to_another_type_does_not_prune(ws: Workspace) -> None:
    """``code = CAST('5' AS INTEGER)`` compares numbers: the file holding only '05' matches."""
    for code in ("05", "5"):
        append(ws.lake, "shop.codes", pa.table({"code": [code]}))
    sql = "SELECT code FROM shop.codes WHERE code = CAST('5' AS INTEGER) ORDER BY code"
    assert ws.query(sql).to_pylist() == [{"code": "05"}, {"code": "5"}]
    assert files_read(ws, sql) == 2
    text = "SELECT code FROM shop.codes WHERE code = CAST('5' AS VARCHAR)"
    assert ws.query(text).to_pylist() == [{"code": "5"}]
    assert files_read(ws, text) == 1  # a cast to text still prunes a text column


def test_a_session_reused_after_pruned_queries(ws: Workspace) -> None:
    with Session(ws.lake) as session:

        def count(sql: str) -> int:
            return int(session.query(sql).read_all().column(0)[0].as_py())

        assert count("SELECT count(*) FROM shop.events WHERE id > 250") == 50
        assert count("SELECT count(*) FROM shop.events") == 300
        assert count("SELECT count(*) FROM shop.events WHERE id > 1000") == 0  # no file at all
        assert count("SELECT count(*) FROM shop.events WHERE id > 250") == 50
        assert count("SELECT count(*) FROM shop.events") == 300


# ---------------------------------------------------------------- what may run, and errors


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("DELETE FROM shop.orders", "DELETE"),
        ("INSERT INTO shop.orders VALUES (9, 'x', 'y')", "INSERT"),
        ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
        ("DROP TABLE shop.orders", "DROP TABLE"),
        ("COPY (SELECT 1) TO 'x.csv'", "COPY"),
        ("INSTALL spatial", "INSTALL"),
        ("EXPLAIN ANALYZE DELETE FROM shop.orders", "DELETE"),
    ],
)
def test_only_reads_run(ws: Workspace, sql: str, kind: str) -> None:
    with pytest.raises(QueryError) as info:
        ws.query(sql)
    assert info.value.message.startswith(f"{kind} statements cannot be run: only SELECT")
    assert ws.query("SELECT count(*) AS n FROM shop.orders").to_pylist() == [{"n": 5}]


def test_reads_of_every_shape_run(ws: Workspace) -> None:
    described = ws.query("DESCRIBE shop.orders").column("column_name").to_pylist()
    assert described == ["id", "status", "note"]
    summary = ws.query("SUMMARIZE SELECT id FROM shop.orders")
    assert summary.column("max").to_pylist() == ["5"]
    assert ws.query("FROM shop.orders SELECT max(id) AS m").to_pylist() == [{"m": 5}]
    assert ws.query("VALUES (1), (2)").num_rows == 2
    with pytest.raises(QueryError, match="give one statement at a time"):
        ws.query("SELECT 1; SELECT 2")


def test_unknown_tables_are_named_with_the_closest_ones(ws: Workspace) -> None:
    with pytest.raises(QueryError) as info:
        ws.query("SELECT * FROM shop.order")
    assert (
        info.value.message
        == "table `shop.order` is not in the catalog (did you mean `shop.orders`?)"
    )
    with pytest.raises(QueryError) as info:
        ws.query("SELECT * FROM orders")
    assert info.value.message == "table `orders` needs its namespace: did you mean `shop.orders`?"
    with pytest.raises(QueryError, match="table `shop.order` is not in the catalog"):
        ws.query("SELECT * FROM shop.order FOR VERSION AS OF 1")
    cte = "WITH orders AS (SELECT 1 AS id) SELECT id FROM orders"
    assert ws.query(cte).to_pylist() == [{"id": 1}]  # a CTE is not a catalog table


def test_an_error_while_rows_stream_is_a_query_error(ws: Workspace) -> None:
    # DuckDB computes a little ahead of the reader only: the error comes after rows streamed
    sql = "SELECT CASE WHEN range > 2900000 THEN error('boom at ' || range) ELSE range END AS x FROM range(3000000)"
    read = 0
    with pytest.raises(QueryError, match="boom at"), ws.query_stream(sql, 10_000) as reader:
        for batch in reader:
            read += batch.num_rows
    assert read > 0
