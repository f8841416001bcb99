"""The Workspace's pipeline methods: list, plan, run, queue, backfill, cancel, pause, logs.

A mixin of the facade: each method is a few lines over :mod:`headwater.orchestrate`, which
runs the tasks with a :class:`~headwater.orchestrate.scope.Scope` built from the Workspace's
parts (the tasks never see the Workspace).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import StateError, did_you_mean

if TYPE_CHECKING:
    from headwater.connect.sql.databases import Databases
    from headwater.lake import Lake
    from headwater.orchestrate import Dag, RunListener
    from headwater.orchestrate.backfill import Backfill
    from headwater.orchestrate.catalog import Definition, PipelineCatalog
    from headwater.orchestrate.scheduler import Scheduler
    from headwater.orchestrate.scope import Scope
    from headwater.project import Project
    from headwater.sql import ModelGraph
    from headwater.state import RunRecord, Store


class Pipelines:
    """Mixed into :class:`headwater.workspace.Workspace`."""

    project: Project
    databases: Databases

    @property
    def lake(self) -> Lake:
        raise NotImplementedError

    @property
    def store(self) -> Store:
        raise NotImplementedError

    def models(self) -> ModelGraph:
        raise NotImplementedError

    @cached_property
    def catalog(self) -> PipelineCatalog:
        """The project's pipelines (read once)."""
        from headwater.orchestrate.catalog import PipelineCatalog

        return PipelineCatalog(self.project, self.models)

    @cached_property
    def scope(self) -> Scope:
        """What the runs of this workspace's pipelines work with (opens the lake and store)."""
        from headwater.orchestrate.pools import Pools
        from headwater.orchestrate.scope import Scope

        return Scope(
            project=self.project,
            lake=self.lake,
            store=self.store,
            databases=self.databases,
            catalog=self.catalog,
            pools=Pools(self.project.config.pools),
        )

    def pipelines(self) -> dict[str, Definition]:
        """Every pipeline: those in headwater.yaml and the ``@pipeline`` functions."""
        return self.catalog.pipelines()

    def definition(self, pipeline: str) -> Definition:
        return self.catalog.definition(pipeline)

    def plan(self, pipeline: str) -> Dag:
        return self.catalog.plan(pipeline)

    def scheduler(self, **options: Any) -> Scheduler:
        """A scheduler over this workspace's pipelines (``headwater scheduler``); ``options``
        are :class:`~headwater.orchestrate.scheduler.Scheduler`'s."""
        from headwater.orchestrate.scheduler import Scheduler

        return Scheduler(self.scope, **options)

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
            self.scope,
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

        run_id = queue_run(self.scope, pipeline, conf, logical_date)
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
    ) -> Backfill:
        """One run per logical date in [start, end], ``max_active`` at a time; dates that
        already have a successful run are skipped unless ``rerun`` (see :class:`Backfill`)."""
        from headwater.orchestrate.backfill import backfill

        return backfill(self.scope, pipeline, start, end, max_active, rerun, on_run)

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
