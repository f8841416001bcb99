"""A table of the embedded lake that a load appends to without pyiceberg.

An incremental load that picks up 50,000 new rows spends ~0.4 s reading and writing them and
~1.2 s importing pyiceberg and SQLAlchemy to commit (docs/benchmarks.md, "Incremental
loads"). For the simple, common case — an existing, unpartitioned format-v2 table of
primitive columns in a SQLite catalog and a local warehouse, whose schema the load does not
change — the table is read from its metadata files (:mod:`headwater.lake.metadata`), data
files are written with the field ids of its schema, and the commit is an Iceberg fast append
(:mod:`headwater.lake.fast_append`). :meth:`LocalTable.open` answers None for anything else,
and the load goes through pyiceberg as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from headwater.lake.catalog import split_name
from headwater.lake.metadata import TableMetadata, local_path

if TYPE_CHECKING:
    from headwater.lake.catalog import Lake

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
    for field in metadata.schema().get("fields", []):
        kind = arrow_type(field.get("type"))
        if kind is None:
            return None
        fields.append(pa.field(str(field["name"]), kind, nullable=True))
    return pa.schema(fields)


@dataclass(frozen=True)
class LocalFile:
    """A data file written for the table (named like pyiceberg's DataFile attributes)."""

    file_path: str
    record_count: int
    file_size_in_bytes: int


class LocalTable:
    """An existing table of the embedded lake, as its current metadata file describes it."""

    def __init__(self, lake: Lake, name: str, metadata: TableMetadata, schema: pa.Schema) -> None:
        self.lake = lake
        self.name = name
        self.metadata = metadata
        self.arrow_schema = schema  # as Lake.arrow_schema gives it
        self._ids = {str(f["name"]): int(f["id"]) for f in metadata.schema().get("fields", [])}

    @classmethod
    def open(cls, lake: Lake, name: str) -> LocalTable | None:
        """The table, when it is one this module can append to; else None."""
        metadata = lake.current_metadata(name)
        if metadata is None or metadata.format_version != 2 or metadata.data_files is None:
            return None
        document = metadata.document
        if local_path(str(document.get("location", ""))) is None:
            return None
        specs = {s.get("spec-id"): s for s in document.get("partition-specs", [])}
        if specs.get(document.get("default-spec-id", 0), {}).get("fields"):
            return None
        schema = arrow_schema(metadata)
        return cls(lake, name, metadata, schema) if schema is not None else None

    @property
    def data_folder(self) -> str:
        """Where new data files go: the table's ``data`` folder, as a local path."""
        location = local_path(str(self.metadata.document["location"]))
        assert location is not None
        return location.rstrip("/") + "/data"

    def data_paths(self) -> list[str]:
        """The paths of the current snapshot's data files."""
        return [f.path for f in self.metadata.data_files or []]

    def with_field_ids(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` with each field tagged with the table's field id of its name."""
        return pa.schema(
            [
                f.with_metadata({b"PARQUET:field_id": str(self._ids[f.name]).encode()})
                for f in schema
            ]
        )

    def summaries(self) -> Iterator[dict[str, str]]:
        """Snapshot summaries from the current snapshot back through its parents."""
        snapshots = {s["snapshot-id"]: s for s in self.metadata.document.get("snapshots", [])}
        snapshot = self.metadata.current_snapshot
        while snapshot is not None:
            yield {k: str(v) for k, v in snapshot.get("summary", {}).items()}
            snapshot = snapshots.get(snapshot.get("parent-snapshot-id"))

    def append(self, files: Sequence[LocalFile], properties: Mapping[str, str]) -> int | None:
        """Publish ``files`` as one append snapshot with ``properties`` in its summary; the
        new snapshot's id, or None when only pyiceberg can commit them (nothing written)."""
        from headwater.lake.fast_append import append_files

        namespace, table = split_name(self.name)
        paths = [f.file_path for f in files]
        done: list[TableMetadata | None] = []
        self.lake.commit(
            lambda: done.append(
                append_files(
                    self.lake.catalog_url, namespace, table, self.metadata, paths, properties
                )
            )
        )
        committed = done[0]
        if committed is None:
            return None
        snapshot = committed.current_snapshot
        return int(snapshot["snapshot-id"]) if snapshot else None
