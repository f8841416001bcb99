"""Which reader a file needs: its format from the table, or from its extension."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from headwater.connect.storage import FileEntry
from headwater.errors import SourceError

Format = str  # csv | tsv | json | jsonl | parquet

# Compression DuckDB undoes itself, chosen by the same extensions.
COMPRESSIONS = (".gz", ".zst")

EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def format_of(path: str) -> Format | None:
    """The format an extension names, looking through a compression suffix."""
    name = PurePosixPath(path.lower())
    if name.suffix in COMPRESSIONS:
        name = name.with_suffix("")
    return EXTENSIONS.get(name.suffix)


def resolve_format(declared: str, entries: Iterable[FileEntry], glob: str) -> Format:
    """The one format of a table's files; ``auto`` must find a single known extension."""
    if declared != "auto":
        return declared
    found: dict[Format, str] = {}
    for entry in entries:
        kind = format_of(entry.path)
        if kind is None:
            raise SourceError(
                f"cannot tell the format of {entry.path} from its extension (glob `{glob}`)",
                hint="set `format:` on the table (csv, tsv, json, jsonl, parquet)",
            )
        found.setdefault(kind, entry.path)
    if len(found) > 1:
        examples = ", ".join(f"{path} ({kind})" for kind, path in found.items())
        raise SourceError(
            f"glob `{glob}` matches files of several formats: {examples}",
            hint="narrow the glob to one format, or split the files into several tables",
        )
    return next(iter(found), "csv")
