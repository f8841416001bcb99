"""Change data capture from the MySQL/MariaDB binary log (row-based), read with the
``mysql-replication`` package (:mod:`pymysqlreplication`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.cdc.mysql.capture import MysqlCapture
    from headwater.cdc.mysql.position import BinlogPosition

_WHERE = {
    "MysqlCapture": "headwater.cdc.mysql.capture",
    "BinlogPosition": "headwater.cdc.mysql.position",
}

__getattr__ = exports("headwater.cdc.mysql", _WHERE)

__all__ = ["BinlogPosition", "MysqlCapture"]
