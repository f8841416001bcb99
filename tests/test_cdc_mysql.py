"""Change data capture from a MariaDB binary log: a private server with a row-based binary log
(tests/private_mariadb.py), a snapshot at a position, then the changes after it in commit
order, whole transactions only, across file rotations, schema changes and a server restart."""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pymysql
import pytest
import sqlalchemy as sa

from headwater.cdc.capture import CHANGE_COLUMNS, ChangeBlock
from headwater.cdc.mysql import BinlogPosition, MysqlCapture
from headwater.cdc.positions import sort_key
from headwater.cdc.run import CaptureReport, CaptureRun
from headwater.errors import CdcError, CdcSetupError, CdcSlotBusy, SourceUnreachable
from headwater.lake import Lake
from headwater.state import Store
from tests.private_mariadb import PrivateMariaDB, require_binaries
from tests.services import MYSQL_ADMIN_URL, require_service

UTC = dt.UTC


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateMariaDB]:
    require_binaries()
    mariadb = PrivateMariaDB(tmp_path_factory.mktemp("mariadb"), binlog=True, grants=True)
    try:
        mariadb.start()
        yield mariadb
    finally:
        mariadb.stop()


class Source:
    """A fresh database on the private server, and a connection that writes to it."""

    def __init__(self, server: PrivateMariaDB) -> None:
        self.server = server
        self.name = f"shop_{uuid.uuid4().hex[:8]}"
        self.conn = self.connect()
        self.run(f"CREATE DATABASE {self.name}")
        self.conn.select_db(self.name)

    def connect(self, user: str = "root", password: str = "") -> Any:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.server.port,
            user=user,
            password=password,
            autocommit=True,
            database=None,
        )

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.server.port}/{self.name}"

    def run(self, *statements: str) -> None:
        with self.conn.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    def transaction(self, *statements: str) -> None:
        self.run("BEGIN", *statements, "COMMIT")

    def capture(self, *tables: str, server_id: int = 101) -> MysqlCapture:
        return MysqlCapture(self.url, list(tables), server_id=server_id, heartbeat=0.05)


@pytest.fixture
def source(server: PrivateMariaDB) -> Iterator[Source]:
    src = Source(server)
    try:
        yield src
    finally:
        if src.conn.open:
            src.run(f"DROP DATABASE {src.name}")
            src.conn.close()


def rows(block: ChangeBlock, table: str | None = None, *columns: str) -> list[tuple[Any, ...]]:
    """(op, *columns) of every change in ``block`` (of ``table``), in source-commit order."""
    found = []
    for change in block.changes:
        if table is None or change.table.endswith("." + table):
            names = columns or tuple(n for n in change.rows.column_names if n not in CHANGE_COLUMNS)
            found += [
                (r["_seq"], r["_op"], *(r[n] for n in names)) for r in change.rows.to_pylist()
            ]
    return [r[1:] for r in sorted(found)]


def read_all(capture: MysqlCapture, after: str, *, max_changes: int = 10_000) -> list[ChangeBlock]:
    """Blocks until one comes back empty."""
    blocks = []
    while True:
        block = capture.read(after, max_changes=max_changes, wait=0.3)
        if block.count == 0:
            return blocks
        blocks.append(block)
        after = block.end


WIDE = """
CREATE TABLE items (
  id INT PRIMARY KEY,
  name VARCHAR(40) CHARACTER SET utf8mb4,
  note TEXT CHARACTER SET latin1,
  kind ENUM('small', 'large'),
  tags SET('red', 'green', 'blue'),
  price DECIMAL(10, 2),
  weight FLOAT,
  ratio DOUBLE,
  tiny TINYINT,
  big BIGINT,
  huge BIGINT UNSIGNED,
  positive INT UNSIGNED,
  flags BIT(5),
  born DATE,
  seen DATETIME(6),
  changed TIMESTAMP(3) NULL,
  opens TIME,
  made YEAR,
  doc JSON,
  raw VARBINARY(8)
)
"""

