"""Talking to the MySQL/MariaDB server outside the binary log stream: connections from the
capture's URL, the server's binary log settings and positions, and the captured tables'
columns and keys as the catalog describes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pymysql
import pymysql.cursors

from headwater.cdc.mysql.position import BinlogPosition
from headwater.cdc.mysql.types import ColumnType
from headwater.connect.sql.database import SqlDatabase

#: MySQL and MariaDB error numbers the capture tells apart
ACCESS_DENIED = 1227  # a global privilege is missing
TABLE_ACCESS_DENIED = 1142
NO_SUCH_TABLE = 1146
UNKNOWN_DATABASE = 1049
PARSE_ERROR = 1064
BINLOG_READ_FAILED = 1236  # the dump could not start: file purged, position not in the log


def settings(db: SqlDatabase, *, read_timeout: float = 60.0) -> dict[str, Any]:
    """PyMySQL's connection keywords for the database at ``db``'s URL."""
    url = db.url
    return {
        "host": url.host or "localhost",
        "port": url.port or 3306,
        "user": url.username or "",
        "password": url.password or "",
        "charset": "utf8mb4",
        "connect_timeout": 10,
        "read_timeout": read_timeout,
        "write_timeout": read_timeout,
    }


def connect(db: SqlDatabase, **extra: Any) -> pymysql.connections.Connection[Any]:
    """A connection in autocommit mode; a refused or failed connect raises the error
    hierarchy's :class:`~headwater.errors.SourceError` or ``SourceUnreachable``."""
    try:
        return pymysql.connect(**settings(db), autocommit=True, **extra)
    except pymysql.err.MySQLError as exc:
        raise db.connect_error(exc) from exc


def replication_connect(**kwargs: Any) -> pymysql.connections.Connection[Any]:
    """pymysqlreplication's connections, with PyMySQL's current keyword for the database
    (the package passes ``db``, which PyMySQL deprecates with a warning)."""
    if "db" in kwargs:
        kwargs["database"] = kwargs.pop("db")
    return pymysql.connect(**kwargs)


def code(exc: BaseException) -> int | None:
    """The server's error number of a PyMySQL error."""
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def one(conn: Any, sql: str, args: Any = None) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone()


def rows(conn: Any, sql: str, args: Any = None) -> list[Any]:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def variable(conn: Any, name: str) -> str | None:
    """A global variable's value, None when this server has no such variable."""
    row = one(conn, "SHOW GLOBAL VARIABLES LIKE %s", (name,))
    return None if row is None else str(row[1])


def current_position(conn: Any) -> BinlogPosition | None:
    """Where the server writes its binary log next (None: the log is off)."""
    try:
        row = one(conn, "SHOW BINARY LOG STATUS")  # MySQL 8.2 and later
    except pymysql.err.ProgrammingError as exc:
        if code(exc) != PARSE_ERROR:
            raise
        row = one(conn, "SHOW MASTER STATUS")
    return None if row is None else BinlogPosition(str(row[0]), int(row[1]))


def binary_logs(conn: Any) -> list[tuple[str, int]]:
    """The server's binary log files and their sizes, oldest first."""
    return [(str(r[0]), int(r[1])) for r in rows(conn, "SHOW BINARY LOGS")]


def is_mariadb(conn: Any) -> bool:
    return "mariadb" in str(conn.get_server_info()).lower()


@dataclass(frozen=True)
class TableColumns:
    """A table's columns, their types and its primary key, from the catalog."""

    table: str
    names: tuple[str, ...]
    types: tuple[ColumnType, ...]
    key: tuple[str, ...]


_COLUMNS = """
SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s
ORDER BY ORDINAL_POSITION
"""

_KEY = """
SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY'
ORDER BY ORDINAL_POSITION
"""


def describe(conn: Any, table: str) -> TableColumns | None:
    """``table`` (``database.name``) as the catalog shows it; None when it is not there (or
    the user may not see it)."""
    database, name = table.split(".", 1)
    found = rows(conn, _COLUMNS, (database, name))
    if not found:
        return None
    types = tuple(
        ColumnType(
            str(data_type).lower(),
            unsigned="unsigned" in str(column_type).lower(),
            precision=None if precision is None else int(precision),
            scale=None if scale is None else int(scale),
        )
        for _, data_type, column_type, precision, scale in found
    )
    key = tuple(str(r[0]) for r in rows(conn, _KEY, (database, name)))
    return TableColumns(table, tuple(str(r[0]) for r in found), types, key)


def table_names(conn: Any, database: str) -> list[str]:
    return [
        str(r[0])
        for r in rows(
            conn,
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            (database,),
        )
    ]


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def qualified(table: str) -> str:
    database, name = table.split(".", 1)
    return f"{quote(database)}.{quote(name)}"
