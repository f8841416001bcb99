"""Reading real SQLite, MariaDB and PostgreSQL tables as bounded Arrow batches with exact types."""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import multiprocessing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from headwater.connect.sql import READERS, ReadRequest, SqlDatabase, choose_reader
from headwater.errors import SourceError, SourceUnreachable
from headwater.ingest import ingest_table
from headwater.lake import Lake
from headwater.project.config import SqlSource as Source

ROWS = 2_500

COLUMNS = {
    "mysql": "id INT PRIMARY KEY, amount DECIMAL(10,2), day DATE, at DATETIME(6), note TEXT, raw BLOB, ratio DOUBLE",
    "postgresql": 'id INT PRIMARY KEY, amount NUMERIC(10,2), day DATE, at TIMESTAMP, note TEXT, raw BYTEA, ratio DOUBLE PRECISION, "camelCase" INT',
    "sqlite": "id INTEGER PRIMARY KEY, amount DECIMAL(10,2), day DATE, at DATETIME, note TEXT, raw BLOB, ratio FLOAT",
}

EXPECTED_TYPES = {
    "amount": pa.decimal128(10, 2),
    "day": pa.date32(),
    "at": pa.timestamp("us"),
    "note": pa.string(),
    "raw": pa.binary(),
    "ratio": pa.float64(),
}


def expected_row(i: int) -> dict[str, object]:
    if i % 10 == 0:  # every tenth row is all NULLs but the key
        return {
            "id": i,
            "amount": None,
            "day": None,
            "at": None,
            "note": None,
            "raw": None,
            "ratio": None,
        }
    return {
        "id": i,
        "amount": decimal.Decimal(i * 7 % 100000) / 100,
        "day": dt.date(2003, 1, 1) + dt.timedelta(days=i % 900),
        "at": dt.datetime(2004, 5, 6, 7, 8, 9, 123456) + dt.timedelta(minutes=i),
        "note": f"note {i} — naïve ünïcode 'quoted'",
        "raw": bytes([i % 256, 0, 255]),
        "ratio": i / 3,
    }


def fill(url: str, dialect: str) -> SqlDatabase:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE items ({COLUMNS[dialect]})")
    table = sa.Table(
        "items", sa.MetaData(), autoload_with=engine
    )  # typed binds (Decimal on SQLite)
    with engine.begin() as conn:
        conn.execute(table.insert(), [expected_row(i) for i in range(1, ROWS + 1)])
    engine.dispose()
    return SqlDatabase(url, name="src")


