"""The lake: Iceberg tables in a SQL catalog (SQLite in .headwater/ by default) and a warehouse.

Table names are ``namespace.name``. Every write is one atomic Iceberg commit: readers see the
old data or the new, never a mix, and a failed write publishes nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import LakeError, TableNotFound, did_you_mean
from headwater.lake import metadata
from headwater.project.base import IDENTIFIER

# pyiceberg (with SQLAlchemy, ~1 s of imports) loads with the first catalog call that needs
# it: a check or a query of the embedded lake reads the metadata files itself (lake.metadata)
if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table

    from headwater.connect.storage.s3 import S3Access
    from headwater.lake.crawl.registry import ExternalRegistry

METADATA_CACHE = 64  # parsed metadata files a Lake keeps (each with its manifests, once read)


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    files: int
    bytes: int
    snapshot_id: int | None
    updated_at: datetime | None


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    parent_id: int | None
    committed_at: datetime
    operation: str
    rows: int
    summary: dict[str, str]


def split_name(name: str) -> tuple[str, str]:
    """``"gold.fact_orders"`` → ``("gold", "fact_orders")``; anything else is an error."""
    parts = name.split(".")
    if len(parts) != 2 or not all(IDENTIFIER.match(p) for p in parts):
        raise LakeError(
            f"`{name}` is not a table name",
            hint="table names are NAMESPACE.NAME, e.g. raw.customers or gold.fact_orders",
        )
    return parts[0], parts[1]


def warehouse_uri(folder: Path) -> str:
    """A local warehouse folder as the ``file://`` location Iceberg tables get: the path as it
    is, not percent-encoded (``Path.as_uri``), because pyiceberg's file IO does not decode
    it — `/my project` would become a folder named `my%20project`."""
    return "file://" + folder.resolve().as_posix()


def _ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class Lake:
    """Iceberg catalog and warehouse of one project."""

    def __init__(
        self,
        catalog_url: str,
        warehouse: str,
        target_file_bytes: int = 128 << 20,
        s3: S3Access | None = None,
        s3_connections: Mapping[str, S3Access] | None = None,
    ) -> None:
        self.catalog_url = catalog_url
        self.warehouse = warehouse
        self.target_file_bytes = target_file_bytes
        # how to reach an s3:// warehouse, and the files connections external tables came from
        self.s3 = s3
        self.s3_connections = dict(s3_connections or {})
        self._catalog: SqlCatalog | None = None
        self._external: ExternalRegistry | None = None
        self._s3_filesystem: Any = None
        self._lock = threading.RLock()
        self._metadata: dict[str, metadata.TableMetadata] = {}  # by metadata file

    @classmethod
    def local(cls, root: Path, warehouse: str | None = None, **kwargs: Any) -> Lake:
        """A lake whose catalog is a SQLite file under ``root`` (created if missing)."""
        root.mkdir(parents=True, exist_ok=True)
        wh = Path(warehouse) if warehouse else root / "warehouse"
        wh.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{root / 'catalog.db'}", warehouse_uri(wh), **kwargs)

    @property
    def catalog(self) -> SqlCatalog:
        from headwater.lake.commit import catalog_class

        with self._lock:
            if self._catalog is None:
                if self.catalog_url.startswith("sqlite:///"):
                    Path(self.catalog_url.removeprefix("sqlite:///")).parent.mkdir(
                        parents=True, exist_ok=True
                    )
                self._catalog = catalog_class()(
                    "headwater",
                    uri=self.catalog_url,
                    warehouse=self.warehouse,
                    init_catalog_tables="true",
                    **(self.s3.iceberg_properties() if self.s3 else {}),
                )
                from headwater.connect.sql.engines import fork_safe

                fork_safe(self._catalog.engine)
            return self._catalog

    def attach(self, con: Any) -> None:
        """Let DuckDB connection ``con`` read and write an s3:// warehouse (httpfs, a secret)."""
        if self.s3 is not None and self.warehouse.startswith("s3://"):
            from headwater.connect.storage.s3 import split_url

            self.s3.attach(con, f"s3://{split_url(self.warehouse)[0]}")

    def filesystem(self, uri: str) -> tuple[Any, str]:
        """A pyarrow filesystem and path for a file of the warehouse (with its S3 settings:
        ``FileSystem.from_uri`` alone knows no endpoint or credentials)."""
        import pyarrow.fs as pafs

        if uri.startswith("s3://") and self.s3 is not None:
            with self._lock:
                if self._s3_filesystem is None:  # one client for every file of the warehouse
                    self._s3_filesystem = self.s3.filesystem()
            return self._s3_filesystem, uri.removeprefix("s3://")
        return pafs.FileSystem.from_uri(uri)

    @property
    def external(self) -> ExternalRegistry:
        """External tables: files registered where they lie (``headwater crawl``), kept in
        the catalog's database next to the Iceberg tables."""
        with self._lock:
            if self._external is None:
                from headwater.lake.crawl.registry import ExternalRegistry

                self._external = ExternalRegistry(self.catalog.engine, self.catalog_url)
            return self._external

    # -- reading the catalog ------------------------------------------------------------

    def tables(self, namespace: str | None = None) -> list[str]:
        from pyiceberg.exceptions import NoSuchNamespaceError

        names: list[str] = []
        namespaces = [(namespace,)] if namespace else self.catalog.list_namespaces()
        for ns in namespaces:
            try:
                names.extend(".".join(ident) for ident in self.catalog.list_tables(ns))
            except NoSuchNamespaceError:
                continue
        return sorted(names)

    def exists(self, name: str) -> bool:
        if self.current_metadata(name) is not None:
            return True
        return self.catalog.table_exists(split_name(name))

    def table(self, name: str) -> Table:
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        try:
            return self.catalog.load_table(split_name(name))
        except (NoSuchTableError, NoSuchNamespaceError):
            if self.external.get(name) is not None:
                raise TableNotFound(
                    f"`{name}` is an external table (files registered by `headwater crawl`), "
                    "not an Iceberg table",
                    hint=f"query it with `headwater query`; see it with `headwater external {name}`",
                ) from None
            known = self.tables()
            raise TableNotFound(
                f"table `{name}` is not in the catalog{did_you_mean(name, known)}",
                hint="list tables with `headwater tables`; a pipeline run creates them",
            ) from None

    def info(self, name: str) -> TableInfo:
        table = self.table(name)
        snapshot = table.current_snapshot()
        summary = (
            dict(snapshot.summary.additional_properties) if snapshot and snapshot.summary else {}
        )
        return TableInfo(
            name=name,
            rows=int(summary.get("total-records", 0)),
            files=int(summary.get("total-data-files", 0)),
            bytes=int(summary.get("total-files-size", 0)),
            snapshot_id=snapshot.snapshot_id if snapshot else None,
            updated_at=_ms(table.metadata.last_updated_ms),
        )

    def snapshots(self, name: str) -> list[SnapshotInfo]:
        table = self.table(name)
        out = []
        for s in table.snapshots():
            summary = dict(s.summary.additional_properties) if s.summary else {}
            out.append(
                SnapshotInfo(
                    snapshot_id=s.snapshot_id,
                    parent_id=s.parent_snapshot_id,
                    committed_at=_ms(s.timestamp_ms),
                    operation=str(s.summary.operation.value) if s.summary else "",
                    rows=int(summary.get("total-records", 0)),
                    summary=summary,
                )
            )
        return out

    def arrow_schema(self, name: str) -> pa.Schema:
        """The table's schema in the Arrow types it is written with (pyiceberg reports
        ``large_string`` for ``string``)."""
        from headwater.lake.arrow_types import storable_schema

        current = self.current_metadata(name)
        schema = metadata.arrow_schema(current) if current is not None else None
        if schema is not None:
            return schema
        return storable_schema(self.table(name).schema().as_arrow())

    def current_metadata(self, name: str) -> metadata.TableMetadata | None:
        """The table's current metadata read without pyiceberg, where the embedded layout
        allows it (a SQLite catalog, a local warehouse); None elsewhere."""
        if not self.warehouse.startswith("file://"):
            return None
        namespace, table = split_name(name)
        location = metadata.metadata_location(self.catalog_url, namespace, table)
        if location is None:
            return None
        # a metadata file never changes: parsed once, with its manifests, per lake object
        with self._lock:
            cached = self._metadata.get(location)
        if cached is None:
            cached = metadata.read(location)
            if cached is None:
                return None
            with self._lock:
                if len(self._metadata) >= METADATA_CACHE:
                    self._metadata.clear()
                self._metadata[location] = cached
        return cached

    def data_files(self, name: str, snapshot_id: int | None = None) -> list[str]:
        """Paths of the data files of the current (or given) snapshot, for direct scans."""
        current = self.current_metadata(name) if snapshot_id is None else None
        files = current.data_files if current is not None else None
        if files is not None:
            return [f.path for f in files]
        table = self.table(name)
        tasks = table.scan(snapshot_id=snapshot_id).plan_files()
        if any(task.delete_files for task in tasks):
            raise LakeError(
                f"table `{name}` has delete files, which direct scans do not apply",
                hint="rewrite the table with a full load",
            )
        return [task.file.file_path for task in tasks]

    # -- writing ---------------------------------------------------------------------------

    def drop(self, name: str) -> None:
        self.catalog.drop_table(split_name(name))

    def ensure_namespace(self, namespace: str) -> None:
        """Create ``namespace`` once, even when parallel tasks ask at the same moment."""
        with self._lock:
            if (namespace,) in self.catalog.list_namespaces():
                return
            from pyiceberg.exceptions import NamespaceAlreadyExistsError

            # another process may create it between our look and our create
            with contextlib.suppress(NamespaceAlreadyExistsError):
                self.catalog.create_namespace(namespace)
