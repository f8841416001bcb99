"""Relational databases: connect by SQLAlchemy URL, read tables and queries as Arrow batches."""

from headwater.connect.sql.database import SqlDatabase
from headwater.connect.sql.reader import READERS, ReadRequest, SqlReader, choose_reader

__all__ = ["READERS", "ReadRequest", "SqlDatabase", "SqlReader", "choose_reader"]
