"""PostgreSQL change data capture against a private server with ``wal_level = logical``:
the snapshot, the change stream's operations, values, types and positions, schema changes,
the setup checks, and a server restart in the middle of the stream."""

from __future__ import annotations

import decimal
import os
import random
import string
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from headwater.cdc.capture import CHANGE_COLUMNS, ChangeBlock
from headwater.cdc.pgoutput import lsn_value
from headwater.cdc.postgres import PostgresCapture
from headwater.errors import CdcError, CdcSetupError, CdcSlotBusy, SourceUnreachable
from tests.private_postgres import BIN, PrivatePostgres, require_binaries

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    require_binaries()
    instance = PrivatePostgres()
    instance.start()
    try:
        yield instance
    finally:
        instance.remove()


class Database:
    """A fresh database on the private server, with a connection to change it."""

    def __init__(self, server: PrivatePostgres) -> None:
        self.server = server
        self.name = f"hw_cdc_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = server.url(self.name)
        self._conn: psycopg.Connection[Any] | None = None
        self.captures: list[PostgresCapture] = []

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.server.conninfo(self.name), autocommit=True)
        return self._conn

    def run(self, *statements: str) -> None:
        for statement in statements:
            self.conn.execute(statement)  # type: ignore[arg-type]

    def capture(self, *tables: str, url: str | None = None) -> PostgresCapture:
        slot = f"hw_{uuid.uuid4().hex[:8]}"
        capture = PostgresCapture(url or self.url, list(tables), slot, f"{slot}_pub")
        self.captures.append(capture)
        return capture

    def drop(self) -> None:
        for capture in self.captures:
            capture.close()
        if self._conn is not None:
            self._conn.close()
        if self.server.process is None:
            return
        with psycopg.connect(self.server.conninfo(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE database = %s",
                (self.name,),
            )
            admin.execute(f'DROP DATABASE "{self.name}" WITH (FORCE)')


@pytest.fixture
def db(server: PrivatePostgres) -> Iterator[Database]:
    database = Database(server)
    try:
        yield database
    finally:
        database.drop()


def started(capture: PostgresCapture) -> dict[str, list[dict[str, Any]]]:
    """Check, create the slot and take the snapshot: each table's rows."""
    capture.check()
    assert capture.ensure() is True
    rows: dict[str, list[dict[str, Any]]] = {}
    with capture.snapshot() as snapshot:
        for table in snapshot.tables():
            rows[table.table] = [r for b in table.batches for r in b.to_pylist()]
    return rows


def changes(block: ChangeBlock, *columns: str) -> list[tuple[Any, ...]]:
    """(table, _op, columns…) of every change in the block, in _seq order."""
    found = []
    for part in block.changes:
        for row in part.rows.to_pylist():
            found.append((row["_seq"], part.table, row["_op"], *(row.get(c) for c in columns)))
    return [change[1:] for change in sorted(found)]


def test_snapshot_then_changes_arrive_typed_and_in_commit_order(db: Database) -> None:
    db.run(
        "CREATE SCHEMA shop",
        """CREATE TABLE shop.items (id int PRIMARY KEY, name text, price numeric(10,2),
        qty smallint, big bigint, ratio real, score double precision, ok boolean,
        born date, seen timestamp, at timestamptz, opens time, raw bytea, doc jsonb,
        tag uuid, code char(3), note varchar(20), span interval)""",
        """INSERT INTO shop.items VALUES (1, 'first', 12.50, 3, 9000000000, 0.5, 2.25, true,
        '2024-02-29', '2024-03-01 10:11:12.345678', '2024-03-01 10:11:12+02', '23:59:58.5',
        '\\x00ff10', '{"a": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ab', 'short',
        '1 day 02:00:00')""",
    )
    capture = db.capture("shop.items")
    snapshot = started(capture)
    first = {
        "id": 1,
        "name": "first",
        "price": decimal.Decimal("12.50"),
        "qty": 3,
        "big": 9000000000,
        "ratio": 0.5,
        "score": 2.25,
        "ok": True,
        "born": date(2024, 2, 29),
        "seen": datetime(2024, 3, 1, 10, 11, 12, 345678),
        "at": datetime(2024, 3, 1, 8, 11, 12, tzinfo=UTC),
        "opens": time_of_day(23, 59, 58, 500000),
        "raw": b"\x00\xff\x10",
        "doc": '{"a": [1, 2]}',
        "tag": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "code": "ab ",
        "note": "short",
        "span": "1 day 02:00:00",
    }
    assert snapshot == {"shop.items": [first]}

    db.run(
        "INSERT INTO shop.items (id, name, price, raw) VALUES (2, 'second', 1.05, '\\x')",
        "UPDATE shop.items SET name = 'renamed', ok = false WHERE id = 1",
        "UPDATE shop.items SET id = 3 WHERE id = 2",
        "DELETE FROM shop.items WHERE id = 1",
    )
    block = capture.read(None, max_changes=100, wait=5)
    assert changes(block, "id", "name", "price", "ok", "raw") == [
        ("shop.items", "c", 2, "second", decimal.Decimal("1.05"), None, b""),
        ("shop.items", "u", 1, "renamed", decimal.Decimal("12.50"), False, b"\x00\xff\x10"),
        # the key changed: the old key's delete, then the new row
        ("shop.items", "d", 2, None, None, None, None),
        ("shop.items", "u", 3, "second", decimal.Decimal("1.05"), None, b""),
        ("shop.items", "d", 1, None, None, None, None),
    ]
    (part,) = block.changes
    assert part.key == ("id",)
    schema = part.rows.schema
    assert schema.names[-len(CHANGE_COLUMNS) :] == list(CHANGE_COLUMNS)
    assert {name: str(schema.field(name).type) for name in first} == {
        "id": "int32",
        "name": "string",
        "price": "decimal128(10, 2)",
        "qty": "int16",
        "big": "int64",
        "ratio": "float",
        "score": "double",
        "ok": "bool",
        "born": "date32[day]",
        "seen": "timestamp[us]",
        "at": "timestamp[us, tz=UTC]",
        "opens": "time64[us]",
        "raw": "binary",
        "doc": "string",
        "tag": "string",
        "code": "string",
        "note": "string",
        "span": "string",
    }
    rows = part.rows.to_pylist()
    assert [r["_seq"] for r in rows] == [0, 1, 2, 3, 4]
    positions = [lsn_value(r["_position"]) for r in rows]
    # four transactions; the key change's delete and update share theirs
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert rows[2]["_position"] == rows[3]["_position"]
    assert block.end == rows[-1]["_position"]
    assert lsn_value(block.end) > lsn_value(capture.status().acknowledged or "0/0")
    commit_times = [r["_commit_time"] for r in rows]
    assert commit_times == sorted(commit_times)
    assert block.end_commit_time == commit_times[-1]
    assert all(r["_unchanged"] == [] for r in rows)


def test_nothing_is_consumed_until_acknowledged(db: Database) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY, v text)")
    capture = db.capture("public.t")
    started(capture)
    db.run("INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'b')")
    first = capture.read(None, max_changes=100, wait=5)
    again = capture.read(None, max_changes=100, wait=5)
    assert (
        changes(first, "id") == changes(again, "id") == [("public.t", "c", 1), ("public.t", "c", 2)]
    )
    assert first.end == again.end

    capture.acknowledge(first.end)
    assert capture.status().acknowledged == first.end
    db.run("INSERT INTO t VALUES (3, 'c')")
    after = capture.read(None, max_changes=100, wait=5)
    assert changes(after, "id") == [("public.t", "c", 3)]
    # an older position acknowledged again moves nothing back
    capture.acknowledge(first.end)
    assert capture.status().acknowledged == first.end


