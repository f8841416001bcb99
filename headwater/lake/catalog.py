"""The lake: Iceberg tables in a SQL catalog (SQLite in .headwater/ by default) and a warehouse.

Table names are ``namespace.name``. Every write is one atomic Iceberg commit: readers see the
old data or the new, never a mix, and a failed write publishes nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
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
        self._engine: Any = None  # reads a catalog that is not SQLite
        self._at_home = False  # every table was found under the warehouse (see lake.home)
        self._relocating = False
        self._catalog_id: str | None = None

    @classmethod
    def local(cls, root: Path, warehouse: str | None = None, **kwargs: Any) -> Lake:
        """A lake whose catalog is a SQLite file under ``root`` (created if missing)."""
        root.mkdir(parents=True, exist_ok=True)
        wh = Path(warehouse) if warehouse else root / "warehouse"
        wh.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{root / 'catalog.db'}", warehouse_uri(wh), **kwargs)

    @property
    def catalog(self) -> SqlCatalog:
        from headwater.lake.commits import catalog_class

        with self._lock:
            if self._catalog is None:
                if self.catalog_url.startswith("sqlite:///"):
                    Path(self.catalog_url.removeprefix("sqlite:///")).parent.mkdir(
                        parents=True, exist_ok=True
                    )
                self._check_home(self._catalog_rows())
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

    @property
    def catalog_id(self) -> str:
        """The id of this lake's catalog (see lake.identity): every table it holds carries it."""
        with self._lock:
            if self._catalog_id is None:
                from headwater.lake import identity

                self.refuse_a_copy()
                path = metadata.catalog_file(self.catalog_url)
                self._catalog_id = identity.catalog_id(self.catalog.engine, path)
            return self._catalog_id

    def refuse_a_copy(self) -> None:
        """Raise LakeMoved when this SQLite catalog was copied or moved here from another
        file and not relocated since (lake.identity): writing or maintaining its tables in
        shared storage would take the original's files for its own."""
        if self._relocating:
            return
        path = metadata.catalog_file(self.catalog_url)
        original = self.copied_from()
        if path is not None and original is not None:
            from headwater.lake import home

            raise home.copied(path, original, self.warehouse)

    def copied_from(self) -> str | None:
        """The SQLite catalog file this one was copied or moved from, if it was (see
        lake.identity.copied_from); None for a catalog on a server."""
        from headwater.lake import identity

        path = metadata.catalog_file(self.catalog_url)
        return None if path is None else identity.copied_from(path)

    def former_catalog_ids(self) -> frozenset[str]:
        """The ids this catalog had before relocation gave it its own (its originals' ids)."""
        from headwater.lake import identity

        return identity.former_ids(self.catalog.engine)

    def own_catalog_id(self) -> str | None:
        """Give a copied or moved SQLite catalog an id of its own, so that it and its original
        are two catalogs from now on; returns the id it had, or None when nothing changed."""
        from headwater.lake import identity

        path = metadata.catalog_file(self.catalog_url)
        if path is None:
            return None
        with self._lock:
            self._catalog_id = None
            return identity.renew(self.catalog.engine, path)

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
        local = metadata.local_path(uri)
        if local is not None:  # a path as the warehouse spells it: not %-encoded (warehouse_uri)
            return pafs.LocalFileSystem(), local
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

    # -- reading the catalog (one read path: headwater.lake.metadata) ----------------------

    def _rows(self) -> list[tuple[str, str, str]]:
        """(namespace, name, metadata location) of every Iceberg table of the catalog; a
        catalog whose tables live outside the warehouse is refused (see lake.home)."""
        rows = self._catalog_rows()
        self._check_home(rows)
        return rows

    def _check_home(self, rows: list[tuple[str, str, str]]) -> None:
        if self._at_home or self._relocating:
            return
        from headwater.lake import home

        foreign = home.outside(self.warehouse, rows)
        if foreign:
            raise home.moved(self.catalog_url, self.warehouse, foreign)
        self._at_home = True  # writers keep tables under the warehouse: checked once

    def elsewhere(self) -> list[tuple[str, str, str]]:
        """The catalog rows of tables whose files are outside this lake's local warehouse (the
        project was copied or moved): (namespace, name, metadata location)."""
        from headwater.lake import home

        return home.outside(self.warehouse, self._catalog_rows())

    @contextlib.contextmanager
    def relocating(self) -> Iterator[None]:
        """Use the lake although tables live elsewhere: only to register them here."""
        with self._lock:
            self._relocating = True
        try:
            yield
        finally:
            with self._lock:
                self._relocating = False
                self._at_home = False  # checked again at the next use

    def _catalog_rows(self) -> list[tuple[str, str, str]]:
        engine = None
        if metadata.catalog_file(self.catalog_url) is None:
            with self._lock:
                if self._engine is None:  # SQLAlchemy Core: the read path needs no ORM
                    import sqlalchemy as sa

                    from headwater.connect.sql.engines import fork_safe

                    self._engine = sa.create_engine(self.catalog_url)
                    fork_safe(self._engine)
                engine = self._engine
        return metadata.catalog_rows(self.catalog_url, engine)

    def tables(self, namespace: str | None = None) -> list[str]:
        return sorted(f"{ns}.{table}" for ns, table, _ in self._rows() if namespace in (None, ns))

    def exists(self, name: str) -> bool:
        return self.current_metadata(name) is not None

    def table(self, name: str) -> Table:
        """The table as pyiceberg loads it, for writers and pyiceberg's own scans."""
        from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

        try:
            return self.catalog.load_table(split_name(name))
        except (NoSuchTableError, NoSuchNamespaceError):
            raise self._missing(name) from None

    def _missing(self, name: str) -> TableNotFound:
        if self.external.get(name) is not None:
            return TableNotFound(
                f"`{name}` is an external table (files registered by `headwater crawl`), "
                "not an Iceberg table",
                hint=f"query it with `headwater query`; see it with `headwater external {name}`",
            )
        known = self.tables()
        return TableNotFound(
            f"table `{name}` is not in the catalog{did_you_mean(name, known)}",
            hint="list tables with `headwater tables`; a pipeline run creates them",
        )

    def table_metadata(self, name: str) -> metadata.TableMetadata:
        """The table's current metadata; TableNotFound when the catalog does not hold it."""
        current = self.current_metadata(name)
        if current is None:
            raise self._missing(name)
        return current

    def info(self, name: str) -> TableInfo:
        current = self.table_metadata(name)
        snapshot = current.current_snapshot
        summary = current.summary
        return TableInfo(
            name=name,
            rows=int(summary.get("total-records", 0)),
            files=int(summary.get("total-data-files", 0)),
            bytes=int(summary.get("total-files-size", 0)),
            snapshot_id=int(snapshot["snapshot-id"]) if snapshot else None,
            updated_at=_ms(current.last_updated_ms),
        )

    def snapshots(self, name: str) -> list[SnapshotInfo]:
        out = []
        for s in self.table_metadata(name).snapshots:
            summary = metadata.summary_of(s)
            operation = summary.pop("operation", "")
            parent = s.get("parent-snapshot-id")
            out.append(
                SnapshotInfo(
                    snapshot_id=int(s["snapshot-id"]),
                    parent_id=int(parent) if parent is not None else None,
                    committed_at=_ms(int(s["timestamp-ms"])),
                    operation=operation,
                    rows=int(summary.get("total-records", 0)),
                    summary=summary,
                )
            )
        return out

    def arrow_schema(self, name: str) -> pa.Schema:
        """The table's current schema in the Arrow types it is written with."""
        return self.table_metadata(name).arrow_schema()

    def current_metadata(self, name: str) -> metadata.TableMetadata | None:
        """The table's current metadata, or None when the catalog does not hold it."""
        namespace, table = split_name(name)
        location = next(
            (loc for ns, t, loc in self._rows() if ns == namespace and t == table), None
        )
        if location is None:
            return None
        # a metadata file never changes: parsed once, with its manifests, per lake object
        with self._lock:
            cached = self._metadata.get(location)
        if cached is None:
            cached = metadata.read(location, self._open)
            with self._lock:
                if len(self._metadata) >= METADATA_CACHE:
                    self._metadata.clear()
                self._metadata[location] = cached
        return cached

    def _open(self, uri: str) -> Any:
        filesystem, path = self.filesystem(uri)
        return filesystem.open_input_stream(path)

    def data_files(self, name: str, snapshot_id: int | None = None) -> list[str]:
        """Paths of the data files of the current (or given) snapshot, for direct scans."""
        current = self.table_metadata(name)
        files = current.data_files if snapshot_id is None else current.files_of(snapshot_id)
        return [f.path for f in files]

    # -- writing ---------------------------------------------------------------------------

    def table_location(self, namespace: str, name: str) -> str:
        """Where a table of the lake lives: ``<warehouse>/<namespace>/<name>`` (pyiceberg's
        default layout, which every writer of the lake keeps, other engines too)."""
        return f"{self.warehouse.rstrip('/')}/{namespace}/{name}"

    def close(self) -> None:
        """Release the catalog's database connections (the lake can be used again after)."""
        with self._lock:
            engines = [self._engine, self._catalog.engine if self._catalog else None]
            self._engine = None
            self._catalog = None
            self._external = None
        for engine in engines:
            if engine is not None:
                engine.dispose()

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