ITEM_1 = (
    "(1, 'Grüße', 'café', 'large', 'blue,red', 12.34, 1.1, 2.5, -7, -9000000000, "
    "18446744073709551615, 4000000000, b'10101', '2024-02-29', '2024-02-29 13:14:15.123456', "
    "'2024-03-01 02:30:00.250', '08:30:00', 2024, '{\"a\": [1, 2]}', x'00ff')"
)

ITEM_1_VALUES = {
    "id": 1,
    "name": "Grüße",
    "note": "café",
    "kind": "large",
    "tags": "red,blue",
    "price": Decimal("12.34"),
    "weight": pytest.approx(1.1, rel=1e-6),
    "ratio": 2.5,
    "tiny": -7,
    "big": -9_000_000_000,
    "huge": Decimal(2**64 - 1),
    "positive": 4_000_000_000,
    "flags": 0b10101,
    "born": dt.date(2024, 2, 29),
    "seen": dt.datetime(2024, 2, 29, 13, 14, 15, 123456),
    # written in a session at +02:00: stored and read in UTC
    "changed": dt.datetime(2024, 3, 1, 0, 30, 0, 250000, tzinfo=UTC),
    "opens": dt.time(8, 30),
    "made": 2024,
    "doc": '{"a": [1, 2]}',
    "raw": b"\x00\xff",
}

WIDE_TYPES = {
    "id": pa.int32(),
    "name": pa.string(),
    "note": pa.string(),
    "kind": pa.string(),
    "tags": pa.string(),
    "price": pa.decimal128(10, 2),
    "weight": pa.float32(),
    "ratio": pa.float64(),
    "tiny": pa.int32(),
    "big": pa.int64(),
    "huge": pa.decimal128(20, 0),
    "positive": pa.int64(),
    "flags": pa.int64(),
    "born": pa.date32(),
    "seen": pa.timestamp("us"),
    "changed": pa.timestamp("us", tz="UTC"),
    "opens": pa.time64("us"),
    "made": pa.int32(),
    "doc": pa.string(),
    "raw": pa.binary(),
}


def test_snapshot_then_changes_in_commit_order_with_their_types(source: Source) -> None:
    source.run(WIDE, "SET time_zone = '+02:00'", f"INSERT INTO items VALUES {ITEM_1}")
    source.run("INSERT INTO items (id, tags) VALUES (2, '')")
    capture = source.capture("items")
    capture.check()
    assert capture.ensure() is False  # nothing to create on the server

    with capture.snapshot() as snapshot:
        position = snapshot.position
        [table] = list(snapshot.tables())
        snapshot_rows = pa.Table.from_batches(list(table.batches), table.schema).to_pylist()
    assert table.table == f"{source.name}.items"
    assert table.key == ("id",)
    assert dict(zip(table.schema.names, table.schema.types, strict=True)) == WIDE_TYPES
    assert snapshot_rows[0] == ITEM_1_VALUES
    assert snapshot_rows[1]["tags"] == ""  # the empty SET, not NULL
    assert snapshot_rows[1]["name"] is None

    # after the snapshot: an insert, an update, a delete, a key change, a multi-row transaction
    source.run(f"INSERT INTO items VALUES {ITEM_1.replace('(1,', '(3,', 1)}")
    source.run("UPDATE items SET name = 'two', price = 2.50 WHERE id = 2")
    source.run("DELETE FROM items WHERE id = 1")
    source.run("UPDATE items SET id = 20 WHERE id = 2")
    source.transaction(
        "INSERT INTO items (id, name) VALUES (4, 'four')",
        "UPDATE items SET name = 'FOUR' WHERE id = 4",
        "DELETE FROM items WHERE id = 3",
    )
    # max_changes ends the block at the last transaction: one block, whatever the timing
    block = capture.read(position, max_changes=8, wait=30)
    capture.close()

    assert rows(block, "items", "id", "name", "price") == [
        ("c", 3, "Grüße", Decimal("12.34")),
        ("u", 2, "two", Decimal("2.50")),
        ("d", 1, "Grüße", Decimal("12.34")),
        ("d", 2, "two", Decimal("2.50")),  # the key changed: the old key goes…
        ("u", 20, "two", Decimal("2.50")),  # …and the new row arrives
        ("c", 4, "four", None),
        ("u", 4, "FOUR", None),
        ("d", 3, "Grüße", Decimal("12.34")),
    ]
    [change] = block.changes
    assert change.key == ("id",)
    # the changes carry the snapshot's schema, then the change columns
    assert change.rows.schema.names[: len(WIDE_TYPES)] == list(WIDE_TYPES)
    assert change.rows.schema.types[: len(WIDE_TYPES)] == list(WIDE_TYPES.values())
    inserted = change.rows.to_pylist()[0]
    assert {k: inserted[k] for k in ITEM_1_VALUES} == {**ITEM_1_VALUES, "id": 3}
    deleted = change.rows.to_pylist()[2]  # a delete carries the whole old row
    assert {k: deleted[k] for k in ITEM_1_VALUES} == ITEM_1_VALUES
    assert change.rows.column("_seq").to_pylist() == list(range(8))
    assert change.rows.column("_unchanged").to_pylist() == [[]] * 8

    positions = [BinlogPosition.parse(p) for p in change.rows.column("_position").to_pylist()]
    # five transactions, each row at its transaction's end; the last one is the block's end
    assert len(set(positions)) == 5
    assert positions == sorted(positions)
    assert positions[0] > BinlogPosition.parse(position)
    assert str(positions[-1]) == block.end
    assert block.end_commit_time is not None
    commit_times = change.rows.column("_commit_time").to_pylist()
    assert all(abs(t - block.end_commit_time) < dt.timedelta(minutes=5) for t in commit_times)


