"""The scheduler daemon: creates runs when schedules and triggers say so, and executes them.

Restart-safe: every decision is in the metadata store. A scheduled run is created at most once
per logical date (a unique key), and started at most once (a compare-and-set on its status), so
two schedulers on one PostgreSQL store never run the same run twice. Each scheduler beats a
heartbeat; runs owned by one that stopped beating (killed mid-run) are taken over: their
unfinished tasks are marked failed and the run resumes, re-running only what did not succeed.

With ``streams``, :meth:`Scheduler.serve` also runs every declared delivery, processor and feed
without an end, one thread each (:mod:`headwater.orchestrate.stream_workers`), and stops them
gracefully with itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from headwater.errors import HeadwaterError
from headwater.orchestrate.hooks import Hooks, emit
from headwater.orchestrate.runs import execute_run, queue_run
from headwater.orchestrate.schedule import Schedule
from headwater.orchestrate.sensors import news, observe
from headwater.state.records import RunStatus

if TYPE_CHECKING:
    from headwater.orchestrate.scope import Scope
    from headwater.orchestrate.stream_workers import StreamWorkers

log = logging.getLogger("headwater.scheduler")


@dataclass
class TickReport:
    """What one pass of the scheduler did."""

    created: list[tuple[str, str]] = field(default_factory=list)  # (pipeline, run id)
    started: list[tuple[str, str]] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        scope: Scope,
        *,
        heartbeat: float = 5.0,
        stale_after: float = 30.0,
        max_runs: int = 8,
        on_event: Callable[[str], None] | None = None,
        streams: bool = False,
    ) -> None:
        self.scope = scope
        self.id = f"scheduler:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.heartbeat_every = heartbeat
        self.stale_after = timedelta(seconds=stale_after)
        self.max_runs = max_runs
        self.on_event = on_event or (lambda message: log.info(message))
        self.running: dict[str, threading.Thread] = {}
        self._last_beat = 0.0
        self._last_poke: dict[str, float] = {}
        self._stop = threading.Event()
        self.streams: StreamWorkers | None = None
        if streams:
            from headwater.orchestrate.stream_workers import StreamWorkers

            self.streams = StreamWorkers(scope, self.on_event)

    # -- one pass ----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        now = now or datetime.now(UTC)
        report = TickReport()
        store = self.scope.store
        if time.monotonic() - self._last_beat >= self.heartbeat_every:
            store.heartbeat(self.id, socket.gethostname(), os.getpid())
            self._last_beat = time.monotonic()
        for run_id in store.orphaned_runs(self.stale_after):
            if store.requeue_orphan(run_id, self.id):
                report.recovered.append(run_id)
                self.on_event(f"run {run_id[:8]}: its scheduler stopped; resuming it")
        paused = store.paused()
        for name, definition in self.scope.catalog.pipelines().items():
            if name in paused:
                continue
            try:
                self._schedule(name, definition.settings, now, report)
                self._watch(name, definition.settings, report)
            except HeadwaterError as exc:
                self.on_event(f"pipeline `{name}`: {exc}")
        for run_id, pipeline, deadline in store.overdue_runs(now):
            if store.mark_sla_missed(run_id):
                message = (
                    f"run {run_id[:8]} of `{pipeline}` missed its deadline "
                    f"{deadline:%Y-%m-%d %H:%M:%S} UTC"
                )
                emit(store, self._hooks(pipeline), "sla_missed", message, pipeline, run_id)
                report.alerts.append(message)
                self.on_event(message)
        self._start_queued(paused, report)
        return report

    def _hooks(self, pipeline: str) -> Hooks:
        return Hooks.of(self.scope.catalog.definition(pipeline).settings.hooks)

    def _schedule(self, name: str, settings: Any, now: datetime, report: TickReport) -> None:
        schedule = Schedule.of(name, settings)
        if schedule is None:
            return
        from headwater.orchestrate.schedule import key

        store = self.scope.store
        due = schedule.due(now, store.schedule_keys(name))
        if due:
            # a date is done when the scheduler or a backfill made its run, or when any run of
            # it succeeded (`headwater run --date`), as backfill decides (orchestrate/backfill.py)
            by_hand = {
                key(logical)
                for logical, status, _ in store.dated_runs(name, due[0][0], due[-1][0])
                if status is RunStatus.SUCCESS
            }
            due = [interval for interval in due if key(interval[0]) not in by_hand]
        for interval in due:
            run_id = queue_run(
                self.scope,
                name,
                trigger="schedule",
                schedule_key=key(interval[0]),
                interval=interval,
            )
            if run_id is None:
                continue  # another scheduler created it
            report.created.append((name, run_id))
            late = now - interval[1]
            # a pipeline the scheduler never ran (new, or its schedule just added) starts with
            # the interval that ended last: late by definition, but nothing was missed
            if (
                late > timedelta(seconds=max(60.0, 3 * self.heartbeat_every))
                and not settings.catchup
                and self.scope.store.scheduled_before(name, interval[0])
            ):
                message = (
                    f"pipeline `{name}`: the run due at {interval[1]:%Y-%m-%d %H:%M} UTC starts "
                    f"{late.total_seconds() / 60:.0f} min late (was the scheduler down?)"
                )
                emit(self.scope.store, self._hooks(name), "schedule_missed", message, name, run_id)
                report.alerts.append(message)

    def _watch(self, name: str, settings: Any, report: TickReport) -> None:
        """Event triggers: start a run when a watched condition changes."""
        if not settings.triggers:
            return
        if time.monotonic() - self._last_poke.get(name, -1e9) < settings.poke:
            return
        self._last_poke[name] = time.monotonic()
        store = self.scope.store
        for condition in settings.triggers:
            spec = condition.model_dump()
            trigger_key = json.dumps(spec, sort_keys=True)
            seen = observe(self.scope, spec)
            last = store.trigger_value(name, trigger_key)
            fresh = news(self.scope, spec, seen, last)
            if seen is not None and seen != last:
                store.set_trigger_value(name, trigger_key, seen)
            if not fresh:
                continue  # nothing there yet, or nothing new
            digest = hashlib.sha256(
                f"{trigger_key}{json.dumps(seen, sort_keys=True, default=str)}".encode()
            ).hexdigest()[:16]
            run_id = queue_run(
                self.scope,
                name,
                conf={"trigger": spec},
                trigger="event",
                schedule_key=f"event:{digest}",
            )
            if run_id is not None:
                report.created.append((name, run_id))
                self.on_event(f"pipeline `{name}`: triggered by {trigger_key}")

    def _start_queued(self, paused: set[str], report: TickReport) -> None:
        store = self.scope.store
        self.running = {k: t for k, t in self.running.items() if t.is_alive()}
        for run_id, pipeline in store.queued_runs():
            if len(self.running) >= self.max_runs:
                return
            if pipeline in paused:
                continue
            try:
                limit = self.scope.catalog.definition(pipeline).settings.max_active_runs
            except HeadwaterError as exc:
                self.on_event(f"run {run_id[:8]}: {exc}")
                continue
            if store.active_runs(pipeline) >= limit:
                continue
            if not store.claim_run(run_id, self.id):
                continue
            thread = threading.Thread(
                target=self._execute, args=(run_id, pipeline), name=f"run-{run_id[:8]}", daemon=True
            )
            self.running[run_id] = thread
            thread.start()
            report.started.append((pipeline, run_id))

    def _execute(self, run_id: str, pipeline: str) -> None:
        self.on_event(f"run {run_id[:8]} of `{pipeline}` started")
        try:
            record = execute_run(self.scope, pipeline, run_id=run_id)
            self.on_event(f"run {run_id[:8]} of `{pipeline}`: {record.status}")
        except HeadwaterError as exc:
            self.on_event(f"run {run_id[:8]} of `{pipeline}`: {exc}")
        except Exception as exc:  # a bug must not kill the daemon; the run records it
            log.exception("run %s crashed", run_id)
            self.scope.store.finish_run(run_id, RunStatus.FAILED, f"crashed: {exc!r}")

    # -- the loop ----------------------------------------------------------------------------

    def serve(self, tick: float = 1.0, until: Callable[[], bool] | None = None) -> None:
        """Tick until stopped (Ctrl-C, :meth:`stop`, or ``until()``), then :meth:`drain`;
        with ``streams``, run the stream workers meanwhile and stop them first."""
        try:
            if self.streams is not None:
                self.streams.start()
            while not self._stop.is_set() and not (until and until()):
                self.tick()
                self._stop.wait(tick)
        except KeyboardInterrupt:
            self.on_event(
                "stopping: waiting for the runs in progress "
                "(Ctrl-C again leaves them to the next scheduler)"
            )
        finally:
            try:
                if self.streams is not None:
                    self.on_event("stopping the stream workers: flushing what they hold")
                    self.streams.stop()
            finally:
                self.drain()

    def drain(self) -> None:
        """Wait for the runs this scheduler started, still beating its heartbeat (so no other
        scheduler takes them over), then retire."""
        try:
            while True:
                alive = [t for t in self.running.values() if t.is_alive()]
                if not alive:
                    return
                self.scope.store.heartbeat(self.id, socket.gethostname(), os.getpid())
                alive[0].join(timeout=self.heartbeat_every)
        finally:
            self.scope.store.retire(self.id)

    def stop(self) -> None:
        self._stop.set()
