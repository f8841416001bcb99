"""A table's current Iceberg metadata, read without pyiceberg.

Loading a table through pyiceberg imports its catalog, table and manifest modules and
SQLAlchemy: about 1.2 s on a 2-core machine, longer than checking 5M rows takes
(docs/benchmarks.md, "Data quality"). Commands that only need a table's snapshot, schema
and data files read the catalog's SQLite file with ``sqlite3``, the metadata JSON with
``json`` and the Avro manifests with fastavro, all from the Iceberg spec's own layout.

Only the embedded layout is read this way: a SQLite catalog and a local warehouse. For
anything else (PostgreSQL catalogs, s3:// files) and for tables with delete files,
:func:`current` answers None and the caller goes through pyiceberg.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import pyarrow as pa

from headwater.errors import LakeError

CATALOG_NAME = "headwater"  # the name Lake gives its pyiceberg SqlCatalog


@dataclass(frozen=True)
class ColumnCounts:
    """What the manifests already count: rows, and NULLs of the top-level columns every
    live data file has statistics for (a column added later is missing from older files'
    statistics, so it is not here)."""

    rows: int
    nulls: dict[str, int]
    # (min, max) of integer columns every file has bounds for: exact, as Iceberg keeps them
    bounds: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class DataFileEntry:
    """One live data file of a snapshot, as its manifest describes it."""

    path: str
    record_count: int
    size: int
    raw: dict[str, Any] = field(repr=False, compare=False)


def local_path(uri: str) -> str | None:
    """The local path of a ``file://`` URI or plain path; None for any other scheme."""
    if uri.startswith("file://"):
        return uri.removeprefix("file://")
    return None if "://" in uri else uri


def catalog_file(catalog_url: str) -> Path | None:
    """The SQLite file of a ``sqlite:///`` catalog URL; None for any other database."""
    if not catalog_url.startswith("sqlite:///"):
        return None
    return Path(catalog_url.removeprefix("sqlite:///"))


def metadata_location(catalog_url: str, namespace: str, name: str) -> str | None:
    """The current metadata file of ``namespace.name`` in a SQLite catalog, or None when the
    catalog is not SQLite, does not exist yet or does not hold the table."""
    path = catalog_file(catalog_url)
    if path is None or not path.exists():
        return None
    # as_uri escapes what an SQLite URI would misread in a path (`?`, `#`, `%`)
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        row = con.execute(
            "SELECT metadata_location FROM iceberg_tables "
            "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
            (CATALOG_NAME, namespace, name),
        ).fetchone()
    except sqlite3.OperationalError:  # no catalog tables yet
        return None
    finally:
        con.close()
    return str(row[0]) if row and row[0] else None