def test_snapshot_reads_every_table_in_bounded_batches(source: Source) -> None:
    source.run(
        "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(5))",
        "CREATE TABLE b (x INT, y INT, PRIMARY KEY (y, x))",
        "INSERT INTO a VALUES (1, 'p'), (2, 'q'), (3, 'r'), (4, 's'), (5, 't')",
        "INSERT INTO b VALUES (1, 10), (2, 20), (3, 30)",
    )
    capture = MysqlCapture(source.url, ["a", "b"], server_id=107, batch_rows=2)
    with capture.snapshot() as snapshot:
        source.run("INSERT INTO b VALUES (4, 40)")  # after the snapshot began: not in it
        tables = snapshot.tables()
        a = next(tables)
        first = next(a.batches)  # the rest of `a` is left unread: taking `b` ends it
        b = next(tables)
        b_batches = list(b.batches)
        assert next(tables, None) is None
    assert first.to_pylist() == [{"id": 1, "v": "p"}, {"id": 2, "v": "q"}]
    assert b.key == ("y", "x")  # the key's own order
    assert [batch.num_rows for batch in b_batches] == [2, 1]
    assert [r["y"] for batch in b_batches for r in batch.to_pylist()] == [10, 20, 30]

    with capture.snapshot() as later:
        tables = later.tables()
        ids = [r["id"] for batch in next(tables).batches for r in batch.to_pylist()]
        ys = [r["y"] for batch in next(tables).batches for r in batch.to_pylist()]
    assert ids == [1, 2, 3, 4, 5]
    assert ys == [10, 20, 30, 40]
    assert BinlogPosition.parse(later.position) > BinlogPosition.parse(snapshot.position)


def test_schema_changes_follow_the_binary_log_not_the_table_now(source: Source) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10))")
    capture = source.capture("t")
    with capture.snapshot() as snapshot:
        position = snapshot.position
    source.run("INSERT INTO t VALUES (1, 10, 'x')")
    source.run("ALTER TABLE t ADD COLUMN c DATE AFTER a")
    source.run("INSERT INTO t VALUES (2, 20, '2024-01-01', 'y')")
    source.run("ALTER TABLE t DROP COLUMN a")
    source.run("UPDATE t SET b = 'z' WHERE id = 1")
    source.run("ALTER TABLE t MODIFY COLUMN id BIGINT")
    source.run("INSERT INTO t VALUES (3000000000, NULL, 'w')")
    # read only now, when the table has none of its earlier shapes
    block = capture.read(position, max_changes=4, wait=30)
    capture.close()

    shapes = [
        [(f.name, f.type) for f in change.rows.schema if f.name not in CHANGE_COLUMNS]
        for change in block.changes
    ]
    assert shapes == [
        [("id", pa.int32()), ("a", pa.int32()), ("b", pa.string())],
        [("id", pa.int32()), ("a", pa.int32()), ("c", pa.date32()), ("b", pa.string())],
        [("id", pa.int32()), ("c", pa.date32()), ("b", pa.string())],
        [("id", pa.int64()), ("c", pa.date32()), ("b", pa.string())],
    ]
    assert [rows(ChangeBlock([c], block.end)) for c in block.changes] == [
        [("c", 1, 10, "x")],
        [("c", 2, 20, dt.date(2024, 1, 1), "y")],
        [("u", 1, None, "z")],
        [("c", 3_000_000_000, None, "w")],
    ]
    assert [c.rows.column("_seq").to_pylist() for c in block.changes] == [[0], [1], [2], [3]]


