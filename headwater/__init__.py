"""Headwater: the data-engineering lifecycle in one package.

Use :class:`Workspace` to load a project, run its pipelines and query its tables::

    from headwater import Workspace
    ws = Workspace.open("examples/classicmodels")
    ws.run("classicmodels")
    ws.query("SELECT count(*) FROM gold.fact_orders")
"""

from headwater.errors import (
    BadRows,
    ContractViolation,
    HeadwaterError,
    LakeError,
    ModelError,
    ProjectError,
    ProjectFileError,
    QueryError,
    RunFailed,
    SourceError,
    SourceUnreachable,
    StreamError,
    StreamNotFound,
    TableNotFound,
)
from headwater.streams.records import Entry

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from headwater import tasks
    from headwater.ingest.extraction import ReadContext
    from headwater.orchestrate.context import TaskContext
    from headwater.orchestrate.define import pipeline, task
    from headwater.orchestrate.task import Branch
    from headwater.workspace import TableDetails, Workspace

_ORCHESTRATION = {
    "pipeline": "headwater.orchestrate.define",
    "task": "headwater.orchestrate.define",
    "Branch": "headwater.orchestrate.task",
    "TaskContext": "headwater.orchestrate.context",
}


def __getattr__(name: str) -> object:
    """Import the Workspace (and with it the lake and SQL engines) on first use only."""
    if name in ("Workspace", "TableDetails"):
        from headwater import workspace

        return getattr(workspace, name)
    if name in _ORCHESTRATION:  # pipelines written in Python (pipelines/*.py)
        import importlib

        return getattr(importlib.import_module(_ORCHESTRATION[name]), name)
    if name == "tasks":
        import importlib

        return importlib.import_module("headwater.tasks")
    if name == "ReadContext":  # what a REST source's `python:` hook is handed
        from headwater.ingest.extraction import ReadContext

        return ReadContext
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")


__all__ = [
    "BadRows",
    "Branch",
    "ContractViolation",
    "Entry",
    "HeadwaterError",
    "LakeError",
    "ModelError",
    "ProjectError",
    "ProjectFileError",
    "QueryError",
    "ReadContext",
    "RunFailed",
    "SourceError",
    "SourceUnreachable",
    "StreamError",
    "StreamNotFound",
    "TableDetails",
    "TableNotFound",
    "TaskContext",
    "Workspace",
    "__version__",
    "pipeline",
    "task",
    "tasks",
]
