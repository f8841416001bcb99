"""Relational databases: connect by SQLAlchemy URL, read tables and queries as Arrow batches.

Names are imported on first use (see :mod:`headwater.lazy`): quoting identifiers must not
load SQLAlchemy and pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.connect.sql.database import SqlDatabase
    from headwater.connect.sql.reader import (
        READERS,
        ReaderName,
        ReadRequest,
        SqlReader,
        choose_reader,
        reader_for,
    )

_WHERE = {
    "SqlDatabase": "headwater.connect.sql.database",
    "READERS": "headwater.connect.sql.reader",
    "ReadRequest": "headwater.connect.sql.reader",
    "SqlReader": "headwater.connect.sql.reader",
    "ReaderName": "headwater.connect.sql.reader",
    "choose_reader": "headwater.connect.sql.reader",
    "reader_for": "headwater.connect.sql.reader",
}

__getattr__ = exports("headwater.connect.sql", _WHERE)

__all__ = [
    "READERS",
    "ReadRequest",
    "ReaderName",
    "SqlDatabase",
    "SqlReader",
    "choose_reader",
    "reader_for",
]
