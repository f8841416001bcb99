"""The Workspace: one object over a project that the CLI, the web UI and tests all call."""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from headwater.connect.sql import SqlDatabase
from headwater.connect.sql.database import resolve_url
from headwater.connect.sql.quoting import ident
from headwater.errors import ProjectError, RunFailed, did_you_mean
from headwater.ingest.contract import schema_changes
from headwater.ingest.extraction import Resource
from headwater.ingest.resources import build_resource
from headwater.ingest.sql_source import SqlResource
from headwater.ingest.state import committed_state
from headwater.ingest.task import run_ingest
from headwater.lake import (
    Lake,
    SnapshotInfo,
    TableInfo,
)
from headwater.lake.writer import Audit
from headwater.orchestrate import Dag, LocalExecutor, RunListener, Task, TaskOutcome, run_dag
from headwater.orchestrate.plan import plan_pipeline
from headwater.orchestrate.task import IngestSpec, ModelSpec
from headwater.project import Project, load_project
from headwater.project.config import SourceTable, SqlConnection, SqlSource
from headwater.sql import ModelGraph, Session, discover_models
from headwater.sql.build import build_model
from headwater.state import RunRecord, RunStatus, SchemaChangeRecord, Store

if TYPE_CHECKING:
    from headwater.quality.profile import TableProfile
    from headwater.quality.results import CheckResult, SuiteResult
    from headwater.quality.rules import Rule
    from headwater.quality.suite import Suite


@dataclass(frozen=True)
class TableDetails:
    info: TableInfo
    schema: pa.Schema
    snapshots: list[SnapshotInfo]
    schema_changes: list[SchemaChangeRecord] = field(default_factory=list)
    cursor: Any = None  # the cursor committed with the last load
    checks: list[dict[str, Any]] = field(default_factory=list)  # latest result of each check