def test_read_after_a_position_skips_what_came_before(db: Database) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY)")
    capture = db.capture("public.t")
    started(capture)
    for n in range(1, 6):
        db.run(f"INSERT INTO t VALUES ({n})")
    whole = capture.read(None, max_changes=100, wait=5)
    ends = sorted({r["_position"] for part in whole.changes for r in part.rows.to_pylist()})
    assert len(ends) == 5
    # the lake holds the first two transactions; the slot was not told
    rest = capture.read(ends[1], max_changes=100, wait=5)
    assert changes(rest, "id") == [("public.t", "c", 3), ("public.t", "c", 4), ("public.t", "c", 5)]
    assert rest.end == whole.end
    # nothing after the last: an empty block ending where it was asked to start
    empty = capture.read(whole.end, max_changes=100, wait=0.2)
    assert (empty.changes, empty.end, empty.end_commit_time) == ([], whole.end, None)


def test_a_block_holds_whole_transactions(db: Database) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY)")
    capture = db.capture("public.t")
    started(capture)
    db.run(
        "INSERT INTO t SELECT generate_series(1, 5)",
        "INSERT INTO t SELECT generate_series(6, 8)",
        "INSERT INTO t VALUES (9)",
    )
    block = capture.read(None, max_changes=2, wait=5)
    assert [c[2] for c in changes(block, "id")] == [1, 2, 3, 4, 5]
    block = capture.read(block.end, max_changes=4, wait=5)
    assert [c[2] for c in changes(block, "id")] == [6, 7, 8, 9]


