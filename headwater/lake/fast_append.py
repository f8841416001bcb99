"""Publish Parquet files as one APPEND snapshot without pyiceberg, for the embedded lake.

Why: importing pyiceberg's catalog, table and manifest modules with SQLAlchemy costs about
1.2 s per process on a 2-core machine, while an incremental load appending 50,000 rows must
finish, whole process, in about 1 s. Like :mod:`headwater.lake.metadata` for reading, this
module writes a commit with ``sqlite3``, ``json``, fastavro and the Parquet footers only.

It follows the Iceberg spec v2 layout as pyiceberg 0.12's fast append writes it:

1. one data-file entry per Parquet file, with the statistics pyiceberg's
   ``parquet_file_to_data_file`` derives from the footer (metrics modes included);
2. a manifest ``<location>/metadata/<uuid>-m0.avro`` holding them (status ADDED, sequence
   numbers left null to be inherited), whose Avro schema and header come from a data manifest
   of the current snapshot, so field ids and the partition struct are the ones in use;
3. a manifest list ``snap-<snapshot id>-0-<uuid>.avro``: the new manifest, then the base
   snapshot's manifests that still list live files (as pyiceberg keeps them);
4. the next ``<NNNNN>-<uuid>.metadata.json``: the snapshot (summary with pyiceberg's added-*
   and total-* keys and the caller's properties), main branch, snapshot and metadata logs;
5. a compare-and-set of the table's row in the SQLite catalog, as ``SqlCatalog.commit_table``
   does. Losing the race raises CommitConflict after deleting the files written here; the
   data files belong to the caller and are never deleted.

:func:`append_files` returns None, writing nothing, wherever this is not known to be right
and the caller must go through pyiceberg:

- the catalog is not a ``sqlite:///`` file that exists, or the table location, the metadata
  file or a data file is not on the local file system;
- the table is not format version 2, or its default partition spec has fields;
- table properties that place or compress metadata otherwise (``write.metadata.path``, a
  Python location provider, ``write.metadata.delete-after-commit.enabled``, an Avro codec
  other than gzip/deflate/null), or unparsable metrics modes;
- the metadata file name is not ``NNNNN-<uuid>.metadata.json``;
- no current snapshot, the main branch not at it, or no data manifest of the default spec in
  it (its Avro schema is the template for the new manifest);
- a Parquet file without Iceberg field ids, with a column the table has not, a required column
  missing, or a type the table does not store as it is (int to long and float to double
  allowed; times and timestamps in microseconds only; no unsigned integers);
- a summary property that pyiceberg computes itself (operation, added-*, total-*, ...).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import sqlite3
import struct
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq

from headwater.errors import CommitConflict
from headwater.lake.metadata import (
    CATALOG_NAME,
    TableMetadata,
    catalog_file,
    local_path,
    metadata_location,
)

log = logging.getLogger("headwater.lake")

_METADATA_FILE = re.compile(r"(\d+)-([\w-]{36})(?:\.\w+)?\.metadata\.json")
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")
_FIXED = re.compile(r"fixed\[(\d+)\]")
_UTC = {"UTC", "+00:00", "Etc/UTC", "Z"}  # pyiceberg's UTC_ALIASES
_AVRO_CODECS = {"gzip": "deflate", "deflate": "deflate", "null": "null"}  # Iceberg → Avro name
_TOTALS = {  # snapshot summary total → the added count it grows by
    "total-data-files": "added-data-files",
    "total-delete-files": "added-delete-files",
    "total-records": "added-records",
    "total-files-size": "added-files-size",
    "total-position-deletes": "added-position-deletes",
    "total-equality-deletes": "added-equality-deletes",
}
_COMPUTED_PREFIXES = ("added-", "deleted-", "removed-", "total-", "changed-", "partition")
_BUSY_TIMEOUT_S = 30.0


class _NotApplicable(Exception):
    """The fast path does not apply; the message says why (logged at debug level)."""


@dataclass(frozen=True)
class _Column:
    """A primitive leaf of the table schema and how pyiceberg collects its metrics."""

    field_id: int
    type: str
    mode: str  # none, counts, truncate or full
    length: int | None  # truncation length for truncate


@dataclass
class _Plan:
    """Everything decided before the first file is written."""

    snapshot_id: int
    sequence_number: int
    entries: list[dict[str, Any]]  # manifest entries of the new files
    manifest_schema: dict[str, Any]
    manifest_header: dict[str, str]
    list_schema: dict[str, Any]
    list_records: list[dict[str, Any]]  # the base snapshot's manifests that stay
    list_entry: dict[str, Any]  # the new manifest's entry, without its length yet
    codec: str
    manifest: str  # URI of the new manifest
    manifest_list: str
    location: str  # URI of the new metadata JSON
    document: dict[str, Any]  # its content


def append_files(
    catalog_url: str,
    namespace: str,
    name: str,
    base: TableMetadata,
    files: Sequence[str],
    properties: Mapping[str, str],
) -> TableMetadata | None:
    """Publish the Parquet ``files`` (local paths or ``file://`` URIs, with Iceberg field
    ids) as one APPEND snapshot on top of ``base``, the table's current metadata, with
    ``properties`` in the snapshot summary. Returns the new metadata, or None without writing
    anything where only pyiceberg can do it (see the module docstring). With no files the
    snapshot adds no manifest and only records ``properties``, as pyiceberg's would.

    Raises CommitConflict when another writer committed first; nothing of this call is left.
    """
    table = f"{namespace}.{name}"
    try:
        database = _catalog_database(catalog_url)
        plan = _plan(base, files, properties)
    except _NotApplicable as exc:
        log.debug("fast append to %s does not apply: %s", table, exc)
        return None

    written: list[str] = []
    try:
        manifests = list(plan.list_records)
        if plan.entries:
            path = _local(plan.manifest)
            written.append(path)
            _write_avro(path, plan.manifest_schema, plan.entries, plan.manifest_header, plan.codec)
            entry = {**plan.list_entry, "manifest_length": os.path.getsize(path)}
            manifests.insert(0, entry)

        list_header = {
            "snapshot-id": str(plan.snapshot_id),
            "parent-snapshot-id": str(base.document["current-snapshot-id"]),
            "sequence-number": str(plan.sequence_number),
            "format-version": "2",
        }
        path = _local(plan.manifest_list)
        written.append(path)
        _write_avro(path, plan.list_schema, manifests, list_header, plan.codec)

        path = _local(plan.location)
        written.append(path)
        with open(path, "xb") as handle:
            text = json.dumps(plan.document, separators=(",", ":"), ensure_ascii=False)
            handle.write(text.encode())

        committed = _compare_and_set(database, namespace, name, base.location, plan.location)
    except BaseException:
        # never delete a published commit's files: a failure may come after the COMMIT
        try:
            published = metadata_location(catalog_url, namespace, name) == plan.location
        except Exception:
            published = True  # cannot tell: leave orphans to `headwater maintain`
        if not published:
            _remove(written)
        raise
    if not committed:
        _remove(written)
        raise CommitConflict(
            f"table `{table}` changed while it was being written: another writer committed first",
            table=table,
            hint="run again",
        )
    return TableMetadata(plan.location, plan.document)


# -- deciding -------------------------------------------------------------------------------


def _catalog_database(catalog_url: str) -> str:
    path = catalog_file(catalog_url)
    if path is None or not path.is_file():
        raise _NotApplicable("the catalog is not an existing SQLite file")
    return str(path)


def _plan(base: TableMetadata, files: Sequence[str], properties: Mapping[str, str]) -> _Plan:
    doc = base.document
    table_properties: dict[str, str] = dict(doc.get("properties") or {})
    if base.format_version != 2:
        raise _NotApplicable(f"format version {base.format_version}")
    spec_id = int(doc.get("default-spec-id", 0))
    specs = [s for s in doc.get("partition-specs", []) if s.get("spec-id") == spec_id]
    if len(specs) != 1 or specs[0].get("fields"):
        raise _NotApplicable("the table is partitioned")
    for key in ("write.metadata.path", "write.py-location-provider.impl"):
        if table_properties.get(key):
            raise _NotApplicable(f"table property {key}")
    if table_properties.get("write.metadata.delete-after-commit.enabled", "").lower() == "true":
        raise _NotApplicable("table property write.metadata.delete-after-commit.enabled")
    codec = _AVRO_CODECS.get(table_properties.get("write.avro.compression-codec", "gzip"))
    if codec is None:
        raise _NotApplicable("Avro codec")
    for key in properties:
        if key == "operation" or key.startswith(_COMPUTED_PREFIXES):
            raise _NotApplicable(f"summary property {key} is computed by the commit")

    location = str(doc.get("location", "")).rstrip("/")
    if _local_or_none(location) is None or _local_or_none(base.location) is None:
        raise _NotApplicable("the table is not on the local file system")
    match = _METADATA_FILE.fullmatch(base.location.rsplit("/", 1)[-1])
    if match is None:
        raise _NotApplicable("metadata file name")
    try:
        uuid.UUID(match.group(2))
    except ValueError:
        raise _NotApplicable("metadata file name") from None
    version = int(match.group(1)) + 1

    snapshot = base.current_snapshot
    if snapshot is None:
        raise _NotApplicable("no current snapshot")
    main = (doc.get("refs") or {}).get("main") or {}
    if main.get("snapshot-id") != snapshot["snapshot-id"] or main.get("type") != "branch":
        raise _NotApplicable("the main branch is not at the current snapshot")
    list_schema, base_manifests, header = _base_manifests(snapshot, spec_id)
    manifest_schema = json.loads(header["avro.schema"])
    data_file_type = _field_type(manifest_schema, "data_file")
    if _field_type(data_file_type, "partition").get("fields"):
        raise _NotApplicable("the data manifest has a partition struct")

    schema = base.schema()
    manifest_header = {k: v for k, v in header.items() if not k.startswith("avro.")}
    manifest_header["schema"] = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    if "schema-id" in manifest_header:
        manifest_header["schema-id"] = str(schema.get("schema-id", 0))

    snapshot_id = _new_snapshot_id({s["snapshot-id"] for s in doc.get("snapshots", [])})
    sequence_number = int(doc.get("last-sequence-number", 0)) + 1
    nodes, leaves = _schema_columns(schema, table_properties)
    required = [f["name"] for f in schema.get("fields", []) if f.get("required")]
    entries = []
    for file in files:
        data_file = _data_file(file, nodes, leaves, required)
        entry = {
            "status": 1,  # ADDED
            "snapshot_id": snapshot_id,
            "sequence_number": None,  # inherited from the manifest list
            "file_sequence_number": None,
            "data_file": _complete(data_file_type, data_file),
        }
        entries.append(_complete(manifest_schema, entry))

    folder = f"{location}/metadata"
    commit = uuid.uuid4()  # names this commit's manifest and manifest list, as pyiceberg does
    manifest = f"{folder}/{commit}-m0.avro"
    manifest_list = f"{folder}/snap-{snapshot_id}-0-{commit}.avro"
    list_entry = _complete(
        list_schema,
        {
            "manifest_path": manifest,
            "manifest_length": 0,
            "partition_spec_id": spec_id,
            "content": 0,
            "sequence_number": sequence_number,
            "min_sequence_number": sequence_number,
            "added_snapshot_id": snapshot_id,
            "added_files_count": len(entries),
            "existing_files_count": 0,
            "deleted_files_count": 0,
            "added_rows_count": sum(e["data_file"]["record_count"] for e in entries),
            "existing_rows_count": 0,
            "deleted_rows_count": 0,
            "partitions": [],
            "key_metadata": None,
        },
    )
    # pyiceberg's fast append keeps the manifests with added or existing files (a count of
    # None counts as some); a manifest of only deleted entries lists nothing live
    kept = [
        m
        for m in base_manifests
        if m.get("added_files_count") is None
        or m["added_files_count"] > 0
        or m.get("existing_files_count") is None
        or m["existing_files_count"] > 0
    ]
    document = _next_document(
        base, snapshot_id, sequence_number, manifest_list, entries, properties
    )
    return _Plan(
        snapshot_id=snapshot_id,
        sequence_number=sequence_number,
        entries=entries,
        manifest_schema=manifest_schema,
        manifest_header=manifest_header,
        list_schema=list_schema,
        list_records=kept,
        list_entry=list_entry,
        codec=codec,
        manifest=manifest,
        manifest_list=manifest_list,
        location=f"{folder}/{version:05d}-{uuid.uuid4()}.metadata.json",
        document=document,
    )


def _base_manifests(
    snapshot: dict[str, Any], spec_id: int
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    """The Avro schema and entries of the snapshot's manifest list, and the Avro header of
    one of its data manifests of the default spec (the template for a new one)."""
    list_path = _local_or_none(str(snapshot.get("manifest-list", "")))
    if list_path is None:
        raise _NotApplicable("the manifest list is not local")
    with open(list_path, "rb") as handle:
        reader = fastavro.reader(handle)
        list_schema = json.loads(reader.metadata["avro.schema"])
        manifests: list[dict[str, Any]] = list(reader)  # type: ignore[arg-type]

    template = next(
        (
            m
            for m in manifests
            if int(m.get("content") or 0) == 0 and m.get("partition_spec_id") == spec_id
        ),
        None,
    )
    if template is None:
        raise _NotApplicable("no data manifest of the default spec in the current snapshot")
    template_path = _local_or_none(str(template["manifest_path"]))
    if template_path is None:
        raise _NotApplicable("the manifests are not local")
    with open(template_path, "rb") as handle:
        header = dict(fastavro.reader(handle).metadata)
    if header.get("format-version") != "2" or header.get("content", "data") != "data":
        raise _NotApplicable("the data manifest is not a format 2 data manifest")
    return list_schema, manifests, header


def _field_type(record: dict[str, Any], name: str) -> dict[str, Any]:
    """The record type of field ``name`` of the Avro record ``record``."""
    for field in record.get("fields", []):
        if field.get("name") == name and isinstance(field.get("type"), dict):
            return dict(field["type"])
    raise _NotApplicable(f"unexpected manifest schema (field {name})")


def _complete(record: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every field of the Avro record type; fields we do not know must be
    nullable (they are written null, as pyiceberg writes what it does not set)."""
    out = {}
    for field in record.get("fields", []):
        key = field["name"]
        if key in values:
            out[key] = values[key]
        elif isinstance(field["type"], list) and "null" in field["type"]:
            out[key] = None
        else:
            raise _NotApplicable(f"unexpected required field {key} in an Avro schema")
    return out