class Workspace:
    """A loaded project with its lake, metadata store and connections."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._databases: dict[str, SqlDatabase] = {}
        self._audited: dict[str, list[Rule]] | None = None  # a run's audited checks
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, project: str | Path = ".", variables: Mapping[str, Any] | None = None
    ) -> Workspace:
        """Load the project in ``project`` with variable overrides (like ``--var``)."""
        return cls(load_project(project, variables))

    # -- the parts ------------------------------------------------------------------------

    @cached_property
    def lake(self) -> Lake:
        cfg = self.project.config.lake
        target = cfg.target_file_mb << 20
        location = cfg.warehouse
        if location.startswith("file://"):
            location = urllib.parse.urlparse(location).path
        elif "://" in location:
            raise ProjectError(
                f"warehouse `{cfg.warehouse}`: only local folders are supported",
                hint="set lake.warehouse to a folder (relative to the project, or absolute)",
            )
        if cfg.catalog_url:
            warehouse = self.project.path(location)
            warehouse.mkdir(parents=True, exist_ok=True)
            catalog_url = resolve_url(cfg.catalog_url, self.project.root).render_as_string(
                hide_password=False
            )
            return Lake(catalog_url, warehouse.resolve().as_uri(), target)
        return Lake.local(
            self.project.state_dir, str(self.project.path(location)), target_file_bytes=target
        )

    @property
    def state_url(self) -> str:
        """The metadata store's URL: ``state.url`` (a relative SQLite path is relative to the
        project folder), or ``.headwater/state.db``."""
        if self.project.config.state.url:
            url = resolve_url(self.project.config.state.url, self.project.root)
            return url.render_as_string(hide_password=False)
        return f"sqlite:///{self.project.state_dir / 'state.db'}"

    @cached_property
    def store(self) -> Store:
        return Store.open(self.state_url)

    def migrate(self) -> tuple[str | None, str]:
        """Upgrade the metadata store's schema; returns (revision before, revision after)."""
        store = Store.open(self.state_url, check=False)
        try:
            return store.migrate()
        finally:
            store.close()

    def database(self, connection: str) -> SqlDatabase:
        with self._lock:
            if connection not in self._databases:
                spec = self.project.config.connections[connection]
                if not isinstance(spec, SqlConnection):
                    raise ProjectError(
                        f"connection `{connection}` is of type `{spec.type}`, not a SQL database"
                    )
                self._databases[connection] = SqlDatabase(
                    spec.url, name=connection, root=self.project.root
                )
            return self._databases[connection]

    def models(self) -> ModelGraph:
        """Every model of the project, checked against the tables the project can produce."""
        cfg = self.project.config
        folder = self.project.path(cfg.models.path)
        produced = {f"{s.namespace}.{t.name}" for s in cfg.sources.values() for t in s.tables}
        known = produced | set(self.lake.tables())
        return ModelGraph.build(
            discover_models(folder, self.project.root), known, self.project.root
        )

    # -- pipelines ------------------------------------------------------------------------

    def plan(self, pipeline: str) -> Dag:
        pipelines = self.project.config.pipelines
        if pipeline not in pipelines:
            raise ProjectError(
                f"no pipeline `{pipeline}` in {self.project.file}{did_you_mean(pipeline, pipelines)}",
                hint=f"pipelines: {', '.join(pipelines) or 'none'}",
            )
        return plan_pipeline(
            pipeline, pipelines[pipeline], self.project.config.sources, self.models()
        )

    def run(
        self,
        pipeline: str,
        listener: RunListener | None = None,
        dag: Dag | None = None,
        full_refresh: bool = False,
    ) -> RunRecord:
        """Run a pipeline to the end; raises RunFailed (with the run record) if a task failed.

        ``dag`` is the pipeline's plan when the caller already made it (to display it).
        ``full_refresh`` reloads every source table from scratch, ignoring stored cursors and
        source state (an ``scd2`` table then starts a new history).
        """
        dag = dag or self.plan(pipeline)
        config = self.project.config.pipelines[pipeline]
        # check suites are read once per run (a broken one stops the run before any task)
        self._audited = self._audit_checks()
        run_id = self.store.start_run(pipeline, _public(self.project))
        executor = LocalExecutor(config.parallelism)

        def execute(task: Task, run_id: str) -> TaskOutcome:
            return self._execute(task, run_id, listener, full_refresh)

        try:
            status = run_dag(dag, execute, executor, self.store, run_id, listener)
        except BaseException as exc:
            executor.shutdown(cancel=True)
            self.store.finish_run(run_id, RunStatus.FAILED, f"run interrupted: {exc!r}")
            raise
        executor.shutdown()
        record = self.store.run(run_id)
        failed = [t for t in record.tasks if t.status == "failed"]
        error = "; ".join(f"{t.task_id}: {t.error}" for t in failed) or None
        self.store.finish_run(run_id, status, error)
        record = self.store.run(run_id)
        if status is RunStatus.FAILED:
            raise RunFailed(
                f"pipeline `{pipeline}` failed: {len(failed)} task(s) failed — {failed[0].task_id}: {failed[0].error}",
                run=record,
                hint="tables published by earlier runs are unchanged; fix the cause and run again",
            )
        return record

    def _execute(
        self, task: Task, run_id: str, listener: RunListener | None, full_refresh: bool = False
    ) -> TaskOutcome:
        props = {"headwater.run-id": run_id, "headwater.task": task.id}
        on_rows = (lambda rows: listener.task_progress(task, rows)) if listener else None
        if isinstance(task.spec, IngestSpec):
            return run_ingest(self, task, task.spec, run_id, props, on_rows, full_refresh)
        assert isinstance(task.spec, ModelSpec)
        before = self.schema_or_none(task.spec.name)
        result = build_model(
            self.lake,
            self.project.root,
            task.spec.model,
            props,
            on_rows,
            self.auditor(task.spec.name, run_id),
        )
        self.record_schema(run_id, task.id, task.spec.name, before)
        return TaskOutcome(rows=result.rows, bytes=result.bytes, snapshot_id=result.snapshot_id)

    def resource(self, source_name: str, table: str) -> Resource:
        """The resource that reads ``table`` of source ``source_name``."""
        source = self.project.config.sources[source_name]
        entry = next(t for t in source.tables if t.name == table)
        if isinstance(source, SqlSource):
            assert isinstance(entry, SourceTable)
            return SqlResource(self.database(source.connection), source, entry)
        connection = self.project.config.connections[source.connection]
        return build_resource(self.project, source, entry, connection)

    def auditor(self, table: str, run_id: str) -> Audit | None:
        """Write–audit–publish for ``table``: its checks, run before its commit (or None)."""
        cfg = self.project.config.quality
        audited = self._audited if self._audited is not None else self._audit_checks()
        checks = audited.get(table)
        if not checks:
            return None
        from headwater.quality.audit import Auditor

        return Auditor(
            self.lake,
            table,
            checks,
            "quarantine" if table in cfg.quarantine else "reject",
            run_id,
            lambda results: self.store.add_check_results(results, run_id),
        )

    def _audit_checks(self) -> dict[str, list[Rule]]:
        """Table → the checks audited before each of its publishes (none when audit is off)."""
        if not self.project.config.quality.audit:
            return {}
        checks: dict[str, list[Rule]] = {}
        for suite in self.suites().values():
            for table, rules in suite.tables.items():
                checks.setdefault(table, []).extend(rules)
        return checks

    def schema_or_none(self, table: str) -> pa.Schema | None:
        return self.lake.arrow_schema(table) if self.lake.exists(table) else None

    def record_schema(
        self, run_id: str, task_id: str, table: str, before: pa.Schema | None
    ) -> None:
        after = self.schema_or_none(table)
        if after is not None:
            changes = schema_changes(before, after)
            self.store.add_schema_changes(
                run_id,
                task_id,
                table,
                [(c.kind, c.column or None, c.old_type, c.new_type) for c in changes],
            )

    # -- reading --------------------------------------------------------------------------

    def query(self, sql: str) -> pa.Table:
        """Run a SELECT over catalog tables and return the whole result."""
        with Session(self.lake) as session:
            return session.query(sql).read_all()

    def tables(self) -> list[TableInfo]:
        return [self.lake.info(name) for name in self.lake.tables()]

    def table(self, name: str) -> TableDetails:
        return TableDetails(
            info=self.lake.info(name),
            schema=self.lake.arrow_schema(name),
            snapshots=self.lake.snapshots(name),
            schema_changes=self.store.schema_changes(name),
            cursor=committed_state(self.lake, name).cursor,
            checks=_latest(self.store.check_history(name, limit=1000)),
        )

    # -- quality ---------------------------------------------------------------------------

    def suites(self) -> dict[str, Suite]:
        """Every check suite: ``checks/<name>.yaml`` files and ``checks:`` in the project file."""
        from headwater.quality.suite import load_suites

        cfg = self.project.config
        return load_suites(self.project.path(cfg.quality.path), cfg.checks, str(self.project.file))

    def check(
        self, target: str | None = None, run_id: str | None = None, samples: int = 5
    ) -> SuiteResult:
        """Evaluate the checks of one suite, one table, or all; results go to the history.

        ``samples`` failing rows are fetched per failed check (a query each; 0 for none)."""
        from headwater.quality.evaluate import evaluate
        from headwater.quality.results import SuiteResult

        plan = self._check_plan(target)
        results: list[CheckResult] = []
        with Session(self.lake) as session:
            for table, checks in plan.items():
                session.map_table(table)

                def resolve(name: str) -> str:
                    session.map_table(name)
                    return ".".join(ident(p) for p in name.split("."))

                def history(table: str, check: str) -> list[float]:
                    rows = self.store.check_history(table, check, limit=100)
                    counts = [_rows_of(r["observed"]) for r in reversed(rows)]
                    return [c for c in counts if c is not None]

                suite = evaluate(
                    session.con, table, resolve(table), checks, resolve, history, samples=samples
                )
                results.extend(suite.results)
        self.store.add_check_results(results, run_id)
        return SuiteResult(tuple(results))

    def profile(self, table: str) -> TableProfile:
        """Column statistics of ``table`` and the checks its data passes (``headwater profile``)."""
        from headwater.quality.profile import profile

        self.lake.table(table)  # an unknown or malformed name fails here, with suggestions
        with Session(self.lake) as session:
            session.map_table(table)
            return profile(session.con, table, ".".join(ident(p) for p in table.split(".")))

    def build_docs(self, out: Path | None = None, evaluate: bool = False) -> Path:
        """Write static HTML data docs (default ``.headwater/docs``); returns index.html.
        ``evaluate`` runs the checks first to show failing rows (recorded like ``check``)."""
        from headwater.quality.docs import build_docs

        return build_docs(
            out or self.project.state_dir / "docs",
            self.project.config.name,
            self.suites(),
            self.store,
            self.lake.tables(),
            self.check if evaluate else None,
        )

    def _check_plan(self, target: str | None) -> dict[str, list[Rule]]:
        suites = self.suites()
        plan: dict[str, list[Rule]] = {}
        chosen = [suites[target]] if target in suites else list(suites.values())
        for suite in chosen:
            for table, checks in suite.tables.items():
                if target is None or target in suites or table == target:
                    plan.setdefault(table, []).extend(checks)
        if not plan:
            tables = sorted({t for s in suites.values() for t in s.tables})
            if target is None:
                raise ProjectError(
                    "the project has no checks",
                    hint=f"write them in {self.project.config.quality.path}/<suite>.yaml, "
                    "e.g. `gold.fact_orders: [{not_null: orderNumber}]`",
                )
            raise ProjectError(
                f"no suite or table with checks named `{target}`"
                f"{did_you_mean(target, list(suites) + tables)}",
                hint=f"suites: {', '.join(suites) or 'none'}; tables with checks: "
                f"{', '.join(tables) or 'none'}",
            )
        return plan

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        return self.store.runs(pipeline, limit)

    def close(self) -> None:
        for db in self._databases.values():
            db.dispose()
        if "store" in self.__dict__:
            self.store.close()


def _latest(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record of each check, in the order the checks were first seen (newest first)."""
    seen: dict[str, dict[str, Any]] = {}
    for record in history:
        seen.setdefault(record["check_name"], record)
    return list(seen.values())


def _rows_of(observed: Any) -> float | None:
    """The row count a volume check observed (a number, or {"rows": n, …})."""
    if isinstance(observed, dict):
        observed = observed.get("rows")
    return float(observed) if isinstance(observed, int | float) else None


def _public(project: Project) -> dict[str, Any]:
    """Variable values safe to record: sensitive ones and URL passwords are masked."""
    import sqlalchemy as sa

    out: dict[str, Any] = {}
    for name, value in project.variables.items():
        spec = project.config.variables.get(name)
        if spec is not None and spec.sensitive:
            out[name] = "***"
        elif isinstance(value, str) and "://" in value:
            try:
                out[name] = sa.make_url(value).render_as_string(hide_password=True)
            except sa.exc.ArgumentError:
                out[name] = value
        else:
            out[name] = value
    return out
