"""The Workspace: a loaded project with its lake, metadata store and connections."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The heavy parts (pyiceberg, SQLAlchemy, DuckDB, the ingest machinery) are imported where they
# are used: `headwater runs`, `logs` or a Python-only pipeline never pay for them.
from headwater.workspace.captures import Captures
from headwater.workspace.pipelines import Pipelines
from headwater.workspace.processors import Processors

if TYPE_CHECKING:
    import pyarrow as pa

    from headwater.connect.sql import SqlDatabase
    from headwater.ingest.extraction import Resource
    from headwater.lake import Lake, SnapshotInfo, TableInfo
    from headwater.lake.crawl import CrawlOptions, CrawlReport
    from headwater.lake.crawl import Progress as CrawlProgress
    from headwater.lake.maintenance import Maintenance, MaintenanceReport, Progress
    from headwater.lake.relocate import Relocated
    from headwater.lake.writer import Audit
    from headwater.project import Project
    from headwater.quality.profile import TableProfile
    from headwater.quality.results import SuiteResult
    from headwater.quality.suite import Suite
    from headwater.sql import ModelGraph, Session
    from headwater.state import RunRecord, SchemaChangeRecord, Store
    from headwater.streams.delivery import DeliveryReport
    from headwater.streams.delivery_lag import Lag, Rate
    from headwater.streams.hub import Streams
    from headwater.streams.mqtt_feed import FeedReport
    from headwater.streams.mqtt_feed import Progress as FeedProgress


@dataclass(frozen=True)
class TableDetails:
    info: TableInfo
    schema: pa.Schema
    snapshots: list[SnapshotInfo]
    schema_changes: list[SchemaChangeRecord] = field(default_factory=list)
    cursor: Any = None  # the cursor committed with the last load
    checks: list[dict[str, Any]] = field(default_factory=list)  # latest result of each check


class Workspace(Pipelines, Processors, Captures):
    """A loaded project with its lake, metadata store and connections; its pipelines' methods
    (run, plan, trigger, backfill, cancel, logs…) are in :class:`Pipelines`, its stream
    processors' in :class:`Processors`."""

    def __init__(self, project: Project) -> None:
        from headwater.connect.sql.databases import Databases

        self.project = project
        self.databases = Databases(project)

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
        from headwater.lake.project_lake import open_lake

        return open_lake(self.project)

    @property
    def state_url(self) -> str:
        """The metadata store's URL (``state.url``, or ``.headwater/state.db``)."""
        from headwater.state.location import store_url

        return store_url(self.project)

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
        """The SQL database of connection ``connection`` (opened once)."""
        return self.databases.get(connection)

    def models(self) -> ModelGraph:
        """Every model of the project, checked against the tables the project can produce."""
        from headwater.sql.project_models import project_models

        return project_models(self.project, lambda: self.lake)

    def resource(self, source_name: str, table: str) -> Resource:
        """The resource that reads ``table`` of source ``source_name``."""
        from headwater.ingest.resources import resource_for

        return resource_for(self.project, self.databases, source_name, table)

    def auditor(self, table: str, run_id: str) -> Audit | None:
        """Write–audit–publish for ``table``: its checks, run before its commit (or None)."""
        from headwater.quality.project_checks import audit_checks, auditor_for

        audited = audit_checks(self.project)
        return auditor_for(self.project, self.lake, self.store, audited, table, run_id)

    # -- crawling -------------------------------------------------------------------------

    def crawl(
        self,
        url: str,
        namespace: str,
        options: CrawlOptions | None = None,
        progress: CrawlProgress | None = None,
    ) -> CrawlReport:
        """Find the datasets under a folder or S3 prefix and make each a table of
        ``namespace`` (see :func:`headwater.lake.crawl.crawl_url`)."""
        from headwater.lake.crawl import crawl_url

        return crawl_url(self.project, self.lake, url, namespace, options, progress)

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
        one at a time (see docs/maintenance.md). Of every table, one that fails is reported
        with its error and the others go on."""
        from headwater.lake.maintenance import maintain_tables

        return maintain_tables(self.lake, table, options, progress)

    def relocate(self, on_table: Callable[[str], None] | None = None) -> list[Relocated]:
        """Register the tables of a copied or moved project on the copies of their files in
        its own warehouse, so that it reads and writes nothing outside its folder (see
        docs/maintenance.md); ``on_table`` is told each table as it starts."""
        from headwater.lake.relocate import relocate

        if self.lake.elsewhere():
            _check_own_catalog(self.project, self.lake.catalog_url)
        return relocate(self.lake, on_table)

    @contextlib.contextmanager
    def query_stream(
        self, sql: str, batch_rows: int = 100_000, sandboxed: bool = False
    ) -> Iterator[pa.RecordBatchReader]:
        """Run a read-only statement; its result streams in batches while the block runs, so
        memory stays bounded whatever its size. ``sandboxed``: DuckDB may open the lake's
        files only (a served query)."""
        with self.query_session(sandboxed) as session:
            yield session.query(sql, batch_rows)

    @contextlib.contextmanager
    def query_session(self, sandboxed: bool = False) -> Iterator[Session]:
        """A DuckDB session over the lake's tables for read-only statements (see
        :meth:`query_stream`); ``sandboxed``: it may open the lake's files only."""
        from headwater.sql import Session
        from headwater.sql.sandbox import lock_to_lake

        with Session(self.lake) as session:
            if sandboxed:
                lock_to_lake(session.con, self.lake)
                session.sandboxed = True
            yield session

    # -- quality ---------------------------------------------------------------------------

    def suites(self) -> dict[str, Suite]:
        """Every check suite: ``checks/<name>.yaml`` files and ``checks:`` in the project file."""
        from headwater.quality.project_checks import project_suites

        return project_suites(self.project)

    def check(
        self, target: str | None = None, run_id: str | None = None, samples: int = 5
    ) -> SuiteResult:
        """Evaluate the checks of one suite, one table, or all; results go to the history.

        ``samples`` failing rows are fetched per failed check (0 for none)."""
        from headwater.quality.project_checks import run_checks

        return run_checks(self.project, self.lake, self.store, target, run_id, samples)

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

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        return self.store.runs(pipeline, limit)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @cached_property
    def streams(self) -> Streams:
        """The project's streams: create, put, read, describe (see docs/streams.md)."""
        from headwater.streams.hub import Streams

        return Streams(self.project)

    def run_delivery(
        self,
        name: str,
        *,
        once: bool = True,
        stop: threading.Event | None = None,
        on_progress: Callable[[DeliveryReport], None] | None = None,
        lease_seconds: float | None = None,
    ) -> DeliveryReport:
        """Run one worker of delivery ``name``: until every shard it holds is caught up
        (``once``), or until ``stop`` is set; what is buffered is flushed either way."""
        from headwater.streams.delivery import DeliveryWorker

        worker = DeliveryWorker(
            self.project,
            self.streams,
            self.lake,
            self.store,
            name,
            lease_seconds=lease_seconds,
        )
        return worker.run(once=once, stop=stop, on_progress=on_progress)

    def run_deliveries(
        self,
        names: Sequence[str] = (),
        *,
        once: bool = False,
        stop: threading.Event | None = None,
        progress: Callable[[list[DeliveryReport]], None] | None = None,
    ) -> list[DeliveryReport]:
        """Run deliveries side by side (every declared one when ``names`` is empty), each
        until caught up (``once``) or until ``stop`` is set; the first failure stops them all
        (each flushing and committing what it holds) and is raised."""
        from headwater.errors import StreamError, did_you_mean
        from headwater.streams.delivery_run import run_deliveries

        declared = self.project.config.deliveries
        chosen = list(names) or list(declared)
        if not chosen:
            raise StreamError(
                f"no deliveries in {self.project.file.name}",
                hint="declare one under `deliveries:` (a stream and a table or files)",
            )
        for name in chosen:
            if name not in declared:
                raise StreamError(
                    f"no delivery `{name}` in {self.project.file.name}"
                    f"{did_you_mean(name, declared)}",
                    hint=f"the deliveries are: {', '.join(sorted(declared))}",
                )
        return run_deliveries(
            chosen,
            lambda name, stopped, seen: self.run_delivery(
                name, once=once, stop=stopped, on_progress=seen
            ),
            stop=stop,
            progress=progress,
        )

    def stream_lag(self, consumer: str | None = None) -> list[Lag]:
        """How far each delivery and processor is behind, per stream and shard."""
        from headwater.streams.delivery_lag import stream_lag

        return stream_lag(self.streams, self.store, consumer)

    def stream_rates(self, seconds: float = 5.0, consumer: str | None = None) -> list[Rate]:
        """Records per second put into each shard and finished by each consumer, measured
        over ``seconds`` (this call waits that long)."""
        import time

        from headwater.streams.delivery_lag import rates, shard_counts

        before = self.stream_lag(consumer)
        names = {r.stream for r in before}
        counts = shard_counts(self.streams, names)
        started = time.monotonic()
        time.sleep(seconds)
        after = self.stream_lag(consumer)
        elapsed = time.monotonic() - started
        later = shard_counts(self.streams, names | {r.stream for r in after})
        return rates(before, after, counts, later, elapsed)

    def run_feed(
        self,
        name: str,
        *,
        seconds: float | None = None,
        max_messages: int | None = None,
        stop: threading.Event | None = None,
        progress: FeedProgress | None = None,
    ) -> FeedReport:
        """Run the MQTT feed ``name`` (under ``feeds:``) into its stream until ``stop`` is set,
        ``seconds`` have passed or ``max_messages`` were put (see docs/streams.md)."""
        return self.run_feeds(
            [name], seconds=seconds, max_messages=max_messages, stop=stop, progress=progress
        )[0]

    def run_feeds(
        self,
        names: Sequence[str] = (),
        *,
        seconds: float | None = None,
        max_messages: int | None = None,
        stop: threading.Event | None = None,
        progress: FeedProgress | None = None,
    ) -> list[FeedReport]:
        """Run feeds side by side (every declared one when ``names`` is empty), each with
        the limits of :meth:`run_feed`."""
        from headwater.errors import ProjectError
        from headwater.streams.mqtt_feed import run_feeds

        chosen = list(names) or sorted(self.project.config.feeds)
        if not chosen:
            raise ProjectError(
                f"no feeds in {self.project.file.name}",
                hint="declare one under `feeds:` (an mqtt connection's topics into a stream)",
            )
        return run_feeds(self.streams, chosen, stop, seconds, max_messages, progress)

    def close(self) -> None:
        if "streams" in self.__dict__:
            self.streams.close()
        self.databases.dispose()
        if "store" in self.__dict__:
            self.store.close()
        if "lake" in self.__dict__:
            self.lake.close()


def _latest(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record of each check, in the order the checks were first seen (newest first)."""
    seen: dict[str, dict[str, Any]] = {}
    for record in history:
        seen.setdefault(record["check_name"], record)
    return list(seen.values())


def _check_own_catalog(project: Project, catalog_url: str) -> None:
    """Relocation moves the catalog's tables: only a catalog that came with the project's
    folder is its own (one other projects use would lose their tables to this folder)."""
    from headwater.errors import LakeError
    from headwater.lake.metadata import catalog_file

    path = catalog_file(catalog_url)
    root = project.root.resolve()
    if path is not None and path.resolve().is_relative_to(root):
        return
    if path is None:
        import sqlalchemy as sa

        shown = sa.engine.make_url(catalog_url).render_as_string(hide_password=True)
    else:
        shown = str(path)
    raise LakeError(
        f"the catalog {shown} is not in this project's folder {root}: `headwater relocate` "
        "would move its tables away from every other project that uses it; nothing was changed",
        hint="give this project its own catalog (leave lake.catalog_url out for "
        ".headwater/catalog.db), or set lake.warehouse to the folder the tables live in",
    )
