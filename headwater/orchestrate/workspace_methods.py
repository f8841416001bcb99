"""The Workspace's pipeline methods: define, plan, run, queue, backfill, cancel, pause, logs.

A mixin, so the Workspace stays one object for the CLI, the web UI and tests while its
pipeline half lives beside the orchestrator it drives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import ProjectError, StateError, did_you_mean

if TYPE_CHECKING:
    from headwater.orchestrate import Dag, RunListener
    from headwater.orchestrate.define import PipelineDefinition
    from headwater.orchestrate.pools import Pools
    from headwater.orchestrate.runs import Definition
    from headwater.project import Project
    from headwater.quality.rules import Rule
    from headwater.sql import ModelGraph
    from headwater.state import RunRecord, Store
    from headwater.workspace import Workspace


class Pipelines:
    """Mixed into :class:`headwater.workspace.Workspace`."""

    project: Project
    _python_pipelines: dict[str, PipelineDefinition]
    _audited: dict[str, list[Rule]] | None

    @property
    def store(self) -> Store:
        raise NotImplementedError

    def models(self) -> ModelGraph:
        raise NotImplementedError

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        raise NotImplementedError

    def _audit_checks(self) -> dict[str, list[Rule]]:
        raise NotImplementedError

    @property
    def _ws(self) -> Workspace:
        from headwater.workspace import Workspace

        assert isinstance(self, Workspace)
        return self

    @cached_property
    def _definitions(self) -> dict[str, Definition]:
        from headwater.orchestrate.code import discover_pipelines
        from headwater.orchestrate.runs import Definition

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
            self._python_pipelines[name] = definition
        return found

    def pipelines(self) -> dict[str, Definition]:
        """Every pipeline: those in headwater.yaml and the ``@pipeline`` functions."""
        return dict(self._definitions)

    def definition(self, pipeline: str) -> Definition:
        definitions = self._definitions
        if pipeline not in definitions:
            raise ProjectError(
                f"no pipeline `{pipeline}` in {self.project.root}"
                f"{did_you_mean(pipeline, definitions)}",
                hint=f"pipelines: {', '.join(definitions) or 'none'} (in headwater.yaml or "
                "pipelines/*.py)",
            )
        return definitions[pipeline]

    def plan(self, pipeline: str) -> Dag:
        from headwater.orchestrate.builder import DagBuilder
        from headwater.orchestrate.plan import plan_pipeline

        definition = self.definition(pipeline)
        cfg = self.project.config
        python = self._python_pipelines.get(pipeline)
        # the model graph (which reads the catalog) is made only when a step selects models
        if python is None:
            return plan_pipeline(
                pipeline,
                cfg.pipelines[pipeline],
                cfg.sources,
                self.models,
                cfg.pools,
                cfg.connections,
            )
        builder = DagBuilder(
            pipeline, definition.settings, cfg.sources, self.models, cfg.pools, cfg.connections
        )
        python.plan(builder)
        return builder.build()

    def run(
        self,
        pipeline: str,
        listener: RunListener | None = None,
        dag: Dag | None = None,
        full_refresh: bool = False,
        *,
        logical_date: datetime | None = None,
        conf: Mapping[str, Any] | None = None,
        trigger: str = "manual",
        run_id: str | None = None,
        echo: bool = False,
    ) -> RunRecord:
        """Run a pipeline to the end; raises RunFailed (with the run record) if a task failed.

        ``dag`` is the pipeline's plan when the caller already made it (to display it).
        ``full_refresh`` reloads every source table from scratch, ignoring stored cursors and
        source state (an ``scd2`` table then starts a new history). ``logical_date`` sets the
        run's date (``{{ ds }}``) and data interval; ``conf`` overrides pipeline params.
        ``run_id`` continues a run: a queued one, or a finished one whose failed tasks re-run.
        ``echo`` shows what tasks print on the terminal as well as in their logs.
        """
        from headwater.orchestrate.runs import execute_run, this_process
        from headwater.state import RunStatus

        if run_id is not None:
            record = self.store.run(self.resolve_run(run_id))
            run_id = record.run_id
            pipeline = record.pipeline
            if record.status is RunStatus.QUEUED:
                if not self.store.claim_run(run_id, this_process()):
                    raise StateError(f"run {run_id} was started by another process")
            else:
                self.store.reopen_run(run_id)
        return execute_run(
            self._ws,
            pipeline,
            listener=listener,
            dag=dag,
            full_refresh=full_refresh,
            logical_date=logical_date,
            conf=conf,
            trigger=trigger,
            run_id=run_id,
            echo=echo,
        )

    def trigger(
        self,
        pipeline: str,
        conf: Mapping[str, Any] | None = None,
        logical_date: datetime | None = None,
    ) -> str:
        """Queue a run for the scheduler (``headwater trigger``, ``POST /v1/pipelines/…``)."""
        from headwater.orchestrate.runs import queue_run

        run_id = queue_run(self._ws, pipeline, conf, logical_date)
        assert run_id is not None
        return run_id

    def backfill(
        self,
        pipeline: str,
        start: datetime,
        end: datetime,
        max_active: int = 2,
        rerun: bool = False,
        on_run: Callable[[Any], None] | None = None,
    ) -> list[RunRecord]:
        """One run per logical date in [start, end], ``max_active`` at a time."""
        from headwater.orchestrate.runs import backfill

        return backfill(self._ws, pipeline, start, end, max_active, rerun, on_run)

    def cancel(self, run_id: str) -> RunRecord:
        """Ask a run to stop: a queued run is cancelled now, a running one by its owner."""
        run_id = self.resolve_run(run_id)
        if not self.store.request_cancel(run_id):
            record = self.store.run(run_id)
            raise StateError(
                f"run {run_id} has already finished ({record.status})",
                hint="only queued and running runs can be cancelled",
            )
        return self.store.run(run_id)

    def pause(self, pipeline: str, paused: bool = True) -> None:
        """Stop (or resume) scheduling ``pipeline``; runs in progress go on."""
        self.definition(pipeline)
        self.store.set_paused(pipeline, paused)

    def resolve_run(self, run_id: str) -> str:
        """A run id from a prefix of at least 4 characters (as ``headwater runs`` shows)."""
        matches = self.store.run_ids(run_id) if len(run_id) >= 4 else []
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise StateError(f"no run {run_id}", hint="list runs with `headwater runs`")
        raise StateError(f"{len(matches)} runs start with `{run_id}`", hint="give more of the id")

    def logs(self, run_id: str, task_id: str | None = None) -> dict[str, str]:
        """Task id → its log text, for one task or every task of a run that wrote one."""
        from headwater.orchestrate.logs import read_log

        record = self.store.run(self.resolve_run(run_id))
        tasks = [t.task_id for t in record.tasks]
        if task_id is not None and task_id not in tasks:
            raise StateError(
                f"run {record.run_id} has no task `{task_id}`{did_you_mean(task_id, tasks)}"
            )
        out = {}
        for tid in [task_id] if task_id else tasks:
            text = read_log(self.log_dir, record.run_id, tid)
            if text is not None:
                out[tid] = text
        return out

    @property
    def log_dir(self) -> Path:
        return self.project.state_dir / "logs"

    @cached_property
    def pools(self) -> Pools:
        from headwater.orchestrate.pools import Pools

        return Pools(self.project.config.pools)

    def public_variables(self) -> dict[str, Any]:
        from headwater.workspace import public_variables

        return public_variables(self.project)

    @property
    def overrides(self) -> dict[str, Any]:
        """The project's variable values, to open the same project in a worker process."""
        return dict(self.project.variables)

    def prepare_run(self) -> None:
        """Read what every task of a run shares once (check suites: a broken one stops here)."""
        self._audited = self._audit_checks()
