"""The lake: Iceberg tables, their catalog and storage."""

from headwater.lake.catalog import Lake, SnapshotInfo, TableInfo, split_name
from headwater.lake.writer import WriteResult, is_storable, replace_table, replace_table_with_files

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
