"""The lake's one read path (without pyiceberg or SQLAlchemy's ORM): same answers, fewer imports."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from headwater import Workspace
from headwater.lake import Lake, replace_table
from headwater.lake.change import Keep
from headwater.lake.writer import Staging, publish
from headwater.quality.results import CheckResult
from headwater.state import Store


def _reader(table: pa.Table) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=2))


def _append(lake: Lake, name: str, table: pa.Table, keep: Keep = Keep.ALL) -> None:
    with Staging(lake, name, table.schema) as staging:
        files = staging.writer().write_all(_reader(table))
        publish(staging, files, keep=keep, properties={"headwater.cursor": "7"})


def _pyiceberg_files(lake: Lake, name: str) -> set[str]:
    return {t.file.file_path for t in lake.table(name).scan().plan_files()}


def test_metadata_files_are_pyicebergs(tmp_path: Path) -> None:
    lake = Lake.local(tmp_path / ".headwater")
    first = pa.table({"id": pa.array([1, 2, 3], pa.int64())})
    replace_table(lake, "raw.t", _reader(first))
    _append(lake, "raw.t", pa.table({"id": pa.array([4, 5], pa.int64())}))
    wider = pa.table({"id": pa.array([6], pa.int64()), "note": ["new column"]})
    _append(lake, "raw.t", wider)

    current = lake.current_metadata("raw.t")
    assert current is not None
    files = current.data_files
    assert files is not None
    assert {f.path for f in files} == _pyiceberg_files(lake, "raw.t")
    assert len(files) == 3  # 3 rows in one file, then 2 and 1: each write one file
    assert sum(f.record_count for f in files) == 6
    assert current.schema_count == len(lake.table("raw.t").schemas()) == 2
    snapshot = lake.table("raw.t").current_snapshot()
    assert snapshot is not None and snapshot.summary is not None
    assert current.summary["headwater.cursor"] == "7"
    assert current.summary["total-records"] == snapshot.summary["total-records"] == "6"
    assert sorted(lake.data_files("raw.t")) == sorted(_pyiceberg_files(lake, "raw.t"))

    # an overwrite deletes every file: the deleted entries are not live any more
    _append(lake, "raw.t", wider, keep=Keep.NONE)
    after = lake.current_metadata("raw.t")
    assert after is not None and after.data_files is not None
    assert {f.path for f in after.data_files} == _pyiceberg_files(lake, "raw.t")
    assert [f.record_count for f in after.data_files] == [1]


def test_a_catalog_in_postgresql_is_read_by_the_same_path(
    tmp_path: Path, postgres_url: str
) -> None:
    from headwater.errors import TableNotFound

    lake = Lake(postgres_url, (tmp_path / "warehouse").as_uri())
    assert lake.tables() == [] and lake.current_metadata("raw.t") is None  # no catalog yet
    replace_table(lake, "raw.t", _reader(pa.table({"id": pa.array([1, 2, 3], pa.int64())})))
    _append(lake, "raw.t", pa.table({"id": pa.array([4], pa.int64()), "note": ["n"]}))
    assert lake.tables() == ["raw.t"]
    assert lake.info("raw.t").rows == 4 and lake.info("raw.t").files == 2
    assert lake.arrow_schema("raw.t").names == ["id", "note"]
    assert sorted(lake.data_files("raw.t")) == sorted(_pyiceberg_files(lake, "raw.t"))
    assert [s.operation for s in lake.snapshots("raw.t")] == ["append", "append"]
    with pytest.raises(TableNotFound, match="did you mean `raw.t`"):
        lake.info("raw.tt")
    empty = Lake.local(tmp_path / "new")
    assert empty.current_metadata("raw.missing") is None


def _result(check: str, observed: Any, passed: bool = True) -> CheckResult:
    return CheckResult(
        table="raw.t",
        check=check,
        kind="not_null",
        severity="error",
        passed=passed,
        evaluated=10,
        failing=0 if passed else 3,
        observed=observed,
        error=None if passed else "x",
    )


CHILD = """
import json, sys
from headwater.cli.app import main
sys.argv = ["headwater", "check", "s", "--project", sys.argv[1], "--format", "json"]
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted({m for m in sys.modules} & {"pyiceberg", "sqlalchemy.orm", "duckdb.experimental"})
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_check_command_reads_the_embedded_lake_without_pyiceberg(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text("name: lean\n")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "s.yaml").write_text(
        "raw.t:\n  - not_null: v\n  - unique: id\n  - row_count: {min: 1}\n"
    )
    with Workspace.open(tmp_path) as ws:
        table = pa.table({"id": pa.array([1, 2, 2, 3], pa.int64()), "v": [1, None, 3, None]})
        replace_table(ws.lake, "raw.t", _reader(table))
        ws.store  # noqa: B018 - the store exists, as after any earlier command

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, check=True
    )
    lines = child.stdout.strip().splitlines()
    status = json.loads(lines[-1])
    report = json.loads("\n".join(lines[:-1]))
    assert status == {"code": 1, "heavy": []}
    got = {r["check"]: (r["evaluated"], r["failing"], r["observed"]) for r in report["results"]}
    assert got == {
        "not_null_v": (4, 2, 2),
        "unique_id": (4, 1, 1),
        "row_count": (4, 0, 4),
    }
    # recorded where every other command reads the history
    with Workspace.open(tmp_path) as ws:
        history = ws.store.check_history("raw.t")
    assert sorted((r["check_name"], r["failing"]) for r in history) == [
        ("not_null_v", 2),
        ("row_count", 0),
        ("unique_id", 1),
    ]


