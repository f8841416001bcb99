"""The lake: Iceberg tables, their catalog and storage.

Every table write is one :class:`TableChange` committed by :func:`commit` (see
:mod:`headwater.lake.commits`). Names are imported on first use: the writer loads pyiceberg,
which a check or a query of the embedded lake does without (see :mod:`headwater.lake.metadata`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.lake.catalog import Lake, SnapshotInfo, TableInfo, split_name
    from headwater.lake.change import Keep, TableChange, WrittenFile
    from headwater.lake.commits import WriteResult, commit
    from headwater.lake.writer import Staging, is_storable, replace_table

_WHERE = {
    "Lake": "headwater.lake.catalog",
    "SnapshotInfo": "headwater.lake.catalog",
    "TableInfo": "headwater.lake.catalog",
    "split_name": "headwater.lake.catalog",
    "Keep": "headwater.lake.change",
    "TableChange": "headwater.lake.change",
    "WrittenFile": "headwater.lake.change",
    "WriteResult": "headwater.lake.commits",
    "commit": "headwater.lake.commits",
    "Staging": "headwater.lake.writer",
    "is_storable": "headwater.lake.writer",
    "replace_table": "headwater.lake.writer",
}


__getattr__ = exports("headwater.lake", _WHERE)


__all__ = [
    "Keep",
    "Lake",
    "SnapshotInfo",
    "Staging",
    "TableChange",
    "TableInfo",
    "WriteResult",
    "WrittenFile",
    "commit",
    "is_storable",
    "replace_table",
    "split_name",
]