def test_row_events_written_without_column_names_are_refused(source: Source) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY, a INT)")
    capture = source.capture("t")
    with capture.snapshot() as snapshot:
        position = snapshot.position
    source.run("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    try:
        source.run("INSERT INTO t VALUES (1, 1)")
    finally:
        source.run("SET GLOBAL binlog_row_metadata = 'FULL'")
    source.run("INSERT INTO t VALUES (2, 2)")
    # the table's names now would fit, but they are not the event's: no guessing
    with pytest.raises(CdcError, match=r"no column names for `shop_\w+\.t`.*new snapshot"):
        capture.read(position, max_changes=10, wait=30)
    capture.close()


def test_blocks_hold_whole_transactions_and_read_again_the_same(source: Source) -> None:
    source.run(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE other (id INT PRIMARY KEY)"
    )
    capture = source.capture("t")
    with capture.snapshot() as snapshot:
        position = snapshot.position
    source.run("INSERT INTO t VALUES (1, 1)")
    source.transaction(*(f"INSERT INTO t VALUES ({i}, {i})" for i in range(100, 150)))
    source.run("INSERT INTO other VALUES (1)")  # not captured
    source.transaction("INSERT INTO t VALUES (2, 2)", "INSERT INTO other VALUES (2)")
    source.run("INSERT INTO t VALUES (3, 3)")

    blocks = read_all(capture, position, max_changes=1)
    assert [b.count for b in blocks] == [1, 50, 1, 1]
    assert [r[1] for r in rows(blocks[1])] == list(range(100, 150))
    assert [
        len(set(c.rows.column("_position").to_pylist())) for b in blocks for c in b.changes
    ] == [
        1,
        1,
        1,
        1,
    ]
    ends = [BinlogPosition.parse(b.end) for b in blocks]
    assert ends == sorted(ends) and len(set(ends)) == 4

    # max_changes ends a block at the first transaction end past it, never inside one
    two = capture.read(position, max_changes=2, wait=30)
    assert two.count == 51 and two.end == blocks[1].end

    # reading after the same position again gives the same block, on a new stream or not
    again = capture.read(blocks[0].end, max_changes=1, wait=0.3)
    assert again.end == blocks[1].end
    assert again.changes[0].rows.equals(blocks[1].changes[0].rows)
    fresh = source.capture("t", server_id=102)
    assert (
        fresh.read(blocks[0].end, max_changes=1, wait=0.3)
        .changes[0]
        .rows.equals(blocks[1].changes[0].rows)
    )
    fresh.close()

    # read(after=…) skips what came before it
    assert rows(capture.read(blocks[2].end, max_changes=1, wait=30)) == [("c", 3, 3)]

    # nothing pending: an empty block at the same position
    idle = capture.read(blocks[-1].end, max_changes=100, wait=0.2)
    assert idle.count == 0 and idle.changes == [] and idle.end == blocks[-1].end
    assert idle.end_commit_time is None
    capture.close()


def test_applied_by_the_capture_run_the_lake_table_equals_the_source(
    source: Source, tmp_path: Path
) -> None:
    source.run(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10), amount DECIMAL(8, 2))",
        "INSERT INTO t VALUES (1, 'a', 1.50), (2, 'b', 2.50), (3, 'c', 3.50)",
    )
    lake = Lake.local(tmp_path / ".headwater")
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")

    def run() -> CaptureReport:
        capture = source.capture("t")
        try:
            return CaptureRun(
                "shop", capture, lake, store, {f"{source.name}.t": "raw.t"}, interval=0.2
            ).run(once=True)
        finally:
            capture.close()

    def lake_rows() -> list[tuple[Any, ...]]:
        table = lake.table("raw.t").scan().to_arrow().sort_by("id")
        return [(r["id"], r["name"], r.get("amount"), r.get("note")) for r in table.to_pylist()]

    first = run()
    assert first.snapshot_rows == 3
    source.run("UPDATE t SET name = 'A' WHERE id = 1", "DELETE FROM t WHERE id = 2")
    source.transaction("UPDATE t SET id = 30 WHERE id = 3", "INSERT INTO t VALUES (4, 'd', 4)")
    source.run("ALTER TABLE t ADD COLUMN note VARCHAR(10)", "UPDATE t SET note = 'n' WHERE id = 4")
    second = run()  # a restart: a new capture, the same lake and store
    assert second.snapshot_rows == 0 and second.changes == 6
    assert lake_rows() == [
        (1, "A", Decimal("1.50"), None),
        (4, "d", Decimal("4.00"), "n"),
        (30, "c", Decimal("3.50"), None),
    ]
    third = run()  # nothing new: nothing applied twice
    assert third.changes == 0 and third.commits == 0
    assert len(lake_rows()) == 3