@pytest.mark.parametrize("module", ["headwater.lake", "headwater.state", "headwater.orchestrate"])
def test_packages_import_their_heavy_parts_on_first_use(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyiceberg', 'sqlalchemy'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_manifest_counts_answer_not_null_and_row_count(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text("name: counts\n")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "s.yaml").write_text(
        "raw.t:\n  - not_null: v\n  - not_null: w\n  - row_count: {min: 1}\n"
        "  - not_null: {column: v, where: 'id > 1', name: v_where}\n"
    )
    with Workspace.open(tmp_path) as ws:
        replace_table(ws.lake, "raw.t", _reader(pa.table({"id": [1, 2], "v": [None, 2]})))
        # a column added later: the first file's statistics know nothing of it
        _append(
            ws.lake, "raw.t", pa.table({"id": [3, 4, 5], "v": [3, None, None], "w": [1, None, 3]})
        )
        current = ws.lake.current_metadata("raw.t")
        assert current is not None
        counts = current.column_counts()
        assert counts is not None
        assert (counts.rows, counts.nulls) == (5, {"id": 0, "v": 3})  # no `w`: not known

        got = {r.check: (r.evaluated, r.failing) for r in ws.check("s").results}
    # `w` is NULL in the two rows loaded before it existed: only a scan sees them
    assert got == {
        "not_null_v": (5, 3),
        "not_null_w": (5, 3),
        "row_count": (5, 0),
        "v_where": (4, 2),
    }


def test_known_counts_are_used_instead_of_the_scan() -> None:
    import duckdb

    from headwater.lake.metadata import ColumnCounts
    from headwater.quality import rules
    from headwater.quality.evaluate import evaluate

    con = duckdb.connect()
    con.execute("CREATE VIEW t AS SELECT * FROM (VALUES (1, NULL), (2, 5)) AS v(id, x)")
    checks = [
        rules.NotNull(column="x"),
        rules.NotNull(column="id"),
        rules.RowCount(min=1),
    ]
    known = ColumnCounts(rows=10, nulls={"x": 3})  # as if the manifests said so
    suite = evaluate(con, "raw.t", "t", checks, lambda n: n, samples=0, known=known)
    got = {r.check: (r.evaluated, r.failing, r.observed) for r in suite.results}
    assert got == {
        "not_null_x": (10, 3, 3),  # from the counts
        "not_null_id": (2, 0, 0),  # no count for `id`: scanned, 2 rows
        "row_count": (10, 0, 10),
    }


