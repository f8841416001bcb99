"""The lake: Iceberg tables, their catalog and storage."""

from headwater.lake.catalog import Lake, SnapshotInfo, TableInfo, split_name
from headwater.lake.writer import WriteResult, replace_table

__all__ = ["Lake", "SnapshotInfo", "TableInfo", "WriteResult", "replace_table", "split_name"]