def test_positions_order_across_binary_log_files(source: Source) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY)")
    capture = source.capture("t")
    with capture.snapshot() as snapshot:
        position = snapshot.position
    for i in range(1, 7):
        source.run(f"INSERT INTO t VALUES ({i})")
        if i % 2 == 0:
            source.run("FLUSH BINARY LOGS")
    blocks = read_all(capture, position, max_changes=1)
    assert [r[1] for b in blocks for r in rows(b)] == [1, 2, 3, 4, 5, 6]
    ends = [BinlogPosition.parse(b.end) for b in blocks]
    assert len({e.file for e in ends}) == 3  # three files, and still in order
    assert ends == sorted(ends, key=lambda e: sort_key(str(e)))
    assert all(a < b for a, b in itertools.pairwise(ends))

    # after the last transaction of a file, the next read starts in the next file
    last_of_first = ends[1]
    assert rows(capture.read(str(last_of_first), max_changes=1, wait=30)) == [("c", 3)]

    status = capture.status()
    capture.acknowledge(str(last_of_first))
    status = capture.status()
    assert status.acknowledged == str(last_of_first)
    assert status.exists is True
    assert status.lag_bytes is not None and status.lag_bytes > 0
    capture.acknowledge(status.current or "")
    caught_up = capture.status()
    assert caught_up.lag_bytes == 0 and caught_up.lag_seconds == 0.0
    capture.close()


def test_position_order_is_by_file_index_then_offset() -> None:
    ordered = [
        "mysql-bin.000003:4521",
        "mysql-bin.000003:10000",
        "mysql-bin.000010:4",
        "mysql-bin.999999:4",
        "mysql-bin.1000000:4",
    ]
    parsed = [BinlogPosition.parse(p) for p in ordered]
    assert sorted(reversed(parsed)) == parsed
    assert [str(p) for p in parsed] == ordered
    assert [sort_key(p) for p in ordered] == [p.key() for p in parsed]
    with pytest.raises(CdcError, match="not a binary-log position"):
        BinlogPosition.parse("0/16B3748")


@pytest.mark.faults
def test_a_server_restart_mid_stream_loses_nothing(source: Source) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
    capture = source.capture("t")
    with capture.snapshot() as snapshot:
        position = snapshot.position
    source.run("INSERT INTO t VALUES (1, 'a')")
    first = capture.read(position, max_changes=1, wait=30)
    assert rows(first) == [("c", 1, "a")]
    source.transaction("INSERT INTO t VALUES (2, 'b')", "UPDATE t SET v = 'A' WHERE id = 1")
    source.conn.close()

    source.server.stop()
    # what the stream received before the server went is read; then the server is missed
    after, seen = first.end, []
    with pytest.raises(SourceUnreachable, match=f"127.0.0.1:{source.server.port}"):
        for _ in range(5):
            block = capture.read(after, max_changes=100, wait=0.3)
            seen += rows(block)
            after = block.end
    source.server.start()

    source.conn = source.connect()
    source.conn.select_db(source.name)
    source.run("DELETE FROM t WHERE id = 2")
    blocks = read_all(capture, after)
    assert seen + [r for b in blocks for r in rows(b)] == [
        ("c", 2, "b"),
        ("u", 1, "A"),
        ("d", 2, "b"),
    ]
    # the restarted server writes a new file; the positions go on in order
    ends = [BinlogPosition.parse(b.end) for b in blocks]
    assert ends[-1].index > BinlogPosition.parse(first.end).index
    capture.close()


