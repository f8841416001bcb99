"""The metadata store: runs, task runs, schema changes, check results and orchestration state.

Names are imported on first use: the store loads SQLAlchemy, which a command that does not
read or write runs does without.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.state.records import (
        RunRecord,
        RunStatus,
        SchemaChangeRecord,
        TaskRunRecord,
        TaskStatus,
    )
    from headwater.state.store import Store, head_revision

_WHERE = {
    "RunRecord": "headwater.state.records",
    "RunStatus": "headwater.state.records",
    "SchemaChangeRecord": "headwater.state.records",
    "TaskRunRecord": "headwater.state.records",
    "TaskStatus": "headwater.state.records",
    "Store": "headwater.state.store",
    "head_revision": "headwater.state.store",
}


__getattr__ = exports("headwater.state", _WHERE)


__all__ = [
    "RunRecord",
    "RunStatus",
    "SchemaChangeRecord",
    "Store",
    "TaskRunRecord",
    "TaskStatus",
    "head_revision",
]
