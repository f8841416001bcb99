"""The crawler: find datasets under a folder or S3 prefix and make them tables, like Glue's.

``crawl(lake, storage, namespace, options)`` registers each dataset as an external table
(files queried where they lie) or, with ``import_files``, loads it into an Iceberg table.
Names load on first use: a query session needs the registry, not DuckDB's sniffers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.lake.crawl.crawler import CrawlOptions, Progress, Recrawl, crawl
    from headwater.lake.crawl.infer import Sampling
    from headwater.lake.crawl.project_crawl import crawl_url
    from headwater.lake.crawl.register import Policy
    from headwater.lake.crawl.registry import ExternalRegistry, ExternalTable, ExternalVersion
    from headwater.lake.crawl.report import CrawlReport, SkippedFile, TableOutcome

_WHERE = {
    "CrawlOptions": "crawler",
    "Progress": "crawler",
    "Recrawl": "crawler",
    "crawl": "crawler",
    "Sampling": "infer",
    "crawl_url": "project_crawl",
    "Policy": "register",
    "ExternalRegistry": "registry",
    "ExternalTable": "registry",
    "ExternalVersion": "registry",
    "CrawlReport": "report",
    "SkippedFile": "report",
    "TableOutcome": "report",
}


__getattr__ = exports(
    "headwater.lake.crawl", {n: f"headwater.lake.crawl.{m}" for n, m in _WHERE.items()}
)


__all__ = [
    "CrawlOptions",
    "CrawlReport",
    "ExternalRegistry",
    "ExternalTable",
    "ExternalVersion",
    "Policy",
    "Progress",
    "Recrawl",
    "Sampling",
    "SkippedFile",
    "TableOutcome",
    "crawl",
    "crawl_url",
]
