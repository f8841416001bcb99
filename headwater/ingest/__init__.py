"""Loading data from sources into lake tables."""

from headwater.ingest.sql_table import ingest_table

__all__ = ["ingest_table"]