def _noise(size: int) -> str:
    """Text PostgreSQL cannot compress below its TOAST threshold."""
    generator = random.Random(size)
    return "".join(generator.choice(string.ascii_letters) for _ in range(size))


def test_unchanged_toasted_values_are_null_and_named(db: Database) -> None:
    big = _noise(20_000)
    db.run("CREATE TABLE docs (id int PRIMARY KEY, title text, body text)")
    db.conn.execute("INSERT INTO docs VALUES (1, 'one', %s)", (big,))
    capture = db.capture("public.docs")
    started(capture)
    db.run("UPDATE docs SET title = 'uno' WHERE id = 1")
    db.conn.execute("UPDATE docs SET body = %s WHERE id = 1", (big + "!",))
    block = capture.read(None, max_changes=100, wait=5)
    (part,) = block.changes
    rows = [(r["_op"], r["title"], r["body"], r["_unchanged"]) for r in part.rows.to_pylist()]
    assert rows == [("u", "uno", None, ["body"]), ("u", "uno", big + "!", [])]


def test_schema_changes_start_a_new_part_with_the_new_columns(db: Database) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY, n int, gone text)")
    capture = db.capture("public.t")
    started(capture)
    db.run(
        "INSERT INTO t VALUES (1, 10, 'x')",
        "ALTER TABLE t ADD COLUMN added text",
        "INSERT INTO t VALUES (2, 20, 'y', 'new')",
        "ALTER TABLE t DROP COLUMN gone",
        "INSERT INTO t VALUES (3, 30, 'newer')",
        "ALTER TABLE t ALTER COLUMN n TYPE bigint",
        "UPDATE t SET n = 9000000000 WHERE id = 3",
    )
    block = capture.read(None, max_changes=100, wait=5)
    parts = [
        (
            [(f.name, str(f.type)) for f in part.rows.schema if f.name not in CHANGE_COLUMNS],
            part.rows.drop_columns(list(CHANGE_COLUMNS)).to_pylist(),
            part.rows.column("_op").to_pylist(),
        )
        for part in block.changes
    ]
    assert parts == [
        (
            [("id", "int32"), ("n", "int32"), ("gone", "string")],
            [{"id": 1, "n": 10, "gone": "x"}],
            ["c"],
        ),
        (
            [("id", "int32"), ("n", "int32"), ("gone", "string"), ("added", "string")],
            [{"id": 2, "n": 20, "gone": "y", "added": "new"}],
            ["c"],
        ),
        (
            [("id", "int32"), ("n", "int32"), ("added", "string")],
            [{"id": 3, "n": 30, "added": "newer"}],
            ["c"],
        ),
        (
            [("id", "int32"), ("n", "int64"), ("added", "string")],
            [{"id": 3, "n": 9000000000, "added": "newer"}],
            ["u"],
        ),
    ]
    assert [part.table for part in block.changes] == ["public.t"] * 4
    seqs = [s for part in block.changes for s in part.rows.column("_seq").to_pylist()]
    assert seqs == [0, 1, 2, 3]


