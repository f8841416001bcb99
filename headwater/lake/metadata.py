"""The one read path of the lake's metadata: catalog rows, metadata files and manifests.

Loading a table through pyiceberg imports its catalog (SQLAlchemy's ORM), table and
manifest modules: over a second on a 2-core machine, longer than checking 5M rows takes
(docs/benchmarks.md). Listing tables, showing one, mapping it for a query or a check and
reading a load's state need only its snapshots, schema and data files, so every read of the
lake comes here: the catalog's rows (SQLite with ``sqlite3``, any other database with
SQLAlchemy Core), the metadata JSON with ``json`` and the Avro manifests with fastavro, from
local files or S3 alike. It only reads what pyiceberg wrote (writes go through
:mod:`headwater.lake.commits`), and the test suite compares what it reads with pyiceberg's
view of every table the tests make (tests/lake_reads.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

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


_TABLES = (
    "SELECT table_namespace, table_name, metadata_location FROM iceberg_tables "
    "WHERE catalog_name = {catalog}"
)


def catalog_rows(catalog_url: str, engine: Any = None) -> list[tuple[str, str, str]]:
    """(namespace, name, metadata location) of every table in the catalog; empty when the
    catalog has no tables yet. SQLite is read with ``sqlite3``; another database through
    ``engine`` (a SQLAlchemy engine), with SQLAlchemy Core."""
    path = catalog_file(catalog_url)
    if path is not None:
        if not path.exists():
            return []
        # as_uri escapes what an SQLite URI would misread in a path (`?`, `#`, `%`)
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute(_TABLES.format(catalog="?"), (CATALOG_NAME,)).fetchall()
        except sqlite3.OperationalError:  # no catalog tables yet
            return []
        finally:
            con.close()
    else:
        import sqlalchemy as sa

        try:
            with engine.connect() as con:
                rows = con.execute(
                    sa.text(_TABLES.format(catalog=":catalog")), {"catalog": CATALOG_NAME}
                ).all()
        except sa.exc.ProgrammingError:  # no catalog tables yet
            return []
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows if r[2]]


Opener = Callable[[str], IO[bytes]]  # opens a file of the lake (local or S3) for reading


def open_local(uri: str) -> IO[bytes]:
    """Open a ``file://`` URI or plain path (the embedded lake's files)."""
    path = local_path(uri)
    if path is None:
        raise LakeError(f"cannot read {uri} without its storage settings")
    return open(path, "rb")


class TableMetadata:
    """The parsed metadata JSON of one table version (immutable, as its file is), with the
    manifests of its snapshots read on demand."""

    def __init__(
        self, location: str, document: dict[str, Any], opener: Opener = open_local
    ) -> None:
        self.location = location
        self.document = document
        self._open = opener
        self._files: dict[int, list[DataFileEntry]] = {}

    @property
    def format_version(self) -> int:
        return int(self.document.get("format-version", 1))

    @property
    def schema_count(self) -> int:
        return len(self.document.get("schemas", [])) or 1

    @property
    def properties(self) -> dict[str, str]:
        """The table's properties."""
        return {str(k): str(v) for k, v in self.document.get("properties", {}).items()}

    @property
    def last_updated_ms(self) -> int:
        return int(self.document.get("last-updated-ms", 0))

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        """Every snapshot the metadata keeps, oldest first (as the spec lists them)."""
        return [dict(s) for s in self.document.get("snapshots", [])]

    def snapshot(self, snapshot_id: int) -> dict[str, Any] | None:
        for snapshot in self.document.get("snapshots", []):
            if snapshot.get("snapshot-id") == snapshot_id:
                return dict(snapshot)
        return None

    @property
    def current_snapshot(self) -> dict[str, Any] | None:
        current = self.document.get("current-snapshot-id")
        if current is None or current == -1:
            return None
        return self.snapshot(int(current))

    @property
    def summary(self) -> dict[str, str]:
        """The current snapshot's summary (where loads keep their cursor); {} when empty."""
        return summary_of(self.current_snapshot)

    def lineage(self) -> Iterator[dict[str, str]]:
        """The summaries of the current snapshot and its ancestors, newest first."""
        snapshot = self.current_snapshot
        while snapshot is not None:
            yield summary_of(snapshot)
            parent = snapshot.get("parent-snapshot-id")
            snapshot = self.snapshot(int(parent)) if parent is not None else None

    def schema(self, schema_id: int | None = None) -> dict[str, Any]:
        """A schema (the current one by default), as the metadata JSON writes it."""
        wanted = self.document.get("current-schema-id", 0) if schema_id is None else schema_id
        for schema in self.document.get("schemas", []):
            if schema.get("schema-id", 0) == wanted:
                return dict(schema)
        return dict(self.document["schema"])  # format v1 keeps one schema

    def arrow_schema(self, schema_id: int | None = None) -> pa.Schema:
        """A schema in the Arrow types Headwater writes (as ``storable_schema`` gives them)."""
        return pa.schema(
            [
                pa.field(str(column["name"]), arrow_type(column["type"]), nullable=True)
                for column in self.schema(schema_id).get("fields", [])
            ]
        )

    @property
    def data_files(self) -> list[DataFileEntry]:
        """The live data files of the current snapshot."""
        current = self.current_snapshot
        return [] if current is None else self.files_of(int(current["snapshot-id"]))

    def files_of(self, snapshot_id: int) -> list[DataFileEntry]:
        """The live data files of a snapshot; a snapshot with delete files is an error (a
        direct scan of its data files would not apply them)."""
        if snapshot_id in self._files:
            return self._files[snapshot_id]
        snapshot = self.snapshot(snapshot_id)
        if snapshot is None:
            raise LakeError(
                f"snapshot {snapshot_id} is not in {self.location}",
                hint="list the table's snapshots with `headwater show`",
            )
        files: list[DataFileEntry] = []
        for manifest in self._records(str(snapshot.get("manifest-list", ""))):
            if int(manifest.get("content") or 0) != 0:  # a delete manifest
                if manifest.get("added_files_count") or manifest.get("existing_files_count"):
                    raise _has_deletes(self.location)
                continue
            for entry in self._records(str(manifest["manifest_path"])):
                if entry["status"] == 2:  # deleted in this snapshot
                    continue
                data = entry["data_file"]
                if int(data.get("content") or 0) != 0:
                    raise _has_deletes(self.location)
                files.append(
                    DataFileEntry(
                        path=str(data["file_path"]),
                        record_count=int(data["record_count"]),
                        size=int(data["file_size_in_bytes"]),
                        raw=data,
                    )
                )
        self._files[snapshot_id] = files
        return files

    def column_counts(self) -> ColumnCounts | None:
        """Row and NULL counts of the current snapshot from its manifests, without a scan;
        None when it has delete files (the counts would not apply them)."""
        try:
            files = self.data_files
        except LakeError:
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

    def _records(self, uri: str) -> list[dict[str, Any]]:
        """The records of an Avro file of the table (a manifest list or a manifest)."""
        import fastavro

        try:
            with self._open(uri) as handle:
                return [cast(dict[str, Any], record) for record in fastavro.reader(handle)]
        except (OSError, ValueError, EOFError) as exc:
            raise _unreadable(uri, exc) from exc


