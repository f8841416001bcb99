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

from headwater.connect.sql import READERS, ReadRequest, SqlDatabase, choose_reader, reader_for
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


# Every PostgreSQL type the small-table reader takes (reader.SAME_TYPES), and a row of values
SAME_TYPE_COLUMNS = {
    "id": "INTEGER PRIMARY KEY",
    "big": "BIGINT",
    "flag": "BOOLEAN",
    "ratio": "DOUBLE PRECISION",
    "amount": "NUMERIC(10,2)",
    "whole": "NUMERIC(5)",
    "wide": "NUMERIC(38,6)",
    "day": "DATE",
    "at": "TIMESTAMP",
    "at_ms": "TIMESTAMP(3)",
    "at_tz": "TIMESTAMPTZ",
    "t": "TIME",
    "note": "TEXT",
    "code": "VARCHAR(12)",
    "free": "VARCHAR",
    "raw": "BYTEA",
    "uid": "UUID",
}
SAME_TYPE_VALUES = (
    "{i}, {i} * 10000000000, mod({i}, 2) = 0, {i} / 3.0, {i} * 1.25, {i}, {i} * 1234567.123456, "
    "DATE '2024-01-01' + {i}, TIMESTAMP '2024-01-01 10:00:00.123456' + {i} * INTERVAL '1 minute', "
    "TIMESTAMP '2024-01-01 10:00:00.123' + {i} * INTERVAL '1 hour', "
    "TIMESTAMPTZ '2024-03-31 01:30:00+01' + {i} * INTERVAL '1 day', TIME '13:14:15.5', "
    "'note ' || {i} || ' ünïcode', 'c' || {i}, 'free', '\\x0102ff'::bytea, md5({i}::text)::uuid"
)


def make_same_types_table(url: str, first: int, last: int, analyze: bool = True) -> None:
    """``items`` with a column of every type in SAME_TYPES; every tenth row NULL but the key."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET TIME ZONE 'Europe/Paris'")
        columns = ", ".join(f"{name} {kind}" for name, kind in SAME_TYPE_COLUMNS.items())
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS items ({columns})")
        conn.exec_driver_sql(
            f"INSERT INTO items SELECT {SAME_TYPE_VALUES.format(i='g.i')} "
            f"FROM generate_series({first}, {last}) AS g(i)"
        )
        nulls = ", ".join(f"{name} = NULL" for name in list(SAME_TYPE_COLUMNS)[1:])
        conn.exec_driver_sql(f"UPDATE items SET {nulls} WHERE mod(id, 10) = 0")
    if analyze:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE items")
    engine.dispose()


@pytest.mark.postgres
def test_small_table_reader_reads_its_types_as_duckdb_does(postgres_url: str) -> None:
    """A small table is read by SQLAlchemy only when every column comes out as DuckDB's
    scanner reads it: same Arrow types, same values; other types keep DuckDB."""
    from headwater.connect.sql.reader import SAME_TYPES, postgres_rows

    make_same_types_table(postgres_url, 1, 30)
    db = SqlDatabase(postgres_url, name="src")
    tables = {
        name: READERS[name](db, ReadRequest(table="items")).read_all().sort_by("id")  # type: ignore[index]
        for name in ("duckdb", "sqlalchemy")
    }
    assert tables["sqlalchemy"].schema == tables["duckdb"].schema
    assert tables["sqlalchemy"].to_pylist() == tables["duckdb"].to_pylist()
    # one day after 2024-03-31 01:30 in Paris is 23 hours later: the clocks went forward
    assert tables["duckdb"].column("at_tz").to_pylist()[0] == dt.datetime(
        2024, 3, 31, 23, 30, tzinfo=dt.UTC
    )
    assert postgres_rows(db, "items") == 30
    # a type either reader maps its own way keeps the table on DuckDB's scanner
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TYPE mood AS ENUM ('sad', 'ok')")
        for kind in ("SMALLINT", "REAL", "NUMERIC", "NUMERIC(40,2)", "CHAR(3)", "INTERVAL",
                     "INT[]", "mood", "INET", "OID", "JSON", "JSONB"):  # fmt: skip
            assert not SAME_TYPES.fullmatch(kind.lower())
            conn.exec_driver_sql(f"CREATE TABLE other (id INT, v {kind})")
            assert postgres_rows(db, "other") is None, kind
            assert reader_for(db, ReadRequest(table="other")) == "duckdb", kind
            conn.exec_driver_sql("DROP TABLE other")
    engine.dispose()
    db.dispose()


@pytest.mark.postgres
def test_auto_picks_the_reader_by_the_postgres_tables_estimated_size(postgres_url: str) -> None:
    from headwater.connect.sql.reader import SMALL_TABLE_ROWS, postgres_rows

    make_same_types_table(postgres_url, 1, 300, analyze=False)
    db = SqlDatabase(postgres_url, name="src")
    items = ReadRequest(table="items")
    # never analyzed: counted as full pages of the smallest rows, never fewer than it holds
    assert postgres_rows(db, "items") >= 300  # type: ignore[operator]
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE items")
        conn.exec_driver_sql("CREATE VIEW items_view AS SELECT * FROM items")
        conn.exec_driver_sql('CREATE SCHEMA "Other"')
        conn.exec_driver_sql('CREATE TABLE "Other"."Big" AS SELECT * FROM items')
        conn.exec_driver_sql('INSERT INTO "Other"."Big" SELECT * FROM "Other"."Big"')
        conn.exec_driver_sql('ANALYZE "Other"."Big"')
    engine.dispose()
    assert postgres_rows(db, "items") == 300
    assert SMALL_TABLE_ROWS > 300
    assert reader_for(db, items) == "sqlalchemy"
    assert reader_for(db, items, small_rows=300) == "duckdb"  # at the threshold: DuckDB
    assert reader_for(db, items, small_rows=301) == "sqlalchemy"
    # a filtered read is judged by its table's estimate
    assert reader_for(db, ReadRequest(table="items", where="id > 5")) == "sqlalchemy"
    # a schema and quoted names; a query, a view and a missing table keep DuckDB's scanner
    assert postgres_rows(db, "Big", "Other") == 600
    assert reader_for(db, ReadRequest(table="Big", schema="Other"), small_rows=601) == "sqlalchemy"
    assert reader_for(db, ReadRequest(table="Big", schema="Other"), small_rows=600) == "duckdb"
    assert reader_for(db, ReadRequest(query="SELECT * FROM items")) == "duckdb"
    assert reader_for(db, ReadRequest(table="items_view")) == "duckdb"
    assert reader_for(db, ReadRequest(table="no_such_table")) == "duckdb"
    # a reader asked for by name is used whatever the size
    assert reader_for(db, items, "duckdb") == "duckdb"
    assert reader_for(db, items, "connectorx") == "connectorx"
    db.dispose()


def test_auto_keeps_the_measured_reader_of_other_dialects(tmp_path: Path) -> None:
    """Only PostgreSQL is chosen by size; no database is asked anything for the others."""
    mysql = SqlDatabase("mysql+pymysql://root@127.0.0.1:1/nowhere", name="src")
    assert reader_for(mysql, ReadRequest(table="items")) == "connectorx"
    sqlite = SqlDatabase(f"sqlite:///{tmp_path / 'missing.db'}", name="src")
    assert reader_for(sqlite, ReadRequest(table="items")) == "sqlalchemy"
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.postgres
def test_a_postgres_table_growing_past_the_threshold_keeps_its_schema_and_values(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loaded small (SQLAlchemy), then large (DuckDB writes the files): the same Iceberg
    schema, and the same table as a load of the same rows through the other reader."""
    from headwater import Workspace
    from headwater.connect.sql import reader

    monkeypatch.setattr(reader, "SMALL_TABLE_ROWS", 100)
    make_same_types_table(postgres_url, 1, 50)
    root = tmp_path / "p"
    root.mkdir()
    (root / "headwater.yaml").write_text(
        f"""name: grow
connections:
  src: {{url: "{postgres_url}"}}
sources:
  auto:
    connection: src
    tables: [items]
  small:
    connection: src
    namespace: small
    reader: sqlalchemy
    tables: [items]
  big:
    connection: src
    namespace: big
    reader: duckdb
    tables: [items]
pipelines:
  p:
    tasks:
      - ingest: auto
  both:
    tasks:
      - ingest: small
      - ingest: big
""",
        encoding="utf-8",
    )
    ws = Workspace.open(root)

    def loaded(name: str) -> tuple[Any, pa.Table, str]:
        table = ws.lake.table(name)
        reader_used = table.current_snapshot().summary["headwater.reader"]  # type: ignore[union-attr]
        return table.schema(), table.scan().to_arrow().sort_by("id"), reader_used

    ws.run("p")
    small_schema, small_rows, small_reader = loaded("raw.items")
    assert small_reader == "sqlalchemy"
    assert small_rows.num_rows == 50
    make_same_types_table(postgres_url, 51, 250)
    ws.run("p")
    large_schema, large_rows, large_reader = loaded("raw.items")
    assert large_reader == "duckdb"
    assert large_rows.num_rows == 250
    assert large_schema == small_schema
    assert large_rows.slice(0, 50) == small_rows
    assert [c.kind for c in ws.table("raw.items").schema_changes] == ["created"]
    # the same rows through each reader by name: equal tables, equal to what auto loaded
    ws.run("both")
    by_sqlalchemy, by_duckdb = loaded("small.items"), loaded("big.items")
    assert (by_sqlalchemy[2], by_duckdb[2]) == ("sqlalchemy", "duckdb")
    assert by_sqlalchemy[0] == by_duckdb[0] == large_schema
    assert by_sqlalchemy[1] == by_duckdb[1] == large_rows
    ws.close()