def _new_snapshot_id(taken: set[int]) -> int:
    """A random positive 63-bit id, made from a UUID as pyiceberg makes it."""
    while True:
        raw = uuid.uuid4().bytes
        value = int.from_bytes(
            bytes(a ^ b for a, b in zip(raw[:8], raw[8:], strict=True)), "little", signed=True
        )
        value = abs(value)
        if value not in taken:
            return value


def _local_or_none(uri: str) -> str | None:
    return local_path(uri) if uri else None


def _local(uri: str) -> str:
    path = local_path(uri)
    assert path is not None  # the plan checked the location
    return path


# -- data-file statistics, as pyiceberg's parquet_file_to_data_file ---------------------------


def _metrics_mode(text: str) -> tuple[str, int | None]:
    mode = text.strip().lower()
    if mode.startswith("truncate"):
        match = re.fullmatch(r"truncate\((\d+)\)", mode)
        if match is None or int(match.group(1)) < 1:
            raise _NotApplicable(f"metrics mode {text}")
        return "truncate", int(match.group(1))
    if mode in ("none", "counts", "full"):
        return mode, None
    raise _NotApplicable(f"metrics mode {text}")


def _schema_columns(
    schema: dict[str, Any], table_properties: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, _Column]]:
    """Every field of the schema by its Parquet path (``a.list.element``, ``m.key_value.key``)
    with its field id, and the primitive ones with their metrics mode."""
    default = _metrics_mode(table_properties.get("write.metadata.metrics.default", "truncate(16)"))
    nodes: dict[str, int] = {}
    leaves: dict[str, _Column] = {}

    def visit(kind: Any, field_id: int, path: str, name: str) -> None:
        nodes[path] = field_id
        if isinstance(kind, str):
            override = table_properties.get(f"write.metadata.metrics.column.{name}")
            mode, length = _metrics_mode(override) if override else default
            if mode == "truncate" and kind not in ("string", "binary"):
                mode, length = "full", None
            if "." in name and mode in ("truncate", "full"):  # pyiceberg: nested → counts
                mode, length = "counts", None
            leaves[path] = _Column(field_id, kind, mode, length)
        elif kind.get("type") == "struct":
            for f in kind["fields"]:
                visit(f["type"], f["id"], f"{path}.{f['name']}", f"{name}.{f['name']}")
        elif kind.get("type") == "list":
            visit(kind["element"], kind["element-id"], f"{path}.list.element", f"{name}.element")
        elif kind.get("type") == "map":
            visit(kind["key"], kind["key-id"], f"{path}.key_value.key", f"{name}.key")
            visit(kind["value"], kind["value-id"], f"{path}.key_value.value", f"{name}.value")
        else:
            raise _NotApplicable(f"unknown type {kind}")

    for f in schema.get("fields", []):
        visit(f["type"], f["id"], f["name"], f["name"])
    return nodes, leaves


