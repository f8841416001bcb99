"""Table maintenance: compaction, snapshot expiry and orphan-file removal (``headwater maintain``)."""

from headwater.lake.maintenance.compact import compact
from headwater.lake.maintenance.expire import expire_snapshots
from headwater.lake.maintenance.maintain import Maintenance, maintain, maintain_tables
from headwater.lake.maintenance.orphans import remove_orphan_files
from headwater.lake.maintenance.report import (
    CompactReport,
    ExpireReport,
    MaintenanceReport,
    OrphanFile,
    OrphanReport,
    Progress,
    SharedFolder,
)

__all__ = [
    "CompactReport",
    "ExpireReport",
    "Maintenance",
    "MaintenanceReport",
    "OrphanFile",
    "OrphanReport",
    "Progress",
    "SharedFolder",
    "compact",
    "expire_snapshots",
    "maintain",
    "maintain_tables",
    "remove_orphan_files",
]
