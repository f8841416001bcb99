"""The metadata store: runs, task runs and (later) cursors, metrics and check results."""

from headwater.state.records import (
    RunRecord,
    RunStatus,
    SchemaChangeRecord,
    TaskRunRecord,
    TaskStatus,
)
from headwater.state.store import Store, head_revision

__all__ = [
    "RunRecord",
    "RunStatus",
    "SchemaChangeRecord",
    "Store",
    "TaskRunRecord",
    "TaskStatus",
    "head_revision",
]
