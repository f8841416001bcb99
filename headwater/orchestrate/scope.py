"""What the tasks of a pipeline run work with: the project's definition, its lake, its metadata
store and its database connections — never the Workspace.

The Workspace (the facade of the CLI, the web app and the tests) builds a :class:`Scope` from
the parts it holds; a worker process or a Dask worker builds one from the project's folder
(:func:`open_scope`). A run makes its own frozen copy with the checks its loads audit
(:meth:`Scope.for_run`), so every task of the run sees the same suites.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.connect.sql.databases import Databases
    from headwater.lake import Lake
    from headwater.orchestrate.catalog import PipelineCatalog
    from headwater.orchestrate.pools import Pools
    from headwater.project import Project
    from headwater.quality.rules import Rule
    from headwater.state import Store


@dataclass(frozen=True)
class Scope:
    project: Project
    lake: Lake
    store: Store
    databases: Databases
    catalog: PipelineCatalog
    pools: Pools
    # table → the checks its publishes are audited with, read once per run
    audited: Mapping[str, Sequence[Rule]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.project.root

    @property
    def log_dir(self) -> Path:
        return self.project.state_dir / "logs"

    def for_run(self) -> Scope:
        """This scope with the check suites read now (a broken suite stops the run here)."""
        from headwater.quality.project_checks import audit_checks

        return replace(self, audited=audit_checks(self.project))

    def public_variables(self) -> dict[str, Any]:
        from headwater.project.variables import public_variables

        return public_variables(self.project)

    def close(self) -> None:
        """Release the connections of a scope that :func:`open_scope` made."""
        self.databases.dispose()
        self.lake.close()
        self.store.close()


def open_scope(root: str | Path, variables: Mapping[str, Any] | None = None) -> Scope:
    """The scope of the project in ``root`` with its variables (a worker's own)."""
    from headwater.connect.sql.databases import Databases
    from headwater.lake.project_lake import open_lake
    from headwater.orchestrate.catalog import PipelineCatalog
    from headwater.orchestrate.pools import Pools
    from headwater.project import load_project
    from headwater.sql.project_models import project_models
    from headwater.state import Store
    from headwater.state.location import store_url

    project = load_project(root, variables)
    lake = open_lake(project)
    return Scope(
        project=project,
        lake=lake,
        store=Store.open(store_url(project)),
        databases=Databases(project),
        catalog=PipelineCatalog(project, lambda: project_models(project, lambda: lake)),
        pools=Pools(project.config.pools),
    )
