"""What the orchestrator keeps in the metadata store: queued and claimed runs, paused pipelines,
scheduler heartbeats, trigger state and alert events.

Two schedulers can share one store: a scheduled run is created at most once (a unique key on the
pipeline and its logical date) and started at most once (a compare-and-set on its status, which
takes the row's lock on PostgreSQL).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from headwater.state import schema
from headwater.state.records import EventRecord, RunStatus, TaskStatus


def _now() -> datetime:
    from headwater.state.store import now

    return now()


class OrchestrationState:
    """Mixed into :class:`headwater.state.Store`."""

    engine: sa.Engine
    _write: threading.Lock

    # -- runs waiting and claimed ----------------------------------------------------------

    def claim_run(self, run_id: str, owner: str) -> bool:
        """Start a queued run as ``owner``; False when another process claimed it first."""
        runs = schema.runs
        with self._write, self.engine.begin() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id, runs.c.status == RunStatus.QUEUED)
                .values(status=RunStatus.RUNNING, owner=owner, started_at=_now())
            )
        return result.rowcount == 1

    def queued_runs(self, limit: int = 100) -> list[tuple[str, str]]:
        """(run id, pipeline) of queued runs, oldest first."""
        runs = schema.runs
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.run_id, runs.c.pipeline)
                .where(runs.c.status == RunStatus.QUEUED)
                .order_by(runs.c.started_at)
                .limit(limit)
            ).all()
        return [(r.run_id, r.pipeline) for r in rows]

    def active_runs(self, pipeline: str) -> int:
        runs = schema.runs
        with self.engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(runs)
                .where(runs.c.pipeline == pipeline, runs.c.status == RunStatus.RUNNING)
            ).scalar()
        return int(count or 0)

    def schedule_keys(self, pipeline: str) -> set[str]:
        """The logical dates (as keys) that already have a scheduled or backfilled run."""
        runs = schema.runs
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.schedule_key).where(
                    runs.c.pipeline == pipeline, runs.c.schedule_key.is_not(None)
                )
            ).scalars()
            return set(rows)

    def dated_runs(
        self, pipeline: str, first: datetime, last: datetime
    ) -> list[tuple[datetime, RunStatus, str | None]]:
        """(logical date, status, schedule key) of the pipeline's runs dated in [first, last],
        whatever started them: the scheduler, a backfill, ``headwater run --date``."""
        runs = schema.runs
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.logical_date, runs.c.status, runs.c.schedule_key).where(
                    runs.c.pipeline == pipeline,
                    runs.c.logical_date >= first,
                    runs.c.logical_date <= last,
                )
            ).all()
        return [
            (
                r.logical_date if r.logical_date.tzinfo else r.logical_date.replace(tzinfo=UTC),
                RunStatus(r.status),
                r.schedule_key,
            )
            for r in rows
        ]

    def scheduled_before(self, pipeline: str, logical_date: datetime) -> bool:
        """Whether the scheduler has created a run of ``pipeline`` for an earlier date."""
        runs = schema.runs
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(runs.c.run_id)
                .where(
                    runs.c.pipeline == pipeline,
                    runs.c.trigger == "schedule",
                    runs.c.logical_date < logical_date,
                )
                .limit(1)
            ).first()
        return found is not None

    def request_cancel(self, run_id: str) -> bool:
        """Ask the run's owner to stop it; a queued run is cancelled at once. False if the run
        has already finished."""
        runs = schema.runs
        with self._write, self.engine.begin() as conn:
            status = conn.execute(sa.select(runs.c.status).where(runs.c.run_id == run_id)).scalar()
            if status is None or RunStatus(status).finished:
                return False
            values: dict[str, Any] = {"cancel_requested": True}
            if status == RunStatus.QUEUED:
                values.update(status=RunStatus.CANCELLED, ended_at=_now(), error="cancelled")
            conn.execute(runs.update().where(runs.c.run_id == run_id).values(**values))
        return True

    def cancel_requested(self, run_id: str) -> bool:
        runs = schema.runs
        with self.engine.connect() as conn:
            return bool(
                conn.execute(
                    sa.select(runs.c.cancel_requested).where(runs.c.run_id == run_id)
                ).scalar()
            )

    def mark_sla_missed(self, run_id: str) -> bool:
        """Flag the run; True only for the first caller (the alert is raised once)."""
        runs = schema.runs
        with self._write, self.engine.begin() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id, runs.c.sla_missed.is_(False))
                .values(sla_missed=True)
            )
        return result.rowcount == 1

    def overdue_runs(self, at: datetime) -> list[tuple[str, str, datetime]]:
        """(run id, pipeline, deadline) of unfinished runs past their deadline, not yet flagged."""
        runs = schema.runs
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.run_id, runs.c.pipeline, runs.c.deadline).where(
                    runs.c.deadline.is_not(None),
                    runs.c.deadline < at,
                    runs.c.sla_missed.is_(False),
                    runs.c.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
                )
            ).all()
        return [(r.run_id, r.pipeline, r.deadline) for r in rows]

    # -- paused pipelines -----------------------------------------------------------------

    def set_paused(self, pipeline: str, paused: bool) -> None:
        table = schema.pipeline_state
        with self._write, self.engine.begin() as conn:
            updated = conn.execute(
                table.update()
                .where(table.c.pipeline == pipeline)
                .values(paused=paused, updated_at=_now())
            )
            if updated.rowcount == 0:
                conn.execute(
                    table.insert().values(pipeline=pipeline, paused=paused, updated_at=_now())
                )

    def paused(self) -> set[str]:
        table = schema.pipeline_state
        with self.engine.connect() as conn:
            return set(
                conn.execute(sa.select(table.c.pipeline).where(table.c.paused.is_(True))).scalars()
            )

    # -- schedulers and the runs they left behind -----------------------------------------

    def heartbeat(self, scheduler_id: str, host: str, pid: int) -> None:
        table = schema.schedulers
        at = _now()
        with self._write, self.engine.begin() as conn:
            updated = conn.execute(
                table.update().where(table.c.scheduler_id == scheduler_id).values(heartbeat_at=at)
            )
            if updated.rowcount == 0:
                conn.execute(
                    table.insert().values(
                        scheduler_id=scheduler_id,
                        host=host,
                        pid=pid,
                        started_at=at,
                        heartbeat_at=at,
                    )
                )

    def schedulers_alive(self, within: timedelta = timedelta(seconds=30)) -> int:
        """How many schedulers beat their heartbeat in the last ``within``."""
        table = schema.schedulers
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(table.c.heartbeat_at >= _now() - within)
            return int(conn.execute(query).scalar_one())

    def retire(self, scheduler_id: str) -> None:
        table = schema.schedulers
        with self._write, self.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.scheduler_id == scheduler_id))

    def orphaned_runs(self, stale_after: timedelta) -> list[str]:
        """Running runs whose owner stopped beating (or never registered as a scheduler)."""
        runs, sched = schema.runs, schema.schedulers
        cutoff = _now() - stale_after
        alive = sa.select(sched.c.scheduler_id).where(sched.c.heartbeat_at >= cutoff)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(runs.c.run_id).where(
                    runs.c.status == RunStatus.RUNNING,
                    runs.c.owner.is_not(None),
                    runs.c.owner.like("scheduler:%"),
                    runs.c.owner.not_in(alive),
                )
            ).scalars()
            return list(rows)

    def abandon_dead_runs(self) -> list[str]:
        """Mark failed the running runs of a process of this machine that no longer exists
        (killed with SIGKILL, or by the out-of-memory killer); returns their ids."""
        import socket

        from headwater.tempdirs import alive

        runs, tasks = schema.runs, schema.task_runs
        prefix = f"process:{socket.gethostname()}:"
        with self.engine.connect() as conn:
            owned = conn.execute(
                sa.select(runs.c.run_id, runs.c.owner).where(
                    runs.c.status == RunStatus.RUNNING, runs.c.owner.like(f"{prefix}%")
                )
            ).all()
        dead = [
            (row.run_id, pid)
            for row in owned
            if (pid := row.owner.removeprefix(prefix)).isdigit() and not alive(int(pid))
        ]
        for run_id, pid in dead:
            why = f"abandoned: the process that ran it (pid {pid}) ended without finishing it"
            with self._write, self.engine.begin() as conn:
                conn.execute(
                    runs.update()
                    .where(runs.c.run_id == run_id, runs.c.status == RunStatus.RUNNING)
                    .values(status=RunStatus.FAILED, ended_at=_now(), error=why)
                )
                conn.execute(
                    tasks.update()
                    .where(
                        tasks.c.run_id == run_id,
                        tasks.c.status.in_([TaskStatus.RUNNING, TaskStatus.UP_FOR_RETRY]),
                    )
                    .values(status=TaskStatus.FAILED, ended_at=_now(), error=why)
                )
                conn.execute(
                    tasks.update()
                    .where(tasks.c.run_id == run_id, tasks.c.status == TaskStatus.PENDING)
                    .values(status=TaskStatus.CANCELLED, error=f"not run: {why}")
                )
        return [run_id for run_id, _ in dead]

    def requeue_orphan(self, run_id: str, owner: str) -> bool:
        """Take over an orphaned run: its unfinished task runs are reset for the resume, and the
        run is queued again. False when another scheduler took it first."""
        runs, tasks = schema.runs, schema.task_runs
        with self._write, self.engine.begin() as conn:
            result = conn.execute(
                runs.update()
                .where(
                    runs.c.run_id == run_id,
                    runs.c.status == RunStatus.RUNNING,
                    runs.c.owner != owner,
                )
                .values(status=RunStatus.QUEUED, owner=None)
            )
            if result.rowcount != 1:
                return False
            conn.execute(
                tasks.update()
                .where(
                    tasks.c.run_id == run_id,
                    tasks.c.status.in_([TaskStatus.RUNNING, TaskStatus.UP_FOR_RETRY]),
                )
                .values(
                    status=TaskStatus.FAILED,
                    ended_at=_now(),
                    error="its scheduler stopped while it ran (orphaned)",
                )
            )
        return True

    # -- trigger state ----------------------------------------------------------------------

    def trigger_value(self, pipeline: str, key: str) -> Any:
        table = schema.trigger_state
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(table.c.value).where(
                    table.c.pipeline == pipeline, table.c.trigger_key == key
                )
            ).scalar()

    def set_trigger_value(self, pipeline: str, key: str, value: Any) -> None:
        table = schema.trigger_state
        with self._write, self.engine.begin() as conn:
            updated = conn.execute(
                table.update()
                .where(table.c.pipeline == pipeline, table.c.trigger_key == key)
                .values(value=value, updated_at=_now())
            )
            if updated.rowcount == 0:
                conn.execute(
                    table.insert().values(
                        pipeline=pipeline, trigger_key=key, value=value, updated_at=_now()
                    )
                )

    # -- events -----------------------------------------------------------------------------

    def add_event(
        self,
        kind: str,
        message: str,
        pipeline: str | None = None,
        run_id: str | None = None,
        task_id: str | None = None,
    ) -> None:
        with self._write, self.engine.begin() as conn:
            conn.execute(
                schema.events.insert().values(
                    at=_now(),
                    kind=kind,
                    pipeline=pipeline,
                    run_id=run_id,
                    task_id=task_id,
                    message=message,
                )
            )

    def events(
        self, kind: str | None = None, pipeline: str | None = None, limit: int = 100
    ) -> list[EventRecord]:
        table = schema.events
        query = table.select().order_by(table.c.id.desc()).limit(limit)
        if kind:
            query = query.where(table.c.kind == kind)
        if pipeline:
            query = query.where(table.c.pipeline == pipeline)
        with self.engine.connect() as conn:
            rows: Sequence[Any] = conn.execute(query).all()
        from headwater.state.store import _utc

        return [
            EventRecord(
                id=r.id,
                at=_utc(r.at) or _now(),
                kind=r.kind,
                pipeline=r.pipeline,
                run_id=r.run_id,
                task_id=r.task_id,
                message=r.message,
            )
            for r in rows
        ]