def test_truncate_and_tables_outside_the_capture(db: Database) -> None:
    db.run(
        "CREATE TABLE a (id int PRIMARY KEY)",
        "CREATE TABLE b (id int PRIMARY KEY)",
        "CREATE TABLE other (id int PRIMARY KEY)",
    )
    capture = db.capture("public.a", "public.b")
    started(capture)
    db.run(
        "INSERT INTO a VALUES (1)",
        "INSERT INTO other VALUES (1)",
        "INSERT INTO b VALUES (7)",
        "TRUNCATE a",
    )
    block = capture.read(None, max_changes=100, wait=5)
    assert changes(block, "id") == [
        ("public.a", "c", 1),
        ("public.b", "c", 7),
        ("public.a", "t", None),
    ]


def test_ensure_makes_the_publication_match_the_tables(db: Database) -> None:
    db.run("CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)")
    first = db.capture("public.a")
    assert first.ensure() is True
    again = PostgresCapture(db.url, ["public.b"], first.slot, first.publication)
    db.captures.append(again)
    assert again.ensure() is False  # the slot is there
    published = db.conn.execute(
        "SELECT tablename FROM pg_publication_tables WHERE pubname = %s", (first.publication,)
    ).fetchall()
    assert published == [("b",)]


def test_check_names_a_table_without_a_primary_key(db: Database) -> None:
    db.run("CREATE TABLE keyless (v text)", "CREATE TABLE keyed (id int PRIMARY KEY)")
    capture = db.capture("public.keyless", "public.keyed", "public.missing")
    with pytest.raises(CdcSetupError, match=r"table `public.keyless` has no primary key") as info:
        capture.check()
    assert 'ALTER TABLE "public"."keyless" REPLICA IDENTITY FULL' in str(info.value.hint)
    assert "table `public.missing` does not exist" in str(info.value)
    db.run("ALTER TABLE keyless REPLICA IDENTITY FULL", "CREATE TABLE missing (id int PRIMARY KEY)")
    capture.check()
    # with REPLICA IDENTITY FULL and no key, the whole old row identifies an update
    started(capture)
    db.run("INSERT INTO keyless VALUES ('x')", "UPDATE keyless SET v = 'y'")
    block = capture.read(None, max_changes=100, wait=5)
    assert changes(block, "v") == [
        ("public.keyless", "c", "x"),
        ("public.keyless", "d", "x"),
        ("public.keyless", "u", "y"),
    ]
    assert block.changes[0].key == ("v",)


def test_a_user_with_the_least_privileges_captures(db: Database) -> None:
    """REPLICATION, CREATE on the database and the tables' ownership are enough; each one
    missing is named with its fix."""
    role = f"reader_{uuid.uuid4().hex[:6]}"
    db.run("CREATE TABLE t (id int PRIMARY KEY)", f"CREATE ROLE {role} LOGIN")
    try:
        capture = db.capture("public.t", url=db.server.url(db.name, user=role))
        with pytest.raises(CdcSetupError, match=f"user `{role}` lacks the REPLICATION privilege"):
            capture.check()
        db.run(f"ALTER ROLE {role} REPLICATION")
        capture.check()
        with pytest.raises(CdcSetupError, match="cannot create or change publication") as info:
            capture.ensure()
        assert f'CREATE PUBLICATION "{capture.publication}" FOR TABLE "public"."t"' in str(
            info.value.hint
        )
        db.run(f'GRANT CREATE ON DATABASE "{db.name}" TO {role}', f"ALTER TABLE t OWNER TO {role}")
        assert started(capture) == {"public.t": []}
        db.run("INSERT INTO t VALUES (1)")
        block = capture.read(None, max_changes=10, wait=5)
        assert changes(block, "id") == [("public.t", "c", 1)]
        capture.acknowledge(block.end)
        capture.heartbeat()
        assert capture.status().acknowledged is not None
        capture.drop()
    finally:
        for capture in db.captures:
            capture.close()
        db.run(
            "DROP TABLE t",
            f'REVOKE ALL ON DATABASE "{db.name}" FROM {role}',
            f"DROP ROLE {role}",
        )