@pytest.fixture(params=["sqlite", "mysql", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    dialect = request.param
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'src.db'}"
    else:
        url = request.getfixturevalue("mysql_url" if dialect == "mysql" else "postgres_url")
    db = fill(url, dialect)
    yield db
    db.dispose()


def readers_for(db: SqlDatabase) -> list[str]:
    return ["sqlalchemy"] if db.dialect == "sqlite" else ["duckdb", "connectorx", "sqlalchemy"]


def test_every_reader_streams_exact_types_and_values(database: SqlDatabase) -> None:
    for name in readers_for(database):
        reader = READERS[name](database, ReadRequest(table="items", batch_rows=1_000))  # type: ignore[index]
        batches = list(reader)
        assert [b.num_rows for b in batches] == [1_000, 1_000, 500], name  # bounded batches
        table = pa.Table.from_batches(batches, schema=reader.schema).sort_by("id")
        for column, expected in EXPECTED_TYPES.items():
            assert table.schema.field(column).type == expected, (name, column)
        got = table.select(list(EXPECTED_TYPES)).to_pylist()
        want = [{k: v for k, v in expected_row(i).items() if k != "id"} for i in range(1, ROWS + 1)]
        assert got == want, name


def test_query_source(database: SqlDatabase) -> None:
    sql = "SELECT id, note FROM items WHERE id <= 20 ORDER BY id"
    for name in readers_for(database):
        table = READERS[name](database, ReadRequest(query=sql, batch_rows=7)).read_all()  # type: ignore[index]
        assert table.column("id").to_pylist() == list(range(1, 21)), name
        assert table.column("note").to_pylist()[0] == expected_row(1)["note"]


def test_missing_table_suggests_close_names(database: SqlDatabase) -> None:
    with pytest.raises(SourceError, match=r"table `itemz` does not exist.*did you mean `items`"):
        database.reflect("itemz")


def test_unreachable_server_names_dialect_host_and_port() -> None:
    db = SqlDatabase("mysql+pymysql://root@127.0.0.1:1/nowhere", name="shop")
    with pytest.raises(SourceUnreachable) as info:
        db.check()
    assert "connection `shop`: cannot connect to mysql at 127.0.0.1:1/nowhere" in str(info.value)
    assert "is the server running" in str(info.value)
    assert info.value.retryable


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    db = SqlDatabase("sqlite:///nothing.db", name="src", root=tmp_path)
    with pytest.raises(SourceError, match="does not exist"):
        db.check()
    assert not (tmp_path / "nothing.db").exists()


def test_reader_choice() -> None:
    assert choose_reader("postgresql") == "duckdb"
    assert choose_reader("sqlite") == "sqlalchemy"
    assert choose_reader("oracle") == "sqlalchemy"
    with pytest.raises(SourceError, match="does not support sqlite"):
        choose_reader("sqlite", "duckdb")


@pytest.mark.postgres
def test_postgres_time_zones_arrive_as_utc_instants(postgres_url: str, tmp_path: Path) -> None:
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET TIME ZONE 'Europe/Paris'")
        conn.exec_driver_sql("CREATE TABLE ev (id INT, at TIMESTAMPTZ, local_at TIMESTAMP, t TIME)")
        conn.exec_driver_sql(
            "INSERT INTO ev VALUES (1, '2024-03-31 01:30:00+01', '2024-03-31 01:30:00', '13:14:15'), (2, NULL, NULL, NULL)"
        )
    engine.dispose()
    db = SqlDatabase(postgres_url, name="src")
    for name in ("duckdb", "connectorx", "sqlalchemy"):
        table = READERS[name](db, ReadRequest(table="ev")).read_all().sort_by("id")  # type: ignore[index]
        at = table.column("at")
        assert at.type == pa.timestamp("us", tz="UTC") or at.type.tz in ("UTC", "+00:00"), name
        assert at.to_pylist()[0] == dt.datetime(2024, 3, 31, 0, 30, tzinfo=dt.UTC), name
        assert table.column("local_at").to_pylist()[0] == dt.datetime(2024, 3, 31, 1, 30), name
        assert table.column("t").to_pylist() == [dt.time(13, 14, 15), None], name
    # and through the lake, for each reader (DuckDB writes its files itself)
    lake = Lake.local(tmp_path / ".headwater")
    for name in ("duckdb", "connectorx", "sqlalchemy"):
        source = Source(connection="c", namespace=name, tables=({"name": "ev"},), reader=name)  # type: ignore[arg-type]
        ingest_table(lake, db, source, source.tables[0])
        stored = lake.table(f"{name}.ev").scan().to_arrow().sort_by("id")
        assert stored.column("at").to_pylist()[0] == dt.datetime(
            2024, 3, 31, 0, 30, tzinfo=dt.UTC
        ), name
        assert stored.column("t").to_pylist()[0] == dt.time(13, 14, 15), name
    db.dispose()


def _schema_in_child(db: SqlDatabase, queue: Any) -> None:
    from headwater.connect.sql import duckdb_reader

    queue.put(duckdb_reader.schema(db, ReadRequest(table="items")).names)


@pytest.mark.parametrize("dialect", ["mysql", "postgresql"])
def test_duckdb_reads_share_one_database_and_detach_every_source(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The scanner is loaded once per process (a load reads a schema, then rows); every read
    attaches the server under its own name and detaches it, however the read ends."""
    from headwater.connect.sql import duckdb_reader
    from headwater.connect.sql.duckdb_extensions import shared

    db = fill(
        request.getfixturevalue("mysql_url" if dialect == "mysql" else "postgres_url"), dialect
    )
    extension = "mysql_scanner" if dialect == "mysql" else "postgres_scanner"
    items = ReadRequest(table="items", batch_rows=500)
    assert duckdb_reader.schema(db, items).names[:2] == ["id", "amount"]
    assert duckdb_reader.read(db, items).read_all().num_rows == ROWS
    abandoned = duckdb_reader.read(db, items)
    assert abandoned.read_next_batch().num_rows == 500
    del abandoned  # a reader dropped half-read detaches its source when it is released
    gc.collect()
    files = duckdb_reader.copy(db, items, str(tmp_path), "part", 1 << 30)
    assert sum(pq.read_metadata(f).num_rows for f in files) == ROWS
    with pytest.raises(SourceError, match="no_such_table"):
        duckdb_reader.schema(db, ReadRequest(query="SELECT * FROM no_such_table"))

    first, second = shared(extension), shared(extension)
    first.execute("CREATE TABLE seen_by_both AS SELECT 42 AS answer")
    assert second.execute("SELECT answer FROM seen_by_both").fetchall() == [(42,)]
    first.execute("DROP TABLE seen_by_both")
    attached = second.execute(
        "SELECT database_name FROM duckdb_databases() WHERE database_name LIKE 'src_%'"
    ).fetchall()
    assert attached == []
    first.close()
    second.close()

    # a forked child (the process executor) opens a database of its own and reads
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_schema_in_child, args=(db, queue))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5)[:2] == ["id", "amount"]
    db.dispose()


@pytest.mark.postgres
def test_a_postgres_load_failing_mid_read_closes_its_server_cursor(
    postgres_url: str, tmp_path: Path
) -> None:
    """A load that stops in the middle of a SQLAlchemy read (here: a value that does not fit
    the table) closes the server-side cursor it read from, whatever order the garbage
    collector frees the failed read's objects in (an open one warns when collected)."""
    from headwater import Workspace
    from headwater.errors import RunFailed

    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ev (id INTEGER PRIMARY KEY, qty INTEGER)")
        conn.exec_driver_sql("INSERT INTO ev SELECT g, g FROM generate_series(1, 10) AS g")
    root = tmp_path / "p"
    root.mkdir()
    (root / "headwater.yaml").write_text(
        f"""name: stop
connections:
  src: {{url: "{postgres_url}"}}
sources:
  s:
    connection: src
    reader: sqlalchemy
    batch_rows: 4
    tables: [ev]
pipelines:
  p:
    tasks:
      - ingest: s
""",
        encoding="utf-8",
    )
    ws = Workspace.open(root)
    ws.run("p")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE ev ALTER COLUMN qty TYPE VARCHAR(10)")
        conn.exec_driver_sql("UPDATE ev SET qty = 'many' WHERE id = 6")
    engine.dispose()
    with pytest.raises(RunFailed, match="value 'many'"):
        ws.run("p")
    gc.collect()  # an open cursor collected here fails the test (warnings are errors)
    assert ws.query("SELECT count(*) AS n FROM raw.ev").to_pylist() == [{"n": 10}]
    ws.close()
