"""Headwater: the data-engineering lifecycle in one package.

Use :class:`Workspace` to load a project, run its pipelines and query its tables::

    from headwater import Workspace
    ws = Workspace.open("examples/classicmodels")
    ws.run("classicmodels")
    ws.query("SELECT count(*) FROM gold.fact_orders")
"""

from headwater.errors import (
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
    TableNotFound,
)

__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from headwater.ingest.extraction import ReadContext
    from headwater.workspace import TableDetails, Workspace


def __getattr__(name: str) -> object:
    """Import the Workspace (and with it the lake and SQL engines) on first use only."""
    if name in ("Workspace", "TableDetails"):
        from headwater import workspace

        return getattr(workspace, name)
    if name == "ReadContext":  # what a REST source's `python:` hook is handed
        from headwater.ingest.extraction import ReadContext

        return ReadContext
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")


__all__ = [
    "ContractViolation",
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
    "TableDetails",
    "TableNotFound",
    "Workspace",
    "__version__",
]
