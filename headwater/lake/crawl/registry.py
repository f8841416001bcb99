"""External tables: files registered where they lie, in the catalog's own database.

Three tables sit next to pyiceberg's: the tables (location, format, columns, partitions,
status), their files (what a query reads), and every version a crawl saw (``created``,
``updated``, or a change only ``logged``/``deprecated`` by the schema-change policy). Their
schema version is kept in ``headwater_external_meta`` and checked on open, so an older
Headwater never misreads a newer registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from headwater.errors import LakeError
from headwater.lake.crawl.layout import Columns, Layout
from headwater.lake.crawl.partitions import PartitionColumn

SCHEMA_VERSION = 1

metadata = sa.MetaData()

meta_table = sa.Table(
    "headwater_external_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

tables_table = sa.Table(
    "headwater_external_tables",
    metadata,
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("layouts", sa.Text, nullable=False),  # JSON: how each group of files is read
    sa.Column("columns", sa.Text, nullable=False),  # JSON: [[name, type], …]
    sa.Column("partitions", sa.Text, nullable=False),  # JSON: [[name, type, hive, level], …]
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | deprecated
    sa.Column("connection", sa.String(255)),  # the files connection it was crawled through
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

files_table = sa.Table(
    "headwater_external_files",
    metadata,
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),  # relative to the table's location
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("version", sa.String(255), nullable=False),  # mtime or ETag
    sa.Column("layout", sa.Integer, nullable=False),  # index into the table's layouts
)

versions_table = sa.Table(
    "headwater_external_table_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("namespace", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("columns", sa.Text, nullable=False),
    sa.Column("partitions", sa.Text, nullable=False),
    sa.Column("changes", sa.Text, nullable=False),  # JSON: ["+col TYPE", "col: A → B", …]
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_headwater_external_versions_table", "namespace", "name"),
)

# What a version row's event says: the definition was registered, or only seen.
EVENTS = ("created", "updated", "logged", "deprecated", "restored", "gone")


@dataclass(frozen=True)
class ExternalFile:
    path: str  # relative to the table's location
    size: int
    version: str
    layout: int = 0


@dataclass(frozen=True)
class ExternalTable:
    """One registered table of files; ``location`` is a folder path or an s3:// URL."""

    namespace: str
    name: str
    location: str
    format: str
    layouts: tuple[Layout, ...]
    columns: Columns
    partitions: tuple[PartitionColumn, ...] = ()
    version: int = 1
    status: str = "active"
    connection: str | None = None
    files: int = 0
    bytes: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def full_name(self) -> str:
        return f"{self.namespace}.{self.name}"

    def file_location(self, path: str) -> str:
        return f"{self.location.rstrip('/')}/{path}"


@dataclass(frozen=True)
class ExternalVersion:
    version: int
    event: str
    format: str
    columns: Columns
    partitions: tuple[PartitionColumn, ...]
    changes: list[str] = field(default_factory=list)
    recorded_at: datetime | None = None