def test_check_names_wal_level_on_a_server_without_logical_decoding(postgres_url: str) -> None:
    """The shared server runs with wal_level = replica: read, never reconfigured."""
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        if conn.execute("SHOW wal_level").fetchone() == ("logical",):
            pytest.skip("the shared PostgreSQL on 5432 has wal_level = logical")
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
    capture = PostgresCapture(postgres_url, ["public.t"], "hw_never_created", "hw_never")
    try:
        with pytest.raises(CdcSetupError, match=r"wal_level is `replica`, not `logical`") as info:
            capture.check()
        # the only gap: the table has its key, the user is a superuser, slots are free
        assert info.value.message.endswith(
            "change data capture: wal_level is `replica`, not `logical`"
        )
        assert "set `wal_level = logical` in postgresql.conf" in str(info.value.hint)
        assert "rds.logical_replication = 1" in str(info.value.hint)
    finally:
        capture.close()


def test_check_names_exhausted_replication_slots(db: Database) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY)")
    free = db.conn.execute(
        "SELECT current_setting('max_replication_slots')::int - count(*) FROM pg_replication_slots"
    ).fetchone()
    assert free is not None
    fillers = [f"filler_{n}_{uuid.uuid4().hex[:6]}" for n in range(free[0])]
    for name in fillers:
        db.conn.execute("SELECT pg_create_physical_replication_slot(%s)", (name,))
    try:
        capture = db.capture("public.t")
        with pytest.raises(
            CdcSetupError, match=r"replication slots \(max_replication_slots\) are taken"
        ):
            capture.check()
    finally:
        for name in fillers:
            db.conn.execute("SELECT pg_drop_replication_slot(%s)", (name,))