class TableMetadata:
    """The parsed metadata JSON of one table version (immutable, as its file is)."""

    def __init__(self, location: str, document: dict[str, Any]) -> None:
        self.location = location
        self.document = document

    @property
    def format_version(self) -> int:
        return int(self.document.get("format-version", 1))

    @property
    def schema_count(self) -> int:
        return len(self.document.get("schemas", [])) or 1

    @property
    def current_snapshot(self) -> dict[str, Any] | None:
        current = self.document.get("current-snapshot-id")
        if current is None or current == -1:
            return None
        for snapshot in self.document.get("snapshots", []):
            if snapshot.get("snapshot-id") == current:
                return dict(snapshot)
        return None

    @property
    def summary(self) -> dict[str, str]:
        """The current snapshot's summary (where loads keep their cursor); {} when empty."""
        snapshot = self.current_snapshot
        return {k: str(v) for k, v in (snapshot or {}).get("summary", {}).items()}

    def schema(self) -> dict[str, Any]:
        """The current schema, as the metadata JSON writes it."""
        current = self.document.get("current-schema-id", 0)
        for schema in self.document.get("schemas", []):
            if schema.get("schema-id", 0) == current:
                return dict(schema)
        return dict(self.document["schema"])  # format v1 keeps one schema

    @cached_property
    def data_files(self) -> list[DataFileEntry] | None:
        """The live data files of the current snapshot; None when it has delete files (the
        caller reads through pyiceberg, which applies them) or its manifests are not local."""
        snapshot = self.current_snapshot
        if snapshot is None:
            return []
        manifest_list = local_path(str(snapshot.get("manifest-list", "")))
        if manifest_list is None:
            return None
        files: list[DataFileEntry] = []
        for manifest in _records(manifest_list):
            if int(manifest.get("content") or 0) != 0:  # a delete manifest
                if manifest.get("added_files_count") or manifest.get("existing_files_count"):
                    return None
                continue
            path = local_path(str(manifest["manifest_path"]))
            if path is None:
                return None
            for entry in _records(path):
                if entry["status"] == 2:  # deleted in this snapshot
                    continue
                data = entry["data_file"]
                if int(data.get("content") or 0) != 0:
                    return None
                files.append(
                    DataFileEntry(
                        path=str(data["file_path"]),
                        record_count=int(data["record_count"]),
                        size=int(data["file_size_in_bytes"]),
                        raw=data,
                    )
                )
        return files

    def column_counts(self) -> ColumnCounts | None:
        """Row and NULL counts of the current snapshot from its manifests, without a scan;
        None when the data files are not readable here (see :attr:`data_files`)."""
        files = self.data_files
        if files is None:
            return None
        fields = self.schema().get("fields", [])
        ids = {int(f["id"]): str(f["name"]) for f in fields}
        widths = {
            int(f["id"]): _INT_WIDTHS[f["type"]]
            for f in fields
            if isinstance(f["type"], str) and f["type"] in _INT_WIDTHS  # nested types are dicts
        }
        nulls = dict.fromkeys(ids.values(), 0)
        bounds: dict[int, tuple[int, int]] = {}
        unbounded: set[int] = set()
        for entry in files:
            counted = {
                int(kv["key"]): int(kv["value"]) for kv in entry.raw.get("null_value_counts") or []
            }
            for field_id, name in ids.items():
                if name not in nulls:
                    continue
                if field_id in counted:
                    nulls[name] += counted[field_id]
                else:  # no statistics for it in this file: not known
                    del nulls[name]
            lower = _ints(entry.raw.get("lower_bounds"), widths)
            upper = _ints(entry.raw.get("upper_bounds"), widths)
            for field_id in widths:
                if field_id not in lower or field_id not in upper:
                    unbounded.add(field_id)
                    continue
                low, high = bounds.get(field_id, (lower[field_id], upper[field_id]))
                bounds[field_id] = (min(low, lower[field_id]), max(high, upper[field_id]))
        return ColumnCounts(
            rows=sum(f.record_count for f in files),
            nulls=nulls,
            bounds={ids[i]: b for i, b in bounds.items() if i not in unbounded},
        )


_INT_WIDTHS = {"int": 4, "long": 8}


def _ints(pairs: Any, widths: dict[int, int]) -> dict[int, int]:
    """Iceberg's single-value serialisation of int and long bounds: little-endian, signed."""
    out = {}
    for kv in pairs or []:
        width = widths.get(int(kv["key"]))
        if width is not None and len(kv["value"]) == width:
            out[int(kv["key"])] = int.from_bytes(kv["value"], "little", signed=True)
    return out


def _records(path: str) -> list[dict[str, Any]]:
    """The records of a local Avro file (a manifest list or a manifest)."""
    import fastavro

    try:
        with open(path, "rb") as handle:
            return [cast(dict[str, Any], record) for record in fastavro.reader(handle)]
    except (OSError, ValueError, EOFError) as exc:
        raise _unreadable(path, exc) from exc


def read(location: str) -> TableMetadata | None:
    """The metadata file at ``location``; None when it is not on the local file system."""
    path = local_path(location)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return TableMetadata(location, json.load(handle))
    except (OSError, ValueError) as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: str, exc: BaseException) -> LakeError:
    """A table file the catalog leads to that is gone or damaged: nothing is read from it."""
    return LakeError(
        f"cannot read {path}, a metadata file of the lake: {type(exc).__name__}: {exc}",
        hint="a file under the warehouse was moved, deleted or truncated; restore it from a "
        "copy, or load the table again (`headwater run --full-refresh`)",
    )


def current(catalog_url: str, namespace: str, name: str) -> TableMetadata | None:
    """The current metadata of ``namespace.name``, or None where only pyiceberg can tell
    (another catalog, another file system, an unknown table: its error names the fix)."""
    location = metadata_location(catalog_url, namespace, name)
    return read(location) if location else None


# Iceberg's primitive types as Headwater stores them in Arrow (see lake.arrow_types)
_PRIMITIVES: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "string": pa.string(),
    "binary": pa.binary(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")


def arrow_type(iceberg: Any) -> pa.DataType | None:
    """The Arrow type of an Iceberg primitive type; None for nested and other types."""
    if not isinstance(iceberg, str):
        return None
    decimal = _DECIMAL.match(iceberg)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return _PRIMITIVES.get(iceberg)


def arrow_schema(metadata: TableMetadata) -> pa.Schema | None:
    """The current schema as ``Lake.arrow_schema`` gives it, when every column is of a
    primitive type; None otherwise."""
    fields = []
    for column in metadata.schema().get("fields", []):
        kind = arrow_type(column.get("type"))
        if kind is None:
            return None
        fields.append(pa.field(str(column["name"]), kind, nullable=True))
    return pa.schema(fields)
