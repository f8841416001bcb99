"""What a MySQL/MariaDB server must offer before its binary log can be captured, each lack
raised as a :class:`~headwater.errors.CdcSetupError` whose hint is the fix.

Privileges are tried, not read from ``SHOW GRANTS`` (roles, wildcards and ``ALL`` make the
text hard to judge): ``SHOW MASTER STATUS`` needs REPLICATION CLIENT (MariaDB's BINLOG
MONITOR), a binary log dump of a file that cannot exist needs REPLICATION SLAVE (the server
checks the privilege before it looks for the file; the dump is under server_id 0, which
no reader uses), and ``SELECT … LIMIT 0`` of each table
needs SELECT.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import XidEvent

from headwater.cdc.mysql import server
from headwater.cdc.mysql.types import SUPPORTED
from headwater.connect.sql.database import SqlDatabase
from headwater.errors import CdcSetupError, CdcSlotBusy, did_you_mean

# [mysqld] settings the capture needs, with why
_SETTINGS = (
    ("binlog_format", "ROW", "the capture reads row events, not statements"),
    ("binlog_row_image", "FULL", "updates and deletes must carry whole rows"),
    (
        "binlog_row_metadata",
        "FULL",
        "row events must carry their columns' names as they were when written (ALTER TABLE "
        "changes them later)",
    ),
)

#: a binary log name no server writes: a dump of it fails after the privilege check
_PROBE_FILE = "headwater-privilege-probe.000001"


def check_server(conn: Any, db: SqlDatabase, server_id: int) -> None:
    """The binary log is on, row-based with full images and metadata, and ``server_id`` is
    usable."""
    where = f"{db.dialect} at {db.address}"
    log_bin, own_id = server.one(conn, "SELECT @@GLOBAL.log_bin, @@GLOBAL.server_id")
    if str(log_bin) not in ("1", "ON"):
        raise CdcSetupError(
            f"the binary log is off on {where}: there are no changes to capture",
            source=db.address,
            hint="start the server with the binary log: under [mysqld] set log_bin = mysql-bin, "
            "server_id = 1, binlog_format = ROW, binlog_row_image = FULL, binlog_row_metadata "
            "= FULL, then restart it (headwater guide cdc mysql-and-mariadb)",
        )
    for name, wanted, why in _SETTINGS:
        value = server.variable(conn, name)
        if value is not None and value.upper() != wanted:
            raise CdcSetupError(
                f"{name} is {value} on {where}; change data capture needs {wanted}: {why}",
                source=db.address,
                hint=f"SET GLOBAL {name} = '{wanted}'; and put {name} = {wanted} under [mysqld] "
                "in the server's option file so that it stays; sessions already open keep the "
                "old value until they reconnect",
            )
    if not 1 <= server_id <= 2**32 - 1:
        raise CdcSetupError(
            f"server_id {server_id} cannot identify a reader of the binary log",
            source=db.address,
            hint="give the capture a server_id from 1 to 4294967295 that no server or other "
            "replica of this source uses",
        )
    if int(own_id) == server_id:
        raise CdcSetupError(
            f"server_id {server_id} is {where}'s own server_id",
            source=db.address,
            hint="give the capture a server_id that no server or other replica of this source uses",
        )


def check_privileges(conn: Any, db: SqlDatabase, tables: Sequence[str]) -> list[str]:
    """Raise naming every missing privilege with the GRANT that gives it; return the tables
    that do not exist."""
    missing: list[str] = []
    try:
        server.current_position(conn)
    except pymysql.err.MySQLError as exc:
        if server.code(exc) != server.ACCESS_DENIED:
            raise
        missing.append("REPLICATION CLIENT")
    if not _may_dump(db):
        missing.insert(0, "REPLICATION SLAVE")
    unreadable: list[str] = []
    absent: list[str] = []
    for table in tables:
        try:
            server.one(conn, f"SELECT 1 FROM {server.qualified(table)} LIMIT 0")
        except pymysql.err.MySQLError as exc:
            number = server.code(exc)
            if number in (server.NO_SUCH_TABLE, server.UNKNOWN_DATABASE):
                absent.append(table)
            elif number == server.TABLE_ACCESS_DENIED:
                unreadable.append(table)
            else:
                raise
    if missing or unreadable:
        user = _current_user(conn)
        grants = []
        if missing:
            grants.append(f"GRANT {', '.join(missing)} ON *.* TO {user};")
        grants += [f"GRANT SELECT ON {server.qualified(t)} TO {user};" for t in unreadable]
        lacks = missing + [f"SELECT on {t}" for t in unreadable]
        raise CdcSetupError(
            f"user {user} on {db.dialect} at {db.address} lacks what change data capture "
            f"needs: {', '.join(lacks)}",
            source=db.address,
            hint="as an administrator run: "
            + " ".join(grants)
            + " (REPLICATION SLAVE reads the binary log, REPLICATION CLIENT its position, "
            "SELECT the snapshot)",
        )
    return absent


def check_tables(conn: Any, db: SqlDatabase, tables: Sequence[str], absent: list[str]) -> None:
    """Every captured table exists, has a primary key and columns the capture can read."""
    for table in tables:
        described = None if table in absent else server.describe(conn, table)
        if described is None:
            database, name = table.split(".", 1)
            names = server.table_names(conn, database)
            raise CdcSetupError(
                f"table `{table}` does not exist on {db.dialect} at {db.address}"
                f"{did_you_mean(name, names)}",
                source=db.address,
                hint=f"tables in `{database}`: {', '.join(sorted(names)[:20]) or 'none'}; "
                "name captured tables as database.table",
            )
        if not described.key:
            raise CdcSetupError(
                f"table `{table}` has no primary key: its changes cannot be merged by key",
                source=db.address,
                hint=f"ALTER TABLE {server.qualified(table)} ADD PRIMARY KEY (…) on columns "
                "that identify a row, or leave the table out of the capture",
            )
        odd = [
            f"{n} ({t.name})"
            for n, t in zip(described.names, described.types, strict=True)
            if t.name not in SUPPORTED
        ]
        if odd:
            raise CdcSetupError(
                f"table `{table}` has columns whose type the capture cannot read: {', '.join(odd)}",
                source=db.address,
                hint="change those columns' types (uuid and inet values as char), or leave "
                "the table out of the capture",
            )


def check_busy(conn: Any, db: SqlDatabase, server_id: int) -> None:
    """Raise :class:`CdcSlotBusy` when a replica or capture reads the binary log with
    ``server_id`` already: the server would end one reader's stream whenever the other
    connects.

    Readers that register (every capture does, and every replica) are in ``SHOW SLAVE
    HOSTS``; a user without the privilege it needs (MariaDB's REPLICATION MASTER ADMIN) is
    not told, and the capture cannot see the other reader.
    """
    try:
        hosts = server.rows(conn, "SHOW SLAVE HOSTS")
    except pymysql.err.MySQLError as exc:
        if server.code(exc) == server.ACCESS_DENIED:
            return
        raise
    for row in hosts:
        if int(row[0]) == server_id:
            raise CdcSlotBusy(
                f"another reader of the binary log on {db.dialect} at {db.address} uses "
                f"server_id {server_id} (host `{row[1]}`)",
                source=db.address,
                hint="stop the other capture or replica, or give this capture another "
                "server_id; two readers with one server_id take the stream from each other",
                retry_after=5.0,
            )


def _may_dump(db: SqlDatabase) -> bool:
    # server_id 0: a dump under the capture's own id would end the stream of a reader that
    # already uses it (the server keeps one stream per id)
    reader = BinLogStreamReader(
        connection_settings=server.settings(db, read_timeout=10),
        server_id=0,
        resume_stream=True,
        log_file=_PROBE_FILE,
        log_pos=4,
        only_events=[XidEvent],
        enable_logging=False,
        pymysql_wrapper=server.replication_connect,
    )
    try:
        reader.fetchone()
    except pymysql.err.MySQLError as exc:
        number = server.code(exc)
        if number == server.ACCESS_DENIED:
            return False
        if number is not None and number < 2000:  # the server's refusal of the dump itself
            return True
        raise db.connect_error(exc) from exc
    finally:
        reader.close()
    return True


def _current_user(conn: Any) -> str:
    user, _, host = str(server.one(conn, "SELECT CURRENT_USER()")[0]).rpartition("@")
    return f"'{user}'@'{host}'"
