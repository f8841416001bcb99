"""The project's pipelines — those in headwater.yaml and the ``@pipeline`` functions of
``pipelines/*.py`` — and their plans."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from headwater.errors import DagError, ProjectError, did_you_mean
from headwater.project.pipelines import PipelineSettings

if TYPE_CHECKING:
    from headwater.orchestrate.dag import Dag
    from headwater.orchestrate.define import PipelineDefinition
    from headwater.project import Project
    from headwater.sql import ModelGraph


@dataclass(frozen=True)
class Definition:
    """A pipeline of the project, from headwater.yaml or from a ``@pipeline`` function."""

    name: str
    settings: PipelineSettings
    origin: str  # where it is written, for messages


class PipelineCatalog:
    """Every pipeline of ``project``, read once; ``models`` gives the model graph a plan that
    selects models needs (it may read the lake's catalog, so it is asked only then)."""

    def __init__(self, project: Project, models: Callable[[], ModelGraph]) -> None:
        self.project = project
        self.models = models
        self._found: dict[str, Definition] | None = None
        self._python: dict[str, PipelineDefinition] = {}
        self._lock = threading.Lock()

    def pipelines(self) -> dict[str, Definition]:
        """Every pipeline: those in headwater.yaml and the ``@pipeline`` functions."""
        with self._lock:
            if self._found is None:
                self._found = self._discover()
            return dict(self._found)

    def definition(self, pipeline: str) -> Definition:
        definitions = self.pipelines()
        if pipeline not in definitions:
            raise ProjectError(
                f"no pipeline `{pipeline}` in {self.project.root}"
                f"{did_you_mean(pipeline, definitions)}",
                hint=f"pipelines: {', '.join(definitions) or 'none'} (in headwater.yaml or "
                "pipelines/*.py)",
            )
        return definitions[pipeline]

    def plan(self, pipeline: str) -> Dag:
        """The pipeline's tasks and their dependencies."""
        from headwater.orchestrate.builder import DagBuilder
        from headwater.orchestrate.plan import plan_pipeline

        definition = self.definition(pipeline)
        cfg = self.project.config
        python = self._python.get(pipeline)
        # the model graph (which may read the catalog) is made only when a step selects models
        if python is None:
            try:
                return plan_pipeline(
                    pipeline,
                    cfg.pipelines[pipeline],
                    cfg.sources,
                    self.models,
                    cfg.pools,
                    cfg.connections,
                    cfg,
                )
            except DagError as exc:  # the tasks are written in the project file: name it
                raise DagError(f"{exc.message} (in {definition.origin})", hint=exc.hint) from exc
        builder = DagBuilder(
            pipeline,
            definition.settings,
            cfg.sources,
            self.models,
            cfg.pools,
            cfg.connections,
            cfg,
        )
        python.plan(builder)
        return builder.build()

    def _discover(self) -> dict[str, Definition]:
        from headwater.orchestrate.code import discover_pipelines

        found = {
            name: Definition(name, settings, f"{self.project.file}")
            for name, settings in self.project.config.pipelines.items()
        }
        for name, definition in discover_pipelines(self.project.root).items():
            if name in found:
                raise ProjectError(
                    f"pipeline `{name}` is defined twice: in {found[name].origin} and at "
                    f"{definition.origin}",
                    hint="rename one of them",
                )
            found[name] = Definition(name, definition.settings, definition.origin)
            self._python[name] = definition
        return found
