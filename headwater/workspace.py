"""The Workspace: one object over a project that the CLI, the web UI and tests all call."""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError, ProjectError, did_you_mean

# The heavy parts (pyiceberg, SQLAlchemy, DuckDB, the ingest machinery) are imported where they
# are used: `headwater runs`, `logs` or a Python-only pipeline never pay for them.
from headwater.orchestrate.workspace_methods import Pipelines

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.connect.sql import SqlDatabase
    from headwater.ingest.extraction import Resource
    from headwater.lake import Lake, SnapshotInfo, TableInfo
    from headwater.lake.crawl import CrawlOptions, CrawlReport
    from headwater.lake.crawl import Progress as CrawlProgress
    from headwater.lake.maintenance import Maintenance, MaintenanceReport, Progress
    from headwater.lake.writer import Audit
    from headwater.orchestrate.define import PipelineDefinition
    from headwater.project import Project
    from headwater.quality.profile import TableProfile
    from headwater.quality.results import CheckResult, SuiteResult
    from headwater.quality.rules import Rule
    from headwater.quality.suite import Suite
    from headwater.sql import Model, ModelGraph
    from headwater.state import RunRecord, SchemaChangeRecord, Store


@dataclass(frozen=True)
class TableDetails:
    info: TableInfo
    schema: pa.Schema
    snapshots: list[SnapshotInfo]
    schema_changes: list[SchemaChangeRecord] = field(default_factory=list)
    cursor: Any = None  # the cursor committed with the last load
    checks: list[dict[str, Any]] = field(default_factory=list)  # latest result of each check


