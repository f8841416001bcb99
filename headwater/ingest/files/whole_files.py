"""JSON documents and Parquet files: each file is read whole, so a broken one fails the read.

A JSON file (an array of objects, or one object) or a Parquet file has no rows to salvage
once it does not parse; DuckDB's error names the file, and the load stops before publishing.
"""

from __future__ import annotations

from headwater.connect.sql.quoting import literal
from headwater.connect.storage import FileEntry
from headwater.ingest.files.scan import FILE, Scan


def scan(entries: list[FileEntry], kind: str) -> Scan:
    listing = "[" + ", ".join(literal(e.location) for e in entries) + "]"
    common = f"union_by_name = true, filename = {literal(FILE)}"
    if kind == "parquet":
        source = f"read_parquet({listing}, {common})"
    else:
        source = (
            f"read_json({listing}, format = 'auto', records = true, sample_size = -1, "
            f"maximum_depth = -1, {common})"
        )
    return Scan([f"SELECT * FROM {source}"], {e.location: e.path for e in entries})
