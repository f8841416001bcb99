"""Headwater: the data-engineering lifecycle in one package.

Use :class:`Workspace` to load a project, run its pipelines and query its tables::

    from headwater import Workspace
    ws = Workspace.open("examples/classicmodels")
    ws.run("classicmodels")
    ws.query("SELECT count(*) FROM gold.fact_orders")
"""

from headwater.errors import (
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
from headwater.workspace import TableDetails, Workspace

__version__ = "0.1.0"

__all__ = [
    "HeadwaterError",
    "LakeError",
    "ModelError",
    "ProjectError",
    "ProjectFileError",
    "QueryError",
    "RunFailed",
    "SourceError",
    "SourceUnreachable",
    "TableDetails",
    "TableNotFound",
    "Workspace",
    "__version__",
]