def summary_of(snapshot: dict[str, Any] | None) -> dict[str, str]:
    """A snapshot's summary as strings ({} for none)."""
    return {k: str(v) for k, v in (snapshot or {}).get("summary", {}).items()}


def _has_deletes(location: str) -> LakeError:
    return LakeError(
        f"the table of {location} has delete files, which Headwater's direct scans do not apply",
        hint="rewrite the table with a full load, or compact it with the engine that wrote "
        "the delete files",
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


def read(location: str, opener: Opener = open_local) -> TableMetadata:
    """The metadata file at ``location`` (gzip-compressed ones too)."""
    try:
        with opener(location) as handle:
            raw = handle.read()
        if raw[:2] == b"\x1f\x8b":
            import gzip

            raw = gzip.decompress(raw)
        document = json.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        return TableMetadata(location, document, opener)
    except (OSError, ValueError, EOFError) as exc:  # gone, not JSON, a cut-short gzip
        raise _unreadable(location, exc) from exc


def _unreadable(path: str, exc: BaseException) -> LakeError:
    """A table file the catalog leads to that is gone or damaged: nothing is read from it."""
    return LakeError(
        f"cannot read {path}, a metadata file of the lake: {type(exc).__name__}: {exc}",
        hint="a file under the warehouse was moved, deleted or truncated; restore it from a "
        "copy, or load the table again (`headwater run --full-refresh`)",
    )


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
    "timestamp_ns": pa.timestamp("us"),
    "timestamptz_ns": pa.timestamp("us", tz="UTC"),
    "string": pa.string(),
    "uuid": pa.binary(),
    "binary": pa.binary(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_FIXED = re.compile(r"^fixed\[(\d+)\]$")


def arrow_type(iceberg: Any) -> pa.DataType:
    """The Arrow type Headwater reads and writes an Iceberg type as (the spec's JSON form)."""
    if isinstance(iceberg, str):
        decimal = _DECIMAL.match(iceberg)
        if decimal:
            return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
        if _FIXED.match(iceberg):
            return pa.binary()
        if iceberg in _PRIMITIVES:
            return _PRIMITIVES[iceberg]
    elif isinstance(iceberg, dict):
        kind = iceberg.get("type")
        if kind == "struct":
            return pa.struct(
                [
                    pa.field(str(f["name"]), arrow_type(f["type"]), not f.get("required", False))
                    for f in iceberg.get("fields", [])
                ]
            )
        if kind == "list":
            return pa.list_(arrow_type(iceberg["element"]))
        if kind == "map":
            return pa.map_(arrow_type(iceberg["key"]), arrow_type(iceberg["value"]))
    raise LakeError(
        f"the lake holds a column of Iceberg type {iceberg!r}, which Headwater cannot read",
        hint="read the table with an engine that supports the type, or cast the column",
    )
