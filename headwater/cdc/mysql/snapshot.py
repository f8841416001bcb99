"""A consistent read of the captured tables at a known binary log position.

MariaDB says exactly where its consistent snapshot stands in the binary log:
``START TRANSACTION WITH CONSISTENT SNAPSHOT`` then ``SHOW STATUS LIKE 'binlog_snapshot_%'``,
with no lock. MySQL has no such status, so it holds ``FLUSH TABLES WITH READ LOCK`` (which
needs the RELOAD privilege and briefly stops every writer) while the transaction starts and
``SHOW MASTER STATUS`` reads the position, then unlocks.

Rows come through one server-side cursor at a time (PyMySQL's ``SSCursor``) in batches of
``batch_rows``, transposed to columns once per batch; the session's time zone is UTC so that
TIMESTAMP values arrive in UTC, as the binary log has them.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pymysql
import pymysql.cursors

from headwater.cdc.capture import SnapshotTable
from headwater.cdc.mysql import server
from headwater.cdc.mysql.position import BinlogPosition
from headwater.cdc.mysql.types import Convert, snapshot_converter
from headwater.connect.sql.database import SqlDatabase
from headwater.errors import CdcSetupError


class MysqlSnapshot:
    """The captured tables as of :attr:`position`. They share the snapshot's one
    connection: a table's batches end when the next table is taken."""

    def __init__(self, db: SqlDatabase, conn: Any, tables: Sequence[str], batch_rows: int) -> None:
        self._db = db
        self._conn = conn
        self._tables = tables
        self._batch_rows = batch_rows
        self.position = str(_begin(conn, db))

    def tables(self) -> Iterator[SnapshotTable]:
        previous: Generator[pa.RecordBatch, None, None] | None = None
        for table in self._tables:
            if previous is not None:  # its cursor holds the connection: end it (and its rows)
                previous.close()
            described = server.describe(self._conn, table)
            if described is None:
                raise CdcSetupError(
                    f"table `{table}` does not exist on {self._db.dialect} at {self._db.address}",
                    source=self._db.address,
                    hint="check the captured tables' names (database.table)",
                )
            fields = [
                pa.field(n, t.arrow())
                for n, t in zip(described.names, described.types, strict=True)
            ]
            converters = [
                snapshot_converter(t, f"{table}.{n}")
                for n, t in zip(described.names, described.types, strict=True)
            ]
            schema = pa.schema(fields)
            select = ", ".join(server.quote(n) for n in described.names)
            sql = f"SELECT {select} FROM {server.qualified(table)}"
            previous = self._batches(table, sql, schema, converters)
            yield SnapshotTable(table=table, key=described.key, schema=schema, batches=previous)

    def _batches(
        self, table: str, sql: str, schema: pa.Schema, converters: list[Convert]
    ) -> Generator[pa.RecordBatch, None, None]:
        read = 0
        try:
            with self._conn.cursor(pymysql.cursors.SSCursor) as cursor:
                cursor.execute(sql)
                while rows := cursor.fetchmany(self._batch_rows):
                    read += len(rows)
                    yield _batch(rows, schema, converters)
        except pymysql.err.MySQLError as exc:
            raise self._db.read_error(f"table `{table}` for the snapshot", exc, read) from exc


def _begin(conn: Any, db: SqlDatabase) -> BinlogPosition:
    server.one(conn, "SET time_zone = '+00:00'")
    server.one(conn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    if server.is_mariadb(conn):
        server.one(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        status = dict(server.rows(conn, "SHOW STATUS LIKE 'binlog_snapshot_%'"))
        name, offset = status.get("Binlog_snapshot_file"), status.get("Binlog_snapshot_position")
        if name and offset:
            return BinlogPosition(str(name), int(offset))
    else:
        server.one(conn, "FLUSH TABLES WITH READ LOCK")
        try:
            server.one(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            position = server.current_position(conn)
        finally:
            server.one(conn, "UNLOCK TABLES")
        if position is not None:
            return position
    raise CdcSetupError(
        f"the binary log is off on {db.dialect} at {db.address}: a snapshot has no position "
        "to continue from",
        source=db.address,
        hint="start the server with the binary log (headwater guide cdc mysql-and-mariadb)",
    )


def _batch(
    rows: Sequence[Sequence[Any]], schema: pa.Schema, converters: list[Convert]
) -> pa.RecordBatch:
    arrays = []
    for values, convert, target in zip(
        zip(*rows, strict=True), converters, schema.types, strict=True
    ):
        data = list(values) if convert is None else [convert(v) for v in values]
        arrays.append(pa.array(data, type=target))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
