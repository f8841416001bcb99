"""The Workspace: one object over a project that the CLI, the web UI and tests all call.

It is the facade, and only that: pipeline tasks never see it. Their runs get a
:class:`~headwater.orchestrate.scope.Scope` with the parts they use.
"""

from headwater.project.variables import public_variables
from headwater.workspace.core import TableDetails, Workspace

__all__ = ["TableDetails", "Workspace", "public_variables"]
