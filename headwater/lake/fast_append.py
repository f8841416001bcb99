"""Publish Parquet files as one APPEND snapshot without pyiceberg, for the embedded lake.

Why: importing pyiceberg's catalog, table and manifest modules with SQLAlchemy costs about
1.2 s per process on a 2-core machine, while an incremental load appending 50,000 rows must
finish, whole process, in about 1 s. Like :mod:`headwater.lake.metadata` for reading, this
module writes a commit with ``sqlite3``, ``json``, fastavro and the Parquet footers only.

It follows the Iceberg spec v2 layout as pyiceberg 0.12's fast append writes it:

1. one data-file entry per Parquet file, with the statistics pyiceberg's
   ``parquet_file_to_data_file`` derives from the footer (:mod:`headwater.lake.data_file_stats`);
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
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro

from headwater.errors import CommitConflict
from headwater.lake.data_file_stats import NotApplicable, data_file_entry, schema_columns
from headwater.lake.metadata import (
    CATALOG_NAME,
    TableMetadata,
    catalog_file,
    local_path,
    metadata_location,
)

log = logging.getLogger("headwater.lake")

_METADATA_FILE = re.compile(r"(\d+)-([\w-]{36})(?:\.\w+)?\.metadata\.json")
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
    except NotApplicable as exc:
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
        raise NotApplicable("the catalog is not an existing SQLite file")
    return str(path)


def _plan(base: TableMetadata, files: Sequence[str], properties: Mapping[str, str]) -> _Plan:
    doc = base.document
    table_properties: dict[str, str] = dict(doc.get("properties") or {})
    if base.format_version != 2:
        raise NotApplicable(f"format version {base.format_version}")
    spec_id = int(doc.get("default-spec-id", 0))
    specs = [s for s in doc.get("partition-specs", []) if s.get("spec-id") == spec_id]
    if len(specs) != 1 or specs[0].get("fields"):
        raise NotApplicable("the table is partitioned")
    for key in ("write.metadata.path", "write.py-location-provider.impl"):
        if table_properties.get(key):
            raise NotApplicable(f"table property {key}")
    if table_properties.get("write.metadata.delete-after-commit.enabled", "").lower() == "true":
        raise NotApplicable("table property write.metadata.delete-after-commit.enabled")
    codec = _AVRO_CODECS.get(table_properties.get("write.avro.compression-codec", "gzip"))
    if codec is None:
        raise NotApplicable("Avro codec")
    for key in properties:
        if key == "operation" or key.startswith(_COMPUTED_PREFIXES):
            raise NotApplicable(f"summary property {key} is computed by the commit")

    location = str(doc.get("location", "")).rstrip("/")
    if _local_or_none(location) is None or _local_or_none(base.location) is None:
        raise NotApplicable("the table is not on the local file system")
    match = _METADATA_FILE.fullmatch(base.location.rsplit("/", 1)[-1])
    if match is None:
        raise NotApplicable("metadata file name")
    try:
        uuid.UUID(match.group(2))
    except ValueError:
        raise NotApplicable("metadata file name") from None
    version = int(match.group(1)) + 1

    snapshot = base.current_snapshot
    if snapshot is None:
        raise NotApplicable("no current snapshot")
    main = (doc.get("refs") or {}).get("main") or {}
    if main.get("snapshot-id") != snapshot["snapshot-id"] or main.get("type") != "branch":
        raise NotApplicable("the main branch is not at the current snapshot")
    list_schema, base_manifests, header = _base_manifests(snapshot, spec_id)
    manifest_schema = json.loads(header["avro.schema"])
    data_file_type = _field_type(manifest_schema, "data_file")
    if _field_type(data_file_type, "partition").get("fields"):
        raise NotApplicable("the data manifest has a partition struct")

    schema = base.schema()
    manifest_header = {k: v for k, v in header.items() if not k.startswith("avro.")}
    manifest_header["schema"] = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    if "schema-id" in manifest_header:
        manifest_header["schema-id"] = str(schema.get("schema-id", 0))

    snapshot_id = _new_snapshot_id({s["snapshot-id"] for s in doc.get("snapshots", [])})
    sequence_number = int(doc.get("last-sequence-number", 0)) + 1
    nodes, leaves = schema_columns(schema, table_properties)
    required = [f["name"] for f in schema.get("fields", []) if f.get("required")]
    entries = []
    for file in files:
        data_file = data_file_entry(file, nodes, leaves, required)
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
        raise NotApplicable("the manifest list is not local")
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
        raise NotApplicable("no data manifest of the default spec in the current snapshot")
    template_path = _local_or_none(str(template["manifest_path"]))
    if template_path is None:
        raise NotApplicable("the manifests are not local")
    with open(template_path, "rb") as handle:
        header = dict(fastavro.reader(handle).metadata)
    if header.get("format-version") != "2" or header.get("content", "data") != "data":
        raise NotApplicable("the data manifest is not a format 2 data manifest")
    return list_schema, manifests, header


def _field_type(record: dict[str, Any], name: str) -> dict[str, Any]:
    """The record type of field ``name`` of the Avro record ``record``."""
    for field in record.get("fields", []):
        if field.get("name") == name and isinstance(field.get("type"), dict):
            return dict(field["type"])
    raise NotApplicable(f"unexpected manifest schema (field {name})")


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
            raise NotApplicable(f"unexpected required field {key} in an Avro schema")
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
                raise NotApplicable(f"summary {total} of the parent snapshot") from None
            if value >= 0:
                value += int(summary.get(grows_by) or 0)
            if value >= 0:
                summary[total] = str(value)

    try:
        keep = int((doc.get("properties") or {}).get("write.metadata.previous-versions-max", 100))
    except ValueError:
        raise NotApplicable("write.metadata.previous-versions-max") from None
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