def test_a_truncate_of_a_captured_table_is_a_change_in_its_place(source: Source) -> None:
    source.run(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "CREATE TABLE other (id INT PRIMARY KEY)"
    )
    capture = source.capture("t")
    with capture.snapshot() as snapshot:
        position = snapshot.position
    source.run("INSERT INTO t VALUES (1, 1)", "TRUNCATE TABLE other")  # not captured
    source.run("INSERT INTO t VALUES (2, 2)")
    with source.conn.cursor() as cursor:
        cursor.execute("SHOW MASTER STATUS")
        name, offset = cursor.fetchone()[:2]
    source.run(f"TRUNCATE TABLE {source.name}.t", "INSERT INTO t VALUES (3, 3)")
    block = capture.read(position, max_changes=4, wait=30)
    assert rows(block) == [("c", 1, 1), ("c", 2, 2), ("t", None, None), ("c", 3, 3)]
    [change] = block.changes
    ends = change.rows.column("_position").to_pylist()
    assert sort_key(ends[1]) < sort_key(ends[2]) < sort_key(ends[3])  # its own transaction

    # read from just before it, the table's rows unseen: its columns come from the catalog
    fresh = source.capture("t", server_id=108)
    alone = fresh.read(f"{name}:{offset}", max_changes=2, wait=30)
    assert rows(alone) == [("t", None, None), ("c", 3, 3)]
    assert alone.changes[0].rows.schema == change.rows.schema
    fresh.close()
    capture.close()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("binlog_format", "MIXED"),
        ("binlog_row_image", "MINIMAL"),
        ("binlog_row_metadata", "MINIMAL"),
    ],
)
def test_check_names_the_binary_log_setting_to_fix(
    source: Source, variable: str, value: str
) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY)")
    capture = source.capture("t")
    capture.check()
    source.run(f"SET GLOBAL {variable} = '{value}'")
    try:
        with pytest.raises(
            CdcSetupError, match=rf"{variable} is {value} .* needs .*SET GLOBAL {variable} = "
        ):
            capture.check()
    finally:
        source.run(f"SET GLOBAL {variable} = '{'ROW' if variable == 'binlog_format' else 'FULL'}'")
    capture.check()


def test_check_names_missing_tables_keys_and_types(source: Source) -> None:
    source.run(
        "CREATE TABLE orders (id INT PRIMARY KEY)",
        "CREATE TABLE log (line TEXT)",
        "CREATE TABLE hosts (id INT PRIMARY KEY, address INET6)",
    )
    with pytest.raises(
        CdcSetupError, match=r"`shop_\w+\.order` does not exist.*did you mean `orders`"
    ):
        source.capture("order").check()
    with pytest.raises(CdcSetupError, match=r"`shop_\w+\.log` has no primary key.*ADD PRIMARY KEY"):
        source.capture("orders", "log").check()
    with pytest.raises(CdcSetupError, match=r"cannot read: address \(inet6\)"):
        source.capture("hosts").check()
    with pytest.raises(CdcSetupError, match="server_id 1 is .*own server_id"):
        source.capture("orders", server_id=1).check()
    with pytest.raises(CdcSetupError, match="server_id 0 cannot identify"):
        source.capture("orders", server_id=0).check()
    with pytest.raises(CdcError, match="names no database"):
        MysqlCapture(f"mysql+pymysql://root@127.0.0.1:{source.server.port}/", ["t"], server_id=5)


