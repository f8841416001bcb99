"""The lake a project's settings describe (``lake:`` in headwater.yaml): its catalog database,
its warehouse folder or S3 prefix, and the S3 settings of the files it reads."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

from headwater.errors import LakeError, ProjectError, SourceError
from headwater.lake.catalog import Lake, warehouse_uri

if TYPE_CHECKING:
    from headwater.project import Project


def open_lake(project: Project) -> Lake:
    """The project's lake (nothing is opened until it is used; an S3 warehouse is checked)."""
    from headwater.project.config import FilesConnection

    cfg = project.config.lake
    target = cfg.target_file_mb << 20
    location = cfg.warehouse
    # external tables crawled through an S3 files connection are read with its settings
    s3_files = {
        name: spec
        for name, spec in project.config.connections.items()
        if isinstance(spec, FilesConnection) and spec.url.startswith("s3://")
    }
    connections = {}
    if s3_files:
        from headwater.connect.storage.s3 import S3Access

        connections = {name: S3Access.resolve(spec.s3) for name, spec in s3_files.items()}
    catalog_url = None
    if cfg.catalog_url:
        from headwater.connect.sql.database import resolve_url

        url = resolve_url(cfg.catalog_url, project.root)
        catalog_url = url.render_as_string(hide_password=False)
    if location.startswith("s3://"):
        from headwater.connect.storage.s3 import S3Access, S3Storage

        try:
            access = S3Access.resolve(cfg.s3)
            S3Storage(location, access, "lake.warehouse").check()
        except SourceError as exc:
            raise LakeError(exc.message, hint=exc.hint) from exc
        catalog_url = catalog_url or f"sqlite:///{project.state_dir / 'catalog.db'}"
        return Lake(catalog_url, location.rstrip("/"), target, access, connections)
    if location.startswith("file://"):
        location = urllib.parse.urlparse(location).path
    elif "://" in location:
        raise ProjectError(
            f"warehouse `{cfg.warehouse}`: only local folders and s3:// are supported",
            hint="set lake.warehouse to a folder (relative to the project, or absolute) or "
            "to s3://bucket/prefix",
        )
    if catalog_url:
        warehouse = project.path(location)
        warehouse.mkdir(parents=True, exist_ok=True)
        return Lake(catalog_url, warehouse_uri(warehouse), target, None, connections)
    return Lake.local(
        project.state_dir,
        str(project.path(location)),
        target_file_bytes=target,
        s3_connections=connections,
    )