def test_arrow_schema_from_the_metadata_is_pyicebergs(tmp_path: Path) -> None:
    import datetime as dt
    from decimal import Decimal

    lake = Lake.local(tmp_path / ".headwater")
    table = pa.table(
        {
            "a": pa.array([1], pa.int64()),
            "b": pa.array([1], pa.int16()),
            "c": pa.array([Decimal("1.50")], pa.decimal128(12, 2)),
            "s": pa.array(["x"], pa.large_string()),
            "ts": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ns")),
            "tz": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ms", tz="Europe/Paris")),
            "d": pa.array([dt.date(2024, 1, 1)]),
            "f": pa.array([1.0], pa.float32()),
            "g": pa.array([1.0], pa.float64()),
            "bo": [True],
            "bi": pa.array([b"x"], pa.large_binary()),
            "tm": pa.array([dt.time(1, 2)], pa.time64("us")),
        }
    )
    replace_table(lake, "raw.t", _reader(table))
    current = lake.current_metadata("raw.t")
    assert current is not None
    lean = current.arrow_schema()
    from headwater.lake.arrow_types import storable_schema

    by_pyiceberg = storable_schema(lake.table("raw.t").schema().as_arrow())
    assert lean.equals(by_pyiceberg, check_metadata=True)

    nested = pa.table(
        {
            "l": pa.array([[1, 2]], pa.list_(pa.int64())),
            "st": pa.array([{"x": 1, "y": "a"}]),
            "m": pa.array([[("k", 1.5)]], pa.map_(pa.string(), pa.float64())),
        }
    )
    replace_table(lake, "raw.n", _reader(nested))
    current = lake.current_metadata("raw.n")
    assert current is not None
    assert current.arrow_schema().equals(
        storable_schema(lake.table("raw.n").schema().as_arrow()), check_metadata=True
    )
    counts = current.column_counts()  # a nested column has no counts of its own
    assert counts is not None and (counts.rows, counts.nulls, counts.bounds) == (1, {}, {})
    assert lake.arrow_schema("raw.n").field("l").type == pa.list_(pa.int64())


def test_unique_integers_are_counted_in_a_bitmap_of_the_manifest_bounds(tmp_path: Path) -> None:
    from headwater.quality import rules
    from headwater.quality.compile import compile_check

    (tmp_path / "headwater.yaml").write_text("name: bitmap\n")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "s.yaml").write_text(
        "raw.t:\n  - unique: id\n  - unique: small\n"
        "  - unique: {columns: [id], where: 'small > 0', name: id_where}\n"
    )
    first = pa.table(
        {"id": pa.array([-5, 1, 2, None], pa.int64()), "small": pa.array([1, 1, 2, 3], pa.int32())}
    )
    # the second file repeats -5 and 2 of the first, and 7 twice within itself
    second = pa.table(
        {"id": pa.array([2, 7, 7, -5], pa.int64()), "small": pa.array([4, -1, 5, None], pa.int32())}
    )
    with Workspace.open(tmp_path) as ws:
        replace_table(ws.lake, "raw.t", _reader(first))
        _append(ws.lake, "raw.t", second)
        current = ws.lake.current_metadata("raw.t")
        assert current is not None
        counts = current.column_counts()
        assert counts is not None
        assert counts.bounds == {"id": (-5, 7), "small": (-1, 5)}
        results = {r.check: r for r in ws.check("s").results}
    got = {name: (r.evaluated, r.failing) for name, r in results.items()}
    # the failing rows: every row of a duplicated id (grouped with a perfect hash)
    sampled = [row["id"] for row in results["unique_id"].sample]
    assert len(sampled) == 5 and set(sampled) <= {-5, 2, 7}  # 5 of the 6 such rows
    assert got == {
        "unique_id": (7, 3),  # -5, 2 and 7 each once more
        "unique_small": (7, 1),  # 1 twice
        "id_where": (5, 1),  # small > 0: ids -5, 1, 2, 2, 7 (and NULL skipped)
    }
    columns = {"id": "BIGINT", "small": "INTEGER"}
    check = rules.Unique(columns=("id",))
    with_bounds = compile_check(check, 0, "raw.t", columns, None, {"id": (-5, 7)})
    assert "bitstring_agg" in with_bounds.expressions["c0_fail"]
    assert with_bounds.sample_settings == {"perfect_ht_threshold": 12}
    too_wide = compile_check(check, 0, "raw.t", columns, None, {"id": (0, 1 << 40)})
    assert "count(DISTINCT" in too_wide.expressions["c0_fail"]


