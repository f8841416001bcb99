"""The capture of a project's source: which tables it follows, into which lake tables, and
through which slot or replica id, named after the project and the source."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.durations import parse_duration
from headwater.errors import CdcSetupError, ProjectError, did_you_mean

if TYPE_CHECKING:
    from headwater.cdc.capture import Capture
    from headwater.connect.sql.database import SqlDatabase
    from headwater.project import Project
    from headwater.project.config import SqlSource

DIALECTS = ("postgresql", "mysql", "mariadb")


@dataclass(frozen=True)
class CaptureSpec:
    """What a capture of ``source`` reads and where it lands."""

    source: str
    dialect: str
    url: str
    #: source table (``schema.name`` / ``database.name``) → lake table
    targets: dict[str, str]
    slot: str
    publication: str
    server_id: int
    interval: float
    max_changes: int


def captured_sources(project: Project) -> list[str]:
    """The SQL sources with at least one table under ``load: cdc``."""
    from headwater.project.config import SqlSource

    return [
        name
        for name, source in project.config.sources.items()
        if isinstance(source, SqlSource)
        and any(source.load_for(t).strategy == "cdc" for t in source.tables)
    ]


def captured_source(project: Project, name: str) -> SqlSource:
    """Source ``name``, which must have tables under ``load: cdc``."""
    from headwater.project.config import SqlSource

    sources = captured_sources(project)
    known = project.config.sources
    if name not in sources:
        raise ProjectError(
            f"source `{name}` has no table under `load: cdc`"
            if name in known
            else f"no source `{name}` in {project.file.name}{did_you_mean(name, sources)}",
            hint="set `load: cdc` on a SQL source or on its tables in headwater.yaml"
            + (f"; the sources under cdc are: {', '.join(sources)}" if sources else ""),
        )
    source = known[name]
    assert isinstance(source, SqlSource)
    return source


def capture_spec(project: Project, name: str, db: SqlDatabase) -> CaptureSpec:
    """The capture of source ``name`` (its tables under ``load: cdc``) on ``db``."""
    source = captured_source(project, name)
    if db.dialect not in DIALECTS:
        raise CdcSetupError(
            f"source `{name}`: change data capture reads PostgreSQL, MySQL and MariaDB, not "
            f"{db.dialect}",
            source=name,
            hint="use another load strategy (merge, incremental) for this source",
        )
    default_schema = "public" if db.dialect == "postgresql" else (db.url.database or "")
    targets: dict[str, str] = {}
    for table in source.tables:
        if source.load_for(table).strategy != "cdc":
            continue
        qualified = f"{table.schema_ or default_schema}.{table.source_table}"
        targets[qualified] = f"{source.namespace}.{table.name}"
    base = _slot_name(f"hw_{project.name}_{name}")
    settings = source.cdc
    return CaptureSpec(
        source=name,
        dialect=db.dialect,
        url=db.url.render_as_string(hide_password=False),
        targets=targets,
        slot=settings.slot or base,
        publication=settings.publication or base,
        server_id=settings.server_id or _server_id(project.name, name),
        interval=parse_duration(settings.interval).total_seconds(),
        max_changes=settings.max_changes,
    )


def open_capture(spec: CaptureSpec) -> Capture:
    """The capture for the spec's database (imported only when used)."""
    tables = list(spec.targets)
    if spec.dialect == "postgresql":
        from headwater.cdc.postgres import PostgresCapture

        return PostgresCapture(spec.url, tables, spec.slot, spec.publication)
    from headwater.cdc.mysql import MysqlCapture

    return MysqlCapture(spec.url, tables, spec.server_id)


def _slot_name(text: str) -> str:
    """A replication slot's name: lower-case letters, digits and underscores, ≤ 63."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())[:63]


def _server_id(project: str, source: str) -> int:
    """A replica server id from the names: stable, and far from the small ids DBAs pick."""
    digest = hashlib.sha256(f"{project}/{source}".encode()).digest()
    return 100_000_000 + int.from_bytes(digest[:4], "big") % 4_000_000_000