def _check_field_ids(arrow_schema: pa.Schema, nodes: dict[str, int]) -> None:
    """Each column of the file carries the field id the table gives its name."""

    def visit(field: pa.Field, path: str) -> None:
        field_id = (field.metadata or {}).get(b"PARQUET:field_id")
        if path not in nodes or field_id is None or int(field_id) != nodes[path]:
            raise _NotApplicable(f"column {path}: no field id or not the table's")
        kind = field.type
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                visit(kind.field(i), f"{path}.{kind.field(i).name}")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            visit(kind.value_field, f"{path}.list.element")
        elif pa.types.is_map(kind):
            visit(kind.key_field, f"{path}.key_value.key")
            visit(kind.item_field, f"{path}.key_value.value")
        elif pa.types.is_nested(kind):
            raise _NotApplicable(f"column {path}: type {kind}")
        elif pa.types.is_timestamp(kind) and kind.tz is not None and kind.tz not in _UTC:
            raise _NotApplicable(f"column {path}: time zone {kind.tz}")

    for field in arrow_schema:
        visit(field, field.name)


def _stored_as(column: Any, kind: str) -> bool:
    """True when Parquet column ``column`` holds Iceberg type ``kind`` as pyiceberg reads it."""
    physical = column.physical_type
    logical = json.loads(column.logical_type.to_json())
    plain = logical.get("Type") == "None"
    signed = plain or (logical.get("Type") == "Int" and logical.get("isSigned") is True)
    micros = logical.get("timeUnit") == "microseconds"
    if kind == "boolean":
        return bool(physical == "BOOLEAN" and plain)
    if kind == "int":
        return bool(physical == "INT32" and signed)
    if kind == "long":
        return bool(physical in ("INT32", "INT64") and signed)
    if kind == "float":
        return bool(physical == "FLOAT" and plain)
    if kind == "double":
        return bool(physical in ("FLOAT", "DOUBLE") and plain)
    if kind == "date":
        return bool(physical == "INT32" and logical.get("Type") == "Date")
    if kind == "time":
        return bool(physical == "INT64" and logical.get("Type") == "Time" and micros)
    if kind in ("timestamp", "timestamptz"):
        utc = logical.get("isAdjustedToUTC") is True
        return bool(
            physical == "INT64"
            and logical.get("Type") == "Timestamp"
            and micros
            and utc == (kind == "timestamptz")
        )
    if kind == "string":
        return bool(physical == "BYTE_ARRAY" and logical.get("Type") == "String")
    if kind == "binary":
        return bool(physical == "BYTE_ARRAY" and plain)
    if kind == "uuid":
        return bool(
            physical == "FIXED_LEN_BYTE_ARRAY"
            and column.length == 16
            and logical.get("Type") == "UUID"
        )
    if match := _FIXED.fullmatch(kind):
        return bool(physical == "FIXED_LEN_BYTE_ARRAY" and plain and column.length == int(match[1]))
    if match := _DECIMAL.fullmatch(kind):
        precision, scale = int(match[1]), int(match[2])
        expected = "INT32" if precision <= 9 else "INT64" if precision <= 18 else None
        return bool(
            logical.get("Type") == "Decimal"
            and logical.get("precision") == precision
            and logical.get("scale") == scale
            and physical in (expected, "FIXED_LEN_BYTE_ARRAY")
        )
    return False