@pytest.fixture
def recvlogical() -> Iterator[Callable[[Database, PostgresCapture], None]]:
    """Start ``pg_recvlogical`` on a capture's slot: another reader holding it."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(db: Database, capture: PostgresCapture) -> None:
        binary = BIN / "pg_recvlogical"
        if not binary.exists():
            pytest.skip(f"{binary} is missing")
        processes.append(
            subprocess.Popen(
                [
                    str(binary),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(db.server.port),
                    "-U",
                    "postgres",
                    "-d",
                    db.name,
                    "--slot",
                    capture.slot,
                    "--start",
                    "-f",
                    os.devnull,
                    "-o",
                    "proto_version=1",
                    "-o",
                    f"publication_names={capture.publication}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 10
        while not capture.status().active:
            assert time.monotonic() < deadline, "pg_recvlogical did not take the slot"
            time.sleep(0.05)

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def test_a_slot_read_by_another_process_is_busy(
    db: Database, recvlogical: Callable[[Database, PostgresCapture], None]
) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY)")
    capture = db.capture("public.t")
    started(capture)
    recvlogical(db, capture)
    with pytest.raises(
        CdcSlotBusy, match=rf"replication slot `{capture.slot}` .* is in use by another process"
    ):
        capture.check()
    with pytest.raises(CdcSlotBusy, match="in use by another process") as info:
        capture.read(None, max_changes=10, wait=0)
    assert info.value.retryable is True
    assert capture.status().active is True


def test_status_heartbeat_and_drop(db: Database) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY)", "CREATE TABLE elsewhere (id int PRIMARY KEY)")
    capture = db.capture("public.t")
    started(capture)
    db.run("INSERT INTO t VALUES (1)")
    status = capture.status()
    assert (status.name, status.exists, status.active) == (capture.slot, True, False)
    assert status.lag_bytes is not None and status.lag_bytes > 0
    assert status.lag_seconds is not None and 0 <= status.lag_seconds < 600
    assert status.current is not None
    assert lsn_value(status.current) - lsn_value(status.acknowledged or "0/0") == status.lag_bytes

    # a pending change of ours: the heartbeat must not move past it
    capture.heartbeat()
    assert capture.status().acknowledged == status.acknowledged
    block = capture.read(None, max_changes=10, wait=5)
    assert changes(block, "id") == [("public.t", "c", 1)]
    capture.acknowledge(block.end)

    # only other tables change: the heartbeat frees their WAL
    db.run("INSERT INTO elsewhere SELECT generate_series(1, 1000)")
    before = capture.status()
    assert before.lag_bytes is not None and before.lag_bytes > 0
    assert before.lag_seconds is None  # nothing of ours is pending
    capture.heartbeat()
    after = capture.status()
    assert lsn_value(after.acknowledged or "0/0") > lsn_value(before.current or "0/0")
    assert capture.read(None, max_changes=10, wait=0).changes == []
    db.run("INSERT INTO t VALUES (2)")
    assert changes(capture.read(None, max_changes=10, wait=5), "id") == [("public.t", "c", 2)]

    capture.drop()
    gone = capture.status()
    assert (gone.exists, gone.acknowledged, gone.lag_bytes) == (False, None, None)
    published = db.conn.execute(
        "SELECT count(*) FROM pg_publication WHERE pubname = %s", (capture.publication,)
    ).fetchone()
    assert published == (0,)
    with pytest.raises(CdcError, match=f"replication slot `{capture.slot}` does not exist"):
        capture.read(None, max_changes=10, wait=0)


def test_snapshot_without_a_fresh_slot_starts_the_slot_again(db: Database) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    capture = db.capture("public.t")
    started(capture)
    db.run("INSERT INTO t VALUES (2)")
    with capture.snapshot() as snapshot:
        (table,) = snapshot.tables()
        rows = [r["id"] for b in table.batches for r in b.to_pylist()]
        position = snapshot.position
    assert rows == [1, 2]
    assert capture.status().acknowledged == position
    db.run("INSERT INTO t VALUES (3)")
    assert changes(capture.read(None, max_changes=10, wait=5), "id") == [("public.t", "c", 3)]


def test_snapshot_batches_are_bounded(db: Database) -> None:
    db.run(
        "CREATE TABLE t (id int PRIMARY KEY, note text)",
        "INSERT INTO t SELECT n, 'line one\nline \"two\", ' || n FROM generate_series(1, 5000) n",
        "INSERT INTO t VALUES (0, ''), (-1, NULL)",
    )
    capture = db.capture("public.t")
    capture.ensure()
    with capture.snapshot() as snapshot:
        snapshot.batch_bytes = 16 << 10
        (table,) = snapshot.tables()
        batches = list(table.batches)
    assert len(batches) > 5
    assert max(b.num_rows for b in batches) < 1000
    rows = {r["id"]: r["note"] for b in batches for r in b.to_pylist()}
    assert len(rows) == 5002
    assert (rows[0], rows[-1], rows[42]) == ("", None, 'line one\nline "two", 42')
    assert pa.Table.from_batches(batches).schema == table.schema


@pytest.mark.faults
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_server_restart_mid_stream_loses_nothing(db: Database, how: str) -> None:
    db.run("CREATE TABLE t (id int PRIMARY KEY)")
    capture = db.capture("public.t")
    started(capture)
    db.run("INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)")
    first = capture.read(None, max_changes=1, wait=5)
    assert changes(first, "id") == [("public.t", "c", 1)]
    capture.acknowledge(first.end)
    committed = first.end  # what the lake would hold
    db.run("INSERT INTO t VALUES (3)")

    getattr(db.server, how)()
    db.server.start()
    db.conn.close()  # the test's own connection went with the server

    with pytest.raises(SourceUnreachable, match="lost the connection|cannot connect") as info:
        capture.read(committed, max_changes=100, wait=0)
    assert info.value.retryable is True
    db.run("INSERT INTO t VALUES (4)")
    rest = capture.read(committed, max_changes=100, wait=5)
    assert changes(rest, "id") == [("public.t", "c", 2), ("public.t", "c", 3), ("public.t", "c", 4)]
    # after a kill the slot may have lost the acknowledgement (saved at checkpoints), never more
    acknowledged = lsn_value(capture.status().acknowledged or "0/0")
    assert acknowledged <= lsn_value(committed)
    if how == "stop":
        assert acknowledged == lsn_value(committed)