class _Failing:
    """A source of ids that fails after ``good`` batches of its read (``None``: never)."""

    name = "events"

    def __init__(self, first: int, last: int, good: int | None) -> None:
        self.first, self.last, self.good = first, last, good

    def read(self, context: Any) -> Any:
        from headwater.ingest.extraction import Extraction

        schema = pa.schema([pa.field("id", pa.int64())])
        start = context.cursor_start if context.cursor_start is not None else self.first

        def batches() -> Any:
            for n, low in enumerate(range(start, self.last + 1, 10)):
                if self.good is not None and n >= self.good:
                    raise ConnectionError("the server went away")
                ids = list(range(low, min(low + 10, self.last + 1)))
                yield pa.record_batch([pa.array(ids, pa.int64())], schema=schema)

        return Extraction(readers=[pa.RecordBatchReader.from_batches(schema, batches())])


def test_a_failed_append_leaves_no_file_and_the_next_run_resumes(tmp_path: Path) -> None:
    from headwater.ingest.load import load
    from headwater.project.base import Load

    lake = Lake.local(tmp_path / ".headwater")
    settings = Load(strategy="incremental", cursor="id")
    load(lake, "raw.events", _Failing(1, 30, None), settings)
    data = tmp_path / ".headwater" / "warehouse" / "raw" / "events" / "data"
    before = sorted(p.name for p in data.iterdir())

    with pytest.raises(ConnectionError):
        load(lake, "raw.events", _Failing(1, 80, good=3), settings)  # 3 batches, then down
    assert sorted(p.name for p in data.iterdir()) == before  # nothing written stays
    assert lake.current_metadata("raw.events").summary["total-records"] == "30"  # type: ignore[union-attr]

    result = load(lake, "raw.events", _Failing(1, 80, None), settings)
    assert (result.inserted, result.cursor) == (50, 80)  # 31..80: the boundary row 30 once
    ids = sorted(int(v) for f in lake.data_files("raw.events") for v in pq_ids(f))
    assert ids == list(range(1, 81))


def pq_ids(path: str) -> list[int]:
    import pyarrow.parquet as pq

    return [int(v) for v in pq.read_table(path.removeprefix("file://")).column("id").to_pylist()]


def test_a_project_folder_with_a_space_keeps_its_data_inside(tmp_path: Path) -> None:
    root = tmp_path / "my project"
    root.mkdir()
    (root / "headwater.yaml").write_text("name: spaced\n")
    with Workspace.open(root) as ws:
        replace_table(ws.lake, "raw.t", _reader(pa.table({"id": [1, 2]})))
        _append(ws.lake, "raw.t", pa.table({"id": [3]}))
        assert ws.query("SELECT sum(id) AS s FROM raw.t").to_pylist() == [{"s": 6}]
        assert len(ws.lake.data_files("raw.t")) == 2
    files = sorted(p.relative_to(root).parts[:4] for p in root.rglob("*.parquet"))
    assert files == [(".headwater", "warehouse", "raw", "t")] * 2
    assert [p.name for p in tmp_path.iterdir()] == ["my project"]  # no `my%20project` beside it


class _Waiting:
    """Ids ``first..last``, handed over only once every racing load has started reading."""

    name = "events"

    def __init__(self, first: int, last: int, barrier: Any) -> None:
        self.first, self.last, self.barrier = first, last, barrier

    def read(self, context: Any) -> Any:
        from headwater.ingest.extraction import Extraction

        schema = pa.schema([pa.field("id", pa.int64())])

        def batches() -> Any:
            self.barrier.wait(timeout=30)  # both loads hold the same base snapshot now
            yield pa.record_batch(
                [pa.array(range(self.first, self.last + 1), pa.int64())], schema=schema
            )

        return Extraction(readers=[pa.RecordBatchReader.from_batches(schema, batches())])