class _Bounds:
    """The smallest and largest value of a column over the row groups (pyiceberg's
    StatsAggregator), serialised per the spec's single-value binary form."""

    def __init__(self, column: _Column) -> None:
        self.column = column
        self.min: Any = None
        self.max: Any = None

    def update(self, low: Any, high: Any) -> None:
        low, high = self._value(low), self._value(high)
        self.min = low if self.min is None else min(low, self.min)
        self.max = high if self.max is None else max(high, self.max)

    def _value(self, raw: Any) -> Any:
        """A Parquet statistic (physical value) as the Python value pyiceberg compares."""
        if self.column.type == "string":
            return bytes(raw).decode("utf-8")
        if isinstance(raw, bytes) and _DECIMAL.fullmatch(self.column.type):
            return int.from_bytes(raw, "big", signed=True)  # unscaled
        return raw

    def lower(self) -> bytes | None:
        if self.min is None:
            return None
        value = self.min
        if self.column.length is not None:  # truncate(n): strings and binary only
            value = value[: self.column.length]
        return _serialize(self.column.type, value)

    def upper(self) -> bytes | None:
        if self.max is None:
            return None
        if self.column.type == "string":
            text = _truncate_text_upper(self.max, self.column.length)
            return None if text is None else text.encode()
        if self.column.type == "binary":
            return _truncate_binary_upper(self.max, self.column.length)
        return _serialize(self.column.type, self.max)


