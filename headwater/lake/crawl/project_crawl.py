"""Crawling a URL of a project: the S3 settings it is read with come from the project."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lake.catalog import Lake
from headwater.lake.crawl.crawler import CrawlOptions, Progress, crawl
from headwater.lake.crawl.report import CrawlReport

if TYPE_CHECKING:
    from headwater.project import Project


def crawl_url(
    project: Project,
    lake: Lake,
    url: str,
    namespace: str,
    options: CrawlOptions | None = None,
    progress: Progress | None = None,
) -> CrawlReport:
    """Find the datasets under a folder or S3 prefix and make each a table of
    ``namespace``: files registered where they lie, or imported into Iceberg tables
    (``options.import_files``), as a Glue crawler does.

    A relative folder is relative to the project. An s3:// URL is reached with the S3
    settings of the files connection whose URL holds it (recorded, so queries use them
    too), else those of an s3:// warehouse, else the AWS_* environment.
    """
    from dataclasses import replace

    from headwater.connect.storage import open_storage
    from headwater.connect.storage.s3 import S3Storage
    from headwater.project.config import FilesConnection

    options = options or CrawlOptions()
    config, connection = None, None
    if url.startswith("s3://"):
        for name, spec in project.config.connections.items():
            base = spec.url.rstrip("/") if isinstance(spec, FilesConnection) else ""
            if base.startswith("s3://") and (url.rstrip("/") + "/").startswith(base + "/"):
                config, connection = spec.s3, name  # type: ignore[union-attr]
                break
        else:
            settings = project.config.lake
            config = settings.s3 if settings.warehouse.startswith("s3://") else None
    storage = open_storage(url, project.root, config, "the crawl URL")
    if isinstance(storage, S3Storage):
        storage.check()
    return crawl(lake, storage, namespace, replace(options, connection=connection), progress)