@pytest.mark.postgres
@pytest.mark.parametrize("batch_rows", [4, 100_000])  # the bad row in the 2nd batch, the 1st
def test_a_postgres_load_failing_mid_read_closes_its_server_cursor(
    postgres_url: str, tmp_path: Path, batch_rows: int
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
    batch_rows: {batch_rows}
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
    with pytest.raises(RunFailed, match="value 'many'") as failed:
        ws.run("p")
    assert "does not convert to int32" in (failed.value.run.tasks[0].error or "")
    del failed  # the failed run's objects, freed together by the collector
    gc.collect()  # an open cursor collected here fails the test (warnings are errors)
    assert ws.query("SELECT count(*) AS n FROM raw.ev").to_pylist() == [{"n": 10}]
    ws.close()


@pytest.mark.postgres
def test_a_sqlalchemy_read_that_fits_one_batch_gives_its_connection_back_at_once(
    postgres_url: str,
) -> None:
    """A small table comes whole with the first fetch: its connection and server-side cursor
    are released before the rows are consumed, so a load that stops first holds nothing."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ev (id INTEGER PRIMARY KEY, qty INTEGER)")
        conn.exec_driver_sql("INSERT INTO ev SELECT g, g FROM generate_series(1, 10) AS g")
    engine.dispose()
    db = SqlDatabase(postgres_url, name="src")
    reader = READERS["sqlalchemy"](db, ReadRequest(table="ev", batch_rows=100))
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert reader.read_all().column("id").to_pylist() == list(range(1, 11))
    several = READERS["sqlalchemy"](db, ReadRequest(table="ev", batch_rows=4))
    assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]  # still streaming
    assert [b.num_rows for b in several] == [4, 4, 2]
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    db.dispose()