def test_two_appends_racing_both_land_once(tmp_path: Path) -> None:
    """The append that loses the race is applied again on the winner's snapshot."""
    import threading

    from headwater.errors import CommitConflict
    from headwater.ingest.load import load
    from headwater.project.base import Load

    lake = Lake.local(tmp_path / ".headwater")
    settings = Load(strategy="append")
    replace_table(lake, "raw.events", _reader(pa.table({"id": pa.array([0], pa.int64())})))
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def run(name: str, first: int, last: int) -> None:
        try:
            outcomes[name] = load(lake, "raw.events", _Waiting(first, last, barrier), settings)
        except CommitConflict as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=run, args=("a", 1, 100)),
        threading.Thread(target=run, args=("b", 101, 200)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not [got for got in outcomes.values() if isinstance(got, CommitConflict)]
    assert sorted(got.inserted for got in outcomes.values()) == [100, 100]
    data = tmp_path / ".headwater" / "warehouse" / "raw" / "events" / "data"
    assert sorted(str(p) for p in data.iterdir()) == sorted(
        f.removeprefix("file://") for f in lake.data_files("raw.events")
    )  # every file written is published, none left behind
    ids = sorted(i for f in lake.data_files("raw.events") for i in pq_ids(f))
    assert ids == list(range(0, 201))
    snapshots = lake.snapshots("raw.events")
    assert [s.operation for s in snapshots] == ["append", "append", "append"]
    assert snapshots[2].parent_id == snapshots[1].snapshot_id  # rebased, not forked


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        -7,
        2.5,
        "it's",
        __import__("decimal").Decimal("12.34"),
        __import__("datetime").date(2024, 2, 29),
        __import__("datetime").datetime(2024, 2, 29, 13, 5, 1, 250),
        __import__("datetime").datetime(2024, 2, 29, 13, 5, tzinfo=__import__("datetime").UTC),
    ],
)
def test_value_literals_read_back_as_the_same_value(value: Any) -> None:
    import duckdb

    from headwater.connect.sql.quoting import value_literal

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    row = con.execute(f"SELECT {value_literal(value)}").fetchone()
    assert row is not None and row[0] == value
    # a float is written as an exact decimal; everything else keeps its type
    assert isinstance(
        row[0], __import__("decimal").Decimal if type(value) is float else type(value)
    )


def test_float_literals_that_are_not_numbers() -> None:
    import math

    import duckdb

    from headwater.connect.sql.quoting import value_literal

    got = duckdb.sql(
        f"SELECT {value_literal(math.nan)}, {value_literal(math.inf)}, {value_literal(-math.inf)}"
    ).fetchone()
    assert got is not None and math.isnan(got[0]) and got[1:] == (math.inf, -math.inf)


def test_a_metadata_file_is_parsed_once_per_lake_and_a_commit_is_seen(tmp_path: Path) -> None:
    lake = Lake.local(tmp_path / ".headwater")
    replace_table(lake, "raw.t", _reader(pa.table({"id": [1, 2]})))
    first = lake.current_metadata("raw.t")
    assert first is not None and first is lake.current_metadata("raw.t")
    _append(lake, "raw.t", pa.table({"id": [3]}))
    after = lake.current_metadata("raw.t")
    assert after is not None and after.location != first.location
    assert sum(f.record_count for f in after.data_files or []) == 3


def test_a_damaged_metadata_file_is_named_in_the_error(tmp_path: Path) -> None:
    from headwater.errors import LakeError

    lake = Lake.local(tmp_path / ".headwater")
    replace_table(lake, "raw.t", _reader(pa.table({"id": [1, 2]})))
    current = lake.current_metadata("raw.t")
    assert current is not None
    snapshot = current.current_snapshot
    assert snapshot is not None
    manifest_list = str(snapshot["manifest-list"]).removeprefix("file://")
    Path(manifest_list).write_bytes(b"Obj\x01 not avro")  # truncated / damaged
    with pytest.raises(LakeError, match="cannot read .*snap-.*avro") as raised:
        Lake.local(tmp_path / ".headwater").data_files("raw.t")
    assert "restore it" in (raised.value.hint or "")

    metadata_json = current.location.removeprefix("file://")
    Path(metadata_json).unlink()  # the catalog now points at nothing
    with pytest.raises(LakeError, match="cannot read .*metadata.json"):
        Lake.local(tmp_path / ".headwater").data_files("raw.t")


def test_results_that_cannot_be_recorded_say_so(tmp_path: Path) -> None:
    from headwater.errors import StateError

    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = Store.open(url)
    con = sqlite3.connect(tmp_path / "state.db")
    with con:
        con.execute("DROP TABLE check_results")  # a store the writes cannot reach
    con.close()
    with pytest.raises(StateError, match="could not be recorded in the metadata store"):
        store.add_check_results([_result("a", 1)])
    with pytest.raises(StateError, match="cannot read check results"):
        store.check_history("raw.t")
    store.close()