def test_check_names_missing_privileges_with_the_grant(source: Source) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY)")
    user = f"cdc_{uuid.uuid4().hex[:6]}"
    source.run(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'secret'")
    try:
        url = f"mysql+pymysql://{user}:secret@127.0.0.1:{source.server.port}/{source.name}"
        capture = MysqlCapture(url, ["t"], server_id=103)
        with pytest.raises(
            CdcSetupError,
            match=rf"'{user}'@'%' .* lacks .*: REPLICATION SLAVE, REPLICATION CLIENT, SELECT on "
            rf"{source.name}\.t — .*GRANT REPLICATION SLAVE, REPLICATION CLIENT ON \*\.\* TO "
            rf"'{user}'@'%'; GRANT SELECT ON `{source.name}`\.`t` TO '{user}'@'%';",
        ):
            capture.check()
        source.run(f"GRANT REPLICATION CLIENT, SELECT ON *.* TO '{user}'@'%'")
        with pytest.raises(
            CdcSetupError, match=r"lacks what change data capture needs: REPLICATION SLAVE — "
        ):
            capture.check()
        source.run(f"GRANT REPLICATION SLAVE ON *.* TO '{user}'@'%'")
        capture.check()
        with capture.snapshot() as snapshot:
            assert [t.table for t in snapshot.tables()] == [f"{source.name}.t"]
    finally:
        source.run(f"DROP USER '{user}'@'%'")


def test_a_second_capture_with_the_same_server_id_is_busy(source: Source) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY)")
    first = source.capture("t", server_id=104)
    with first.snapshot() as snapshot:
        position = snapshot.position
    first.read(position, max_changes=10, wait=0.1)  # its stream stays open
    assert first.status().active is True
    second = source.capture("t", server_id=104)
    with pytest.raises(CdcSlotBusy, match="another reader .* uses server_id 104"):
        second.check()
    with pytest.raises(CdcSlotBusy, match="server_id 104"):
        second.read(position, max_changes=10, wait=0.1)
    first.close()
    source.capture("t", server_id=105).check()  # another id is free meanwhile
    deadline = time.monotonic() + 30
    while True:  # the server forgets a reader once its dump thread sees the connection gone
        try:
            second.check()
            break
        except CdcSlotBusy:
            assert time.monotonic() < deadline, "the closed capture stayed registered"
            time.sleep(0.1)
    second.close()


def test_an_expired_position_says_to_take_a_new_snapshot(source: Source) -> None:
    source.run("CREATE TABLE t (id INT PRIMARY KEY)")
    capture = source.capture("t")
    with capture.snapshot() as snapshot:
        position = snapshot.position
    source.run("INSERT INTO t VALUES (1)", "FLUSH BINARY LOGS")
    with source.conn.cursor() as cursor:
        cursor.execute("SHOW MASTER STATUS")
        newest = cursor.fetchone()[0]
    deadline = time.monotonic() + 30
    while True:  # MariaDB keeps a file until its transactions are checkpointed in InnoDB
        source.run(f"PURGE BINARY LOGS TO '{newest}'")
        with source.conn.cursor() as cursor:
            cursor.execute("SHOW BINARY LOGS")
            if [r[0] for r in cursor.fetchall()] == [newest]:
                break
        assert time.monotonic() < deadline, "the old binary logs were not purged"
        time.sleep(0.2)
    with pytest.raises(CdcError, match=r"cannot send its binary log from .*take a new snapshot"):
        capture.read(position, max_changes=10, wait=0.1)
    capture.acknowledge(position)
    assert capture.status().exists is False
    capture.close()


def test_check_says_the_binary_log_is_off_on_the_shared_server() -> None:
    admin = sa.make_url(MYSQL_ADMIN_URL)
    host, port = admin.host or "127.0.0.1", admin.port or 3306
    require_service("MariaDB/MySQL", host, port)
    conn = pymysql.connect(host=host, port=port, user=admin.username, password=admin.password or "")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT @@log_bin")
            if cursor.fetchone()[0]:
                pytest.skip("the shared server writes a binary log")
    finally:
        conn.close()
    url = admin.set(database="information_schema").render_as_string(hide_password=False)
    capture = MysqlCapture(url, ["TABLES"], server_id=106)
    with pytest.raises(CdcSetupError, match=r"binary log is off .*log_bin = mysql-bin"):
        capture.check()
