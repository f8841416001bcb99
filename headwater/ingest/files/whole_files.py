"""JSON documents and Parquet files: each file is read whole, so a broken one fails the read.

A JSON file (an array of objects, or one object) or a Parquet file has no rows to salvage
once it does not parse; DuckDB's error names the file, and the load stops before publishing.
"""

from __future__ import annotations

from headwater.connect.sql.quoting import literal
from headwater.connect.storage import FileEntry
from headwater.ingest.files.scan import Scan, numbering


def scan(entries: list[FileEntry], kind: str) -> Scan:
    listing = "[" + ", ".join(literal(e.location) for e in entries) + "]"
    # the columns are not known before the read: the files are numbered by name
    number = numbering(0, [e.location for e in entries], None)
    common = f"union_by_name = true{number.option}"
    if kind == "parquet":
        source = f"read_parquet({listing}, {common})"
    else:
        source = (
            f"read_json({listing}, format = 'auto', records = true, sample_size = -1, "
            f"maximum_depth = -1, {common})"
        )
    return Scan(
        [f"SELECT *{number.exclude}, {number.item} FROM {source}"],
        {i: e.path for i, e in enumerate(entries)},
    )
