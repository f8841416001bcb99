"""The metadata store: runs and task runs in SQLite (default) or PostgreSQL, via SQLAlchemy Core.

The schema is versioned with Alembic. A new, empty store is created at the latest revision; an
existing store at another revision is refused with the command that fixes it.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from headwater.errors import MigrationRequired, StateError
from headwater.state import schema
from headwater.state.consumers import ConsumerState
from headwater.state.orchestration import OrchestrationState
from headwater.state.records import (
    RunRecord,
    RunStatus,
    SchemaChangeRecord,
    TaskRunRecord,
    TaskStatus,
)
from headwater.state.revision import HEAD

MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    return HEAD


def now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite drops the zone; every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def create_engine(url: str) -> sa.Engine:
    """An engine for the store; SQLite gets WAL and a busy timeout for concurrent task threads."""
    from headwater.connect.sql.engines import fork_safe

    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return fork_safe(sa.create_engine(parsed, pool_pre_ping=True))
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return fork_safe(engine)


class Store(OrchestrationState, ConsumerState):
    """Reads and writes runs and task runs. Thread-safe for one process."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._write = threading.Lock()

    @classmethod
    def open(cls, url: str, *, check: bool = True) -> Store:
        """Open the store at ``url``; create it if empty; refuse a store at another revision."""
        store = cls(create_engine(url))
        try:
            current = store.revision()
            # no version and none of our tables: a new store, even in a database shared with
            # other tables (the Iceberg catalog's, say)
            if current is None and "runs" not in sa.inspect(store.engine).get_table_names():
                store.create()
            elif check:
                store.check_revision(current)
        except sa.exc.OperationalError as exc:
            raise StateError(
                f"cannot open the metadata store at {sa.make_url(url).render_as_string()}: {exc.orig}",
                hint="check the `state.url` setting of the project and that the database is reachable",
            ) from exc
        return store

    def create(self) -> None:
        """Create a new store's tables at the latest revision, as the migrations would (a test
        compares the two), without importing Alembic: a new project's first command is fast."""
        version = sa.Table(
            "alembic_version",
            sa.MetaData(),
            sa.Column("version_num", sa.String(32), primary_key=True),
        )
        with self._write, self.engine.begin() as conn:
            schema.metadata.create_all(conn)
            version.create(conn)
            conn.execute(version.insert().values(version_num=HEAD))

    def revision(self) -> str | None:
        """The store's schema revision (Alembic's version table, read without Alembic)."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    def check_revision(self, current: str | None) -> None:
        head = head_revision()
        if current == head:
            return
        from alembic.script import ScriptDirectory

        known = {
            s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
        }
        where = self.engine.url.render_as_string()
        if current in known or current is None:
            raise MigrationRequired(
                f"the metadata store at {where} is at revision {current or 'none'}, "
                f"this Headwater needs {head}",
                hint="run `headwater migrate` to upgrade it (back it up first if it is shared)",
            )
        raise MigrationRequired(
            f"the metadata store at {where} is at revision {current}, written by a newer Headwater",
            hint="upgrade Headwater, or point `state.url` at another store",
        )

    def migrate(self) -> tuple[str | None, str]:
        """Upgrade the schema to the latest revision; returns (from, to)."""
        from alembic import command

        before = self.revision()
        config = _alembic_config()
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return before, head_revision()

    # -- runs ------------------------------------------------------------------------------

    def start_run(
        self,
        pipeline: str,
        variables: Mapping[str, Any] | None = None,
        *,
        status: RunStatus = RunStatus.RUNNING,
        trigger: str = "manual",
        logical_date: datetime | None = None,
        interval: tuple[datetime, datetime] | None = None,
        conf: Mapping[str, Any] | None = None,
        schedule_key: str | None = None,
        owner: str | None = None,
        deadline: datetime | None = None,
    ) -> str | None:
        """Record a new run (running, or queued for a scheduler); its id.

        With a ``schedule_key`` (the logical date of a scheduled or backfilled run) the run is
        created at most once per pipeline: None when it exists already."""
        run_id = str(uuid.uuid4())
        try:
            with self._write, self.engine.begin() as conn:
                conn.execute(
                    schema.runs.insert().values(
                        run_id=run_id,
                        pipeline=pipeline,
                        status=status,
                        started_at=now(),
                        variables=dict(variables or {}),
                        trigger=trigger,
                        logical_date=logical_date,
                        interval_start=interval[0] if interval else None,
                        interval_end=interval[1] if interval else None,
                        conf=dict(conf) if conf else None,
                        schedule_key=schedule_key,
                        owner=owner,
                        deadline=deadline,
                    )
                )
        except sa.exc.IntegrityError:
            if schedule_key is None:
                raise
            return None
        return run_id

    def reopen_run(self, run_id: str) -> None:
        """A finished run runs again (``headwater run --resume``): its failed tasks retry."""
        with self._write, self.engine.begin() as conn:
            conn.execute(
                schema.runs.update()
                .where(schema.runs.c.run_id == run_id)
                .values(status=RunStatus.RUNNING, ended_at=None, error=None, cancel_requested=False)
            )

    def finish_run(self, run_id: str, status: RunStatus, error: str | None = None) -> None:
        with self._write, self.engine.begin() as conn:
            conn.execute(
                schema.runs.update()
                .where(schema.runs.c.run_id == run_id)
                .values(status=status, ended_at=now(), error=error)
            )

    def add_tasks(self, run_id: str, tasks: Mapping[str, tuple[str, str | None]]) -> None:
        """Register every task of a run as pending: task id → (kind, target table). Tasks the
        run already has (a resumed run) are kept as they are."""
        with self.engine.connect() as conn:
            known = set(
                conn.execute(
                    sa.select(schema.task_runs.c.task_id).where(schema.task_runs.c.run_id == run_id)
                ).scalars()
            )
        rows = [
            {
                "run_id": run_id,
                "task_id": t,
                "kind": k,
                "target": target,
                "status": TaskStatus.PENDING,
            }
            for t, (k, target) in tasks.items()
            if t not in known
        ]
        if rows:
            with self._write, self.engine.begin() as conn:
                conn.execute(schema.task_runs.insert(), rows)

    def update_tasks(self, run_id: str, updates: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Apply several task-run changes, in order, in one transaction.

        Statements are built once per set of columns and run as executemany batches: the
        runner records every state change of every task, so this is its per-task cost."""
        batches: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []
        for task_id, values in updates:
            columns = tuple(sorted(values))
            row = {f"v_{k}": v for k, v in values.items()}
            row["k_run"], row["k_task"] = run_id, task_id
            if batches and batches[-1][0] == columns:
                batches[-1][1].append(row)
            else:
                batches.append((columns, [row]))
        with self._write, self.engine.begin() as conn:
            for columns, rows in batches:
                conn.execute(_task_update(columns), rows)

    def update_task(self, run_id: str, task_id: str, **values: Any) -> None:
        with self._write, self.engine.begin() as conn:
            conn.execute(
                schema.task_runs.update()
                .where(schema.task_runs.c.run_id == run_id, schema.task_runs.c.task_id == task_id)
                .values(**values)
            )

    def add_schema_changes(
        self,
        run_id: str,
        task_id: str,
        table: str,
        changes: Sequence[tuple[str, str | None, str | None, str | None]],
    ) -> None:
        """Record (kind, column, old type, new type) changes a task made to ``table``."""
        if not changes:
            return
        at = now()
        rows = [
            {
                "run_id": run_id,
                "task_id": task_id,
                "table_name": table,
                "kind": kind,
                "column_name": column,
                "old_type": old,
                "new_type": new,
                "changed_at": at,
            }
            for kind, column, old, new in changes
        ]
        with self._write, self.engine.begin() as conn:
            conn.execute(schema.schema_changes.insert(), rows)

    def schema_changes(self, table: str) -> list[SchemaChangeRecord]:
        """Every recorded schema change of ``table``, oldest first."""
        t = schema.schema_changes
        with self.engine.connect() as conn:
            rows = conn.execute(t.select().where(t.c.table_name == table).order_by(t.c.id)).all()
        return [
            SchemaChangeRecord(
                run_id=r.run_id,
                task_id=r.task_id,
                table=r.table_name,
                kind=r.kind,
                column=r.column_name,
                old_type=r.old_type,
                new_type=r.new_type,
                changed_at=_utc(r.changed_at) or now(),
            )
            for r in rows
        ]

    def add_check_results(self, results: Sequence[Any], run_id: str | None = None) -> None:
        """Record check results (:class:`headwater.quality.results.CheckResult`)."""
        if not results:
            return
        at = now()
        rows = [
            {
                "run_id": run_id,
                "table_name": c.table,
                "check_name": c.check,
                "kind": c.kind,
                "severity": c.severity,
                "passed": c.passed,
                "evaluated": c.evaluated,
                "failing": c.failing,
                "observed": c.observed,
                "error": c.error,
                "evaluated_at": at,
            }
            for c in results
        ]
        try:
            with self._write, self.engine.begin() as conn:
                conn.execute(schema.check_results.insert(), rows)
        except sa.exc.SQLAlchemyError as exc:
            raise StateError(
                f"the checks ran, but their {len(rows)} result(s) could not be recorded in the "
                f"metadata store at {self.engine.url.render_as_string()}: {_reason(exc)}",
                hint="free disk space or stop the process holding the store, then run the "
                "checks again",
            ) from exc

    def failed_checks_of_run(self, run_id: str) -> list[dict[str, Any]]:
        """The checks that failed during run ``run_id`` (warnings included), in order."""
        t = schema.check_results
        query = t.select().where(t.c.run_id == run_id, t.c.passed.is_(False)).order_by(t.c.id)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings().all()]

    def check_history(
        self, table: str | None = None, check: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Recorded check results, newest first (all tables, one table, or one check)."""
        t = schema.check_results
        query = t.select().order_by(t.c.id.desc()).limit(limit)
        if table is not None:
            query = query.where(t.c.table_name == table)
        if check is not None:
            query = query.where(t.c.check_name == check)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).mappings().all()
        except sa.exc.SQLAlchemyError as exc:
            raise StateError(
                f"cannot read check results from the metadata store at {self.engine.url.render_as_string()}: "
                f"{_reason(exc)}",
                hint="check that the store's file or server is reachable and not damaged",
            ) from exc
        return [{**row, "evaluated_at": _utc(row["evaluated_at"])} for row in rows]

    def run(self, run_id: str) -> RunRecord:
        with self.engine.connect() as conn:
            row = conn.execute(schema.runs.select().where(schema.runs.c.run_id == run_id)).first()
            if row is None:
                raise StateError(f"no run {run_id}", hint="list runs with `headwater runs`")
            tasks = conn.execute(
                schema.task_runs.select()
                .where(schema.task_runs.c.run_id == run_id)
                .order_by(schema.task_runs.c.started_at, schema.task_runs.c.task_id)
            ).all()
        return _run_record(row, tasks)

    def run_ids(self, prefix: str) -> list[str]:
        """Ids of the runs whose id starts with ``prefix`` (at most a few)."""
        runs = schema.runs
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(runs.c.run_id).where(runs.c.run_id.startswith(prefix)).limit(5)
                ).scalars()
            )

    def runs(self, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The newest runs, first those of a process that died marked failed (abandoned)."""
        self.abandon_dead_runs()
        query = schema.runs.select().order_by(schema.runs.c.started_at.desc()).limit(limit)
        if pipeline:
            query = query.where(schema.runs.c.pipeline == pipeline)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            ids = [r.run_id for r in rows]
            tasks = conn.execute(
                schema.task_runs.select().where(schema.task_runs.c.run_id.in_(ids))
            ).all()
        by_run: dict[str, list[Any]] = {}
        for t in tasks:
            by_run.setdefault(t.run_id, []).append(t)
        return [_run_record(r, by_run.get(r.run_id, [])) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


@functools.lru_cache(maxsize=64)
def _task_update(columns: tuple[str, ...]) -> sa.Update:
    t = schema.task_runs
    return (
        t.update()
        .where(t.c.run_id == sa.bindparam("k_run"), t.c.task_id == sa.bindparam("k_task"))
        .values({c: sa.bindparam(f"v_{c}", type_=t.c[c].type) for c in columns})
    )


def _run_record(row: Any, tasks: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        pipeline=row.pipeline,
        status=RunStatus(row.status),
        started_at=_utc(row.started_at) or now(),
        ended_at=_utc(row.ended_at),
        error=row.error,
        variables=row.variables,
        logical_date=_utc(row.logical_date),
        interval_start=_utc(row.interval_start),
        interval_end=_utc(row.interval_end),
        trigger=row.trigger,
        conf=row.conf,
        owner=row.owner,
        cancel_requested=bool(row.cancel_requested),
        deadline=_utc(row.deadline),
        sla_missed=bool(row.sla_missed),
        tasks=tuple(
            TaskRunRecord(
                run_id=t.run_id,
                task_id=t.task_id,
                kind=t.kind,
                status=TaskStatus(t.status),
                started_at=_utc(t.started_at),
                ended_at=_utc(t.ended_at),
                target=t.target,
                rows=t.rows,
                bytes=t.bytes,
                snapshot_id=t.snapshot_id,
                error=t.error,
                details=t.details,
                attempts=t.attempts or 0,
                value=t.value,
            )
            for t in tasks
        ),
    )


def _reason(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's statement and parameters."""
    original = getattr(exc, "orig", None)
    return str(original or exc).splitlines()[0]
