"""The lake: Iceberg tables, their catalog and storage.

Names are imported on first use: the writer loads pyiceberg, which a check or a query of
the embedded lake does without (see :mod:`headwater.lake.metadata`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.lake.catalog import Lake, SnapshotInfo, TableInfo, split_name
    from headwater.lake.writer import (
        WriteResult,
        is_storable,
        replace_table,
        replace_table_with_files,
    )

_WHERE = {
    "Lake": "headwater.lake.catalog",
    "SnapshotInfo": "headwater.lake.catalog",
    "TableInfo": "headwater.lake.catalog",
    "split_name": "headwater.lake.catalog",
    "WriteResult": "headwater.lake.writer",
    "is_storable": "headwater.lake.writer",
    "replace_table": "headwater.lake.writer",
    "replace_table_with_files": "headwater.lake.writer",
}


__getattr__ = exports("headwater.lake", _WHERE)


__all__ = [
    "Lake",
    "SnapshotInfo",
    "TableInfo",
    "WriteResult",
    "is_storable",
    "replace_table",
    "replace_table_with_files",
    "split_name",
]