class Workspace(Pipelines):
    """A loaded project with its lake, metadata store and connections; its pipelines' methods
    (run, plan, trigger, backfill, cancel, logs…) are in :class:`Pipelines`."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._databases: dict[str, SqlDatabase] = {}
        self._audited: dict[str, list[Rule]] | None = None  # a run's audited checks
        self._python_pipelines: dict[str, PipelineDefinition] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, project: str | Path = ".", variables: Mapping[str, Any] | None = None
    ) -> Workspace:
        """Load the project in ``project`` with variable overrides (like ``--var``)."""
        from headwater.project import load_project

        return cls(load_project(project, variables))

    # -- the parts ------------------------------------------------------------------------

    @cached_property
    def lake(self) -> Lake:
        from headwater.errors import LakeError, SourceError
        from headwater.lake import Lake
        from headwater.lake.catalog import warehouse_uri
        from headwater.project.config import FilesConnection

        cfg = self.project.config.lake
        target = cfg.target_file_mb << 20
        location = cfg.warehouse
        # external tables crawled through an S3 files connection are read with its settings
        s3_files = {
            name: spec
            for name, spec in self.project.config.connections.items()
            if isinstance(spec, FilesConnection) and spec.url.startswith("s3://")
        }
        connections = {}
        if s3_files:
            from headwater.connect.storage.s3 import S3Access

            connections = {name: S3Access.resolve(spec.s3) for name, spec in s3_files.items()}
        catalog_url = None
        if cfg.catalog_url:
            from headwater.connect.sql.database import resolve_url

            url = resolve_url(cfg.catalog_url, self.project.root)
            catalog_url = url.render_as_string(hide_password=False)
        if location.startswith("s3://"):
            from headwater.connect.storage.s3 import S3Access, S3Storage

            try:
                access = S3Access.resolve(cfg.s3)
                S3Storage(location, access, "lake.warehouse").check()
            except SourceError as exc:
                raise LakeError(exc.message, hint=exc.hint) from exc
            catalog_url = catalog_url or f"sqlite:///{self.project.state_dir / 'catalog.db'}"
            return Lake(catalog_url, location.rstrip("/"), target, access, connections)
        if location.startswith("file://"):
            location = urllib.parse.urlparse(location).path
        elif "://" in location:
            raise ProjectError(
                f"warehouse `{cfg.warehouse}`: only local folders and s3:// are supported",
                hint="set lake.warehouse to a folder (relative to the project, or absolute) or "
                "to s3://bucket/prefix",
            )
        if catalog_url:
            warehouse = self.project.path(location)
            warehouse.mkdir(parents=True, exist_ok=True)
            return Lake(catalog_url, warehouse_uri(warehouse), target, None, connections)
        return Lake.local(
            self.project.state_dir,
            str(self.project.path(location)),
            target_file_bytes=target,
            s3_connections=connections,
        )

    @property
    def state_url(self) -> str:
        """The metadata store's URL: ``state.url`` (a relative SQLite path is relative to the
        project folder), or ``.headwater/state.db``."""
        if self.project.config.state.url:
            from headwater.connect.sql.database import resolve_url

            url = resolve_url(self.project.config.state.url, self.project.root)
            return url.render_as_string(hide_password=False)
        return f"sqlite:///{self.project.state_dir / 'state.db'}"

    @cached_property
    def store(self) -> Store:
        from headwater.state import Store

        return Store.open(self.state_url)

    def migrate(self) -> tuple[str | None, str]:
        """Upgrade the metadata store's schema; returns (revision before, revision after)."""
        from headwater.state import Store

        store = Store.open(self.state_url, check=False)
        try:
            return store.migrate()
        finally:
            store.close()

    def database(self, connection: str) -> SqlDatabase:
        from headwater.connect.sql import SqlDatabase
        from headwater.project.config import SqlConnection

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
        from headwater.sql import ModelGraph, discover_models

        cfg = self.project.config
        models = discover_models(self.project.path(cfg.models.path), self.project.root)
        crawled = _crawled_namespaces(cfg.pipelines.values())
        known = {f"{s.namespace}.{t.name}" for s in cfg.sources.values() for t in s.tables}
        if _reads_unbuilt_tables(models, known, crawled):
            # only the catalog can say whether such a table exists (it loads pyiceberg)
            known |= set(self.lake.tables()) | set(self.lake.external.names())
        return ModelGraph.build(models, known, self.project.root, crawled)

    def resource(self, source_name: str, table: str) -> Resource:
        """The resource that reads ``table`` of source ``source_name``."""
        from headwater.ingest.resources import build_resource
        from headwater.ingest.sql_source import SqlResource
        from headwater.project.config import SourceTable, SqlSource

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
        cfg = self.project.config
        if not cfg.quality.audit:
            return {}
        if not cfg.checks and not self.project.path(cfg.quality.path).is_dir():
            return {}  # no suite anywhere: the check machinery need not load
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
        from headwater.lake.schema_changes import schema_changes

        after = self.schema_or_none(table)
        if after is not None:
            changes = schema_changes(before, after)
            self.store.add_schema_changes(
                run_id,
                task_id,
                table,
                [(c.kind, c.column or None, c.old_type, c.new_type) for c in changes],
            )

    # -- crawling -------------------------------------------------------------------------

    def crawl(
        self,
        url: str,
        namespace: str,
        options: CrawlOptions | None = None,
        progress: CrawlProgress | None = None,
    ) -> CrawlReport:
        """Find the datasets under a folder or S3 prefix and make each a table of
        ``namespace``: files registered where they lie, or imported into Iceberg tables
        (``options.import_files``), as a Glue crawler does.

        A relative folder is relative to the project. An s3:// URL is reached with the S3
        settings of the files connection whose URL holds it (recorded, so queries use them
        too), else those of an s3:// warehouse, else the AWS_* environment.
        """
        from dataclasses import replace

        from headwater.connect.storage import open_storage
        from headwater.connect.storage.s3 import S3Storage
        from headwater.lake.crawl import CrawlOptions, crawl
        from headwater.project.config import FilesConnection

        options = options or CrawlOptions()
        config, connection = None, None
        if url.startswith("s3://"):
            for name, spec in self.project.config.connections.items():
                base = spec.url.rstrip("/") if isinstance(spec, FilesConnection) else ""
                if base.startswith("s3://") and (url.rstrip("/") + "/").startswith(base + "/"):
                    config, connection = spec.s3, name  # type: ignore[union-attr]
                    break
            else:
                lake = self.project.config.lake
                config = lake.s3 if lake.warehouse.startswith("s3://") else None
        storage = open_storage(url, self.project.root, config, "the crawl URL")
        if isinstance(storage, S3Storage):
            storage.check()
        return crawl(
            self.lake, storage, namespace, replace(options, connection=connection), progress
        )

    # -- reading --------------------------------------------------------------------------

    def query(self, sql: str) -> pa.Table:
        """Run a SELECT over catalog tables and return the whole result."""
        from headwater.sql import Session

        with Session(self.lake) as session:
            return session.query(sql).read_all()

    def tables(self) -> list[TableInfo]:
        return [self.lake.info(name) for name in self.lake.tables()]

    def table(self, name: str) -> TableDetails:
        from headwater.ingest.state import committed_state

        return TableDetails(
            info=self.lake.info(name),
            schema=self.lake.arrow_schema(name),
            snapshots=self.lake.snapshots(name),
            schema_changes=self.store.schema_changes(name),
            cursor=committed_state(self.lake, name).cursor,
            checks=_latest(self.store.check_history(name, limit=1000)),
        )

    def maintain(
        self,
        table: str | None = None,
        options: Maintenance | None = None,
        progress: Progress | None = None,
    ) -> list[MaintenanceReport]:
        """Compact, expire snapshots and remove orphan files: of ``table``, or of every table,
        one at a time (each table's operations commit on their own; see docs/maintenance.md).
        Of every table, one that fails is reported with its error and the others go on."""
        from headwater.lake.maintenance import Maintenance, MaintenanceReport, maintain

        if table is not None:
            self.lake.table_metadata(table)  # an unknown or malformed name fails here, with the fix
            return [maintain(self.lake, table, options or Maintenance(), progress)]
        reports = []
        for name in self.lake.tables():
            try:
                reports.append(maintain(self.lake, name, options or Maintenance(), progress))
            except HeadwaterError as exc:
                reports.append(MaintenanceReport(name, error=str(exc)))
        return reports

    @contextlib.contextmanager
    def query_stream(
        self, sql: str, batch_rows: int = 100_000, sandboxed: bool = False
    ) -> Iterator[pa.RecordBatchReader]:
        """Run a read-only statement; its result streams in batches while the block runs, so
        memory stays bounded whatever its size. ``sandboxed``: DuckDB may open the lake's
        files only (a served query)."""
        from headwater.sql import Session
        from headwater.sql.sandbox import lock_to_lake

        with Session(self.lake) as session:
            if sandboxed:
                lock_to_lake(session.con, self.lake)
            yield session.query(sql, batch_rows)

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
        from headwater.connect.sql.quoting import ident
        from headwater.quality.evaluate import evaluate
        from headwater.quality.results import SuiteResult
        from headwater.sql import Session

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

                current = self.lake.current_metadata(table)
                suite = evaluate(
                    session.con,
                    table,
                    resolve(table),
                    checks,
                    resolve,
                    history,
                    samples=samples,
                    known=current.column_counts() if current else None,
                )
                results.extend(suite.results)
        self.store.add_check_results(results, run_id)
        return SuiteResult(tuple(results))

    def profile(self, table: str) -> TableProfile:
        """Column statistics of ``table`` and the checks its data passes (``headwater profile``)."""
        from headwater.connect.sql.quoting import ident
        from headwater.quality.profile import profile
        from headwater.sql import Session

        self.lake.table_metadata(table)  # an unknown or malformed name fails here, with the fix
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

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        for db in self._databases.values():
            db.dispose()
        if "store" in self.__dict__:
            self.store.close()
        if "lake" in self.__dict__:
            self.lake.close()


def _reads_unbuilt_tables(models: list[Model], produced: set[str], crawled: set[str]) -> bool:
    """Whether a model reads a table that no source (``produced``), model or crawl of the
    project builds: planning a project that builds all it reads never opens the catalog."""
    built = produced | {m.name for m in models}
    return any(
        ref.name not in built and ref.name.split(".")[0] not in crawled
        for model in models
        for ref in model.references
    )


def _crawled_namespaces(pipelines: Iterable[Any]) -> set[str]:
    """Namespaces that crawl steps fill: their tables are known only once the crawl runs."""
    from headwater.project.pipelines import CrawlStep, GroupStep

    found: set[str] = set()
    steps = [step for p in pipelines for step in p.tasks]
    while steps:
        step = steps.pop()
        if isinstance(step, GroupStep):
            steps.extend(step.tasks)
        elif isinstance(step, CrawlStep):
            found.add(step.namespace)
    return found


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


def public_variables(project: Project) -> dict[str, Any]:
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