class ExternalRegistry:
    """The external tables of one catalog database (SQLAlchemy Core, any dialect)."""

    def __init__(self, engine: sa.Engine, shown: str = "") -> None:
        self.engine = engine
        self.shown = sa.make_url(shown).render_as_string(hide_password=True) if shown else ""
        self._ready = False

    # -- schema -------------------------------------------------------------------------

    def _open(self, write: bool = False) -> bool:
        """True when the registry's tables exist, created first for a write (so reading a
        catalog never changes it); their schema version is checked once."""
        if self._ready:
            return True
        with self.engine.begin() as conn:
            if not write and not sa.inspect(conn).has_table(meta_table.name):
                return False
            metadata.create_all(conn, checkfirst=True)
            found = conn.execute(
                sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
            ).scalar()
            if found is None:
                conn.execute(
                    sa.insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION))
                )
            elif found != str(SCHEMA_VERSION):
                raise LakeError(
                    f"the external-table registry in {self.shown or 'the catalog'} has schema "
                    f"version {found}; this Headwater reads version {SCHEMA_VERSION}",
                    hint="use the Headwater release that wrote it, or upgrade Headwater",
                )
        self._ready = True
        return True

    # -- reading --------------------------------------------------------------------------

    def get(self, name: str) -> ExternalTable | None:
        namespace, _, table = name.partition(".")
        if not self._open():
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(tables_table).where(
                    tables_table.c.namespace == namespace, tables_table.c.name == table
                )
            ).first()
        return _table(row) if row is not None else None

    def tables(self, namespace: str | None = None) -> list[ExternalTable]:
        if not self._open():
            return []
        query = sa.select(tables_table).order_by(tables_table.c.namespace, tables_table.c.name)
        if namespace is not None:
            query = query.where(tables_table.c.namespace == namespace)
        with self.engine.connect() as conn:
            return [_table(row) for row in conn.execute(query)]

    def names(self) -> list[str]:
        return [t.full_name for t in self.tables()]

    def files(self, name: str) -> list[ExternalFile]:
        namespace, _, table = name.partition(".")
        if not self._open():
            return []
        query = (
            sa.select(files_table)
            .where(files_table.c.namespace == namespace, files_table.c.name == table)
            .order_by(files_table.c.path)
        )
        with self.engine.connect() as conn:
            return [
                ExternalFile(r.path, int(r.size), r.version, int(r.layout))
                for r in conn.execute(query)
            ]

    def history(self, name: str) -> list[ExternalVersion]:
        namespace, _, table = name.partition(".")
        if not self._open():
            return []
        query = (
            sa.select(versions_table)
            .where(versions_table.c.namespace == namespace, versions_table.c.name == table)
            .order_by(versions_table.c.id)
        )
        with self.engine.connect() as conn:
            return [
                ExternalVersion(
                    r.version,
                    r.event,
                    r.format,
                    _columns(r.columns),
                    _partitions(r.partitions),
                    list(json.loads(r.changes)),
                    _utc(r.recorded_at),
                )
                for r in conn.execute(query)
            ]

    # -- writing --------------------------------------------------------------------------

    def save(
        self,
        table: ExternalTable,
        files: Sequence[ExternalFile],
        event: str | None,
        changes: Iterable[str] = (),
    ) -> ExternalTable:
        """Register ``table`` with exactly ``files``, in one transaction; ``event`` (when not
        None) records the definition as a version. Returns the table as stored."""
        now = datetime.now(UTC)
        stored = replace(
            table,
            files=len(files),
            bytes=sum(f.size for f in files),
            created_at=table.created_at or now,
            updated_at=now,
        )
        key = {"namespace": table.namespace, "name": table.name}
        self._open(write=True)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(tables_table).filter_by(**key))
            conn.execute(sa.insert(tables_table).values(**key, **_row(stored)))
            conn.execute(sa.delete(files_table).filter_by(**key))
            if files:
                conn.execute(
                    sa.insert(files_table),
                    [
                        {
                            **key,
                            "path": f.path,
                            "size": f.size,
                            "version": f.version,
                            "layout": f.layout,
                        }
                        for f in files
                    ],
                )
            if event is not None:
                conn.execute(
                    sa.insert(versions_table).values(**_version(stored, event, changes, now))
                )
        return stored

    def record(self, table: ExternalTable, event: str, changes: Iterable[str] = ()) -> None:
        """Add a version row for ``table``'s definition without changing the table."""
        self._open(write=True)
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(versions_table).values(
                    **_version(table, event, changes, datetime.now(UTC))
                )
            )

    def set_status(
        self,
        table: ExternalTable,
        status: str,
        seen: ExternalTable,
        changes: Iterable[str] = (),
        event: str = "deprecated",
    ) -> None:
        """Mark ``table`` active or deprecated, recording the definition ``seen`` and why."""
        now = datetime.now(UTC)
        self._open(write=True)
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(tables_table)
                .where(
                    tables_table.c.namespace == table.namespace, tables_table.c.name == table.name
                )
                .values(status=status, updated_at=now)
            )
            conn.execute(sa.insert(versions_table).values(**_version(seen, event, changes, now)))

    def drop(self, name: str) -> None:
        """Forget a table and its files (its version history stays)."""
        namespace, _, table = name.partition(".")
        self._open(write=True)
        with self.engine.begin() as conn:
            conn.execute(sa.delete(files_table).filter_by(namespace=namespace, name=table))
            conn.execute(sa.delete(tables_table).filter_by(namespace=namespace, name=table))


def _row(table: ExternalTable) -> dict[str, Any]:
    return {
        "location": table.location,
        "format": table.format,
        "layouts": json.dumps([layout.as_json() for layout in table.layouts]),
        "columns": json.dumps([list(c) for c in table.columns]),
        "partitions": _partitions_json(table.partitions),
        "version": table.version,
        "status": table.status,
        "connection": table.connection,
        "files": table.files,
        "bytes": table.bytes,
        "created_at": table.created_at,
        "updated_at": table.updated_at,
    }


def _version(
    table: ExternalTable, event: str, changes: Iterable[str], now: datetime
) -> dict[str, Any]:
    assert event in EVENTS, event
    return {
        "namespace": table.namespace,
        "name": table.name,
        "version": table.version,
        "event": event,
        "format": table.format,
        "columns": json.dumps([list(c) for c in table.columns]),
        "partitions": _partitions_json(table.partitions),
        "changes": json.dumps(list(changes)),
        "recorded_at": now,
    }


def _table(row: Any) -> ExternalTable:
    return ExternalTable(
        namespace=row.namespace,
        name=row.name,
        location=row.location,
        format=row.format,
        layouts=tuple(Layout.from_json(d) for d in json.loads(row.layouts)),
        columns=_columns(row.columns),
        partitions=_partitions(row.partitions),
        version=int(row.version),
        status=row.status,
        connection=row.connection,
        files=int(row.files),
        bytes=int(row.bytes),
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _columns(text: str) -> Columns:
    return tuple((str(n), str(t)) for n, t in json.loads(text))


def _partitions(text: str) -> tuple[PartitionColumn, ...]:
    return tuple(
        PartitionColumn(str(n), str(t), bool(h), int(level)) for n, t, h, level in json.loads(text)
    )


def _partitions_json(partitions: Iterable[PartitionColumn]) -> str:
    return json.dumps([[p.name, p.type, p.hive, p.level] for p in partitions])


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