def _truncate_text_upper(value: str, length: int | None) -> str | None:
    """The smallest string of at most ``length`` characters not below ``value`` (pyiceberg's
    truncate_upper_bound_text_string: the last character that can be is incremented)."""
    result = value[:length]
    if result == value:
        return result
    chars = list(result)
    for i in range(len(chars) - 1, -1, -1):
        if ord(chars[i]) < 0x10FFFF:
            chars[i] = chr(ord(chars[i]) + 1)
            return "".join(chars)
    return None


def _truncate_binary_upper(value: bytes, length: int | None) -> bytes | None:
    result = value[:length]
    if result == value:
        return result
    data = bytearray(result)
    for i in range(len(data) - 1, -1, -1):
        if data[i] < 255:
            data[i] += 1
            return bytes(data)
    return None


def _serialize(kind: str, value: Any) -> bytes:
    """The Iceberg single-value binary serialisation (spec appendix D)."""
    if kind == "boolean":
        return struct.pack("<?", bool(value))
    if kind in ("int", "date"):
        return struct.pack("<i", value)
    if kind in ("long", "time", "timestamp", "timestamptz"):
        return struct.pack("<q", value)
    if kind == "float":
        return struct.pack("<f", value)
    if kind == "double":
        return struct.pack("<d", value)
    if kind == "string":
        return str(value).encode()
    if _DECIMAL.fullmatch(kind):  # unscaled, big-endian two's complement, fewest bytes
        bits = value.bit_length() if value >= 0 else (value + 1).bit_length()
        return int(value).to_bytes((bits + 8) // 8, "big", signed=True)
    return bytes(value)  # binary, fixed, uuid


def _data_file(
    file: str, nodes: dict[str, int], leaves: dict[str, _Column], required: list[str]
) -> dict[str, Any]:
    """The manifest's data_file record of one Parquet file."""
    path = local_path(file)
    if path is None:
        raise _NotApplicable(f"{file} is not a local file")
    path = os.path.abspath(path)
    uri = file if file.startswith("file://") else "file://" + path
    metadata = pq.read_metadata(path)
    arrow_schema = metadata.schema.to_arrow_schema()
    _check_field_ids(arrow_schema, nodes)
    missing = [name for name in required if name not in arrow_schema.names]
    if missing:
        raise _NotApplicable(f"{file} lacks required columns {missing}")
    columns: list[_Column] = []
    for i in range(metadata.num_columns):
        parquet_column = metadata.schema.column(i)
        column = leaves.get(parquet_column.path)
        if column is None or not _stored_as(parquet_column, column.type):
            raise _NotApplicable(f"{file}: column {parquet_column.path} does not fit the table")
        columns.append(column)

    sizes: dict[int, int] = {}
    values: dict[int, int] = {}
    nulls: dict[int, int] = {}
    bounds: dict[int, _Bounds] = {}
    no_stats: set[int] = set()
    offsets: list[int] = []
    for r in range(metadata.num_row_groups):
        group = metadata.row_group(r)
        first = group.column(0)
        if first.has_dictionary_page and first.dictionary_page_offset < first.data_page_offset:
            offsets.append(first.dictionary_page_offset)
        else:
            offsets.append(first.data_page_offset)
        for i, column in enumerate(columns):
            chunk = group.column(i)
            fid = column.field_id
            sizes[fid] = sizes.get(fid, 0) + chunk.total_compressed_size
            if column.mode == "none":
                continue
            values[fid] = values.get(fid, 0) + chunk.num_values
            if not chunk.is_stats_set:
                no_stats.add(fid)
                continue
            try:
                stats = chunk.statistics
                if stats.has_null_count:
                    nulls[fid] = nulls.get(fid, 0) + stats.null_count
                if column.mode == "counts":
                    continue
                aggregate = bounds.setdefault(fid, _Bounds(column))
                if stats.has_min_max:
                    aggregate.update(stats.min_raw, stats.max_raw)
            except pa.ArrowNotImplementedError:
                no_stats.add(fid)
    offsets.sort()
    for fid in no_stats:  # pyiceberg drops what a row group could not tell
        bounds.pop(fid, None)
        nulls.pop(fid, None)

    lower: dict[int, bytes] = {}
    upper: dict[int, bytes] = {}
    for fid, aggregate in bounds.items():
        if (low := aggregate.lower()) is not None:
            lower[fid] = low
        if (high := aggregate.upper()) is not None:
            upper[fid] = high

    def pairs(mapping: Mapping[int, Any]) -> list[dict[str, Any]]:
        return [{"key": k, "value": v} for k, v in mapping.items()]

    return {
        "content": 0,  # DATA
        "file_path": uri,
        "file_format": "PARQUET",
        "partition": {},
        "record_count": metadata.num_rows,
        "file_size_in_bytes": os.path.getsize(path),
        "column_sizes": pairs(sizes),
        "value_counts": pairs(values),
        "null_value_counts": pairs(nulls),
        "nan_value_counts": [],  # pyiceberg gets none from Parquet footers
        "lower_bounds": pairs(lower),
        "upper_bounds": pairs(upper),
        "key_metadata": None,
        "split_offsets": offsets,
        "equality_ids": None,
        "sort_order_id": None,
    }


# -- writing ----------------------------------------------------------------------------------


def _write_avro(
    path: str,
    schema: dict[str, Any],
    records: list[dict[str, Any]],
    header: Mapping[str, str],
    codec: str,
) -> None:
    with open(path, "xb") as handle:  # never overwrite: the names are fresh UUIDs
        fastavro.writer(handle, schema, records, codec=codec, metadata=dict(header))


def _next_document(
    base: TableMetadata,
    snapshot_id: int,
    sequence_number: int,
    manifest_list: str,
    entries: list[dict[str, Any]],
    properties: Mapping[str, str],
) -> dict[str, Any]:
    """The metadata JSON of the new version: ``base`` with the snapshot added and current."""
    doc = copy.deepcopy(base.document)
    parent = base.current_snapshot
    assert parent is not None
    now = int(time.time() * 1000)

    added = {
        "added-files-size": sum(e["data_file"]["file_size_in_bytes"] for e in entries),
        "added-data-files": len(entries),
        "added-records": sum(e["data_file"]["record_count"] for e in entries),
    }
    summary: dict[str, str] = {"operation": "append"}
    summary.update({k: str(v) for k, v in added.items() if v > 0})
    summary.update({k: str(v) for k, v in properties.items()})
    previous = parent.get("summary") or dict.fromkeys(_TOTALS, "0")
    for total, grows_by in _TOTALS.items():
        if previous.get(total):  # pyiceberg keeps a total only where the parent had one
            try:
                value = int(previous[total])
            except ValueError:
                raise _NotApplicable(f"summary {total} of the parent snapshot") from None
            if value >= 0:
                value += int(summary.get(grows_by) or 0)
            if value >= 0:
                summary[total] = str(value)

    try:
        keep = int((doc.get("properties") or {}).get("write.metadata.previous-versions-max", 100))
    except ValueError:
        raise _NotApplicable("write.metadata.previous-versions-max") from None
    keep = max(1, keep)
    log_entries = list(doc.get("metadata-log", []))
    if len(log_entries) >= keep:
        log_entries = log_entries[len(log_entries) - keep + 1 :]
    log_entries.append({"metadata-file": base.location, "timestamp-ms": doc["last-updated-ms"]})

    doc["last-updated-ms"] = now
    doc["current-snapshot-id"] = snapshot_id
    doc["snapshots"] = [
        *doc.get("snapshots", []),
        {
            "snapshot-id": snapshot_id,
            "parent-snapshot-id": parent["snapshot-id"],
            "sequence-number": sequence_number,
            "timestamp-ms": now,
            "manifest-list": manifest_list,
            "summary": summary,
            "schema-id": doc.get("current-schema-id", 0),
        },
    ]
    # the branch keeps its retention settings, if any
    doc["refs"] = {**doc["refs"], "main": {**doc["refs"]["main"], "snapshot-id": snapshot_id}}
    doc["snapshot-log"] = [
        *doc.get("snapshot-log", []),
        {"snapshot-id": snapshot_id, "timestamp-ms": now},
    ]
    doc["metadata-log"] = log_entries
    doc["last-sequence-number"] = sequence_number
    return doc


def _compare_and_set(database: str, namespace: str, name: str, old: str, new: str) -> bool:
    """Point the catalog at ``new`` if it still points at ``old``; False when it does not."""
    con = sqlite3.connect(database, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")  # waits (busy timeout) for another writer's lock
        changed = con.execute(
            "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
            "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
            "AND metadata_location = ?",
            (new, old, CATALOG_NAME, namespace, name, old),
        ).rowcount
        if changed != 1:
            con.execute("ROLLBACK")
            return False
        con.execute("COMMIT")
        return True
    finally:
        con.close()


def _remove(paths: list[str]) -> None:
    """Delete the files of an unpublished commit; one that cannot be is left as an orphan."""
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not delete unpublished file %s (%s)", path, exc)
