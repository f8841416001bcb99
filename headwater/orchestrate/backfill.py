"""Backfill: one run per logical date of a pipeline's schedule in a range, a few at a time.

A date that already has a successful run — whatever started it: the scheduler, an earlier
backfill, ``headwater run --date`` — is skipped; so is a date whose run is still queued or
running. A date whose runs all failed or were cancelled runs again. ``rerun`` runs every date.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from headwater.errors import DagError, RunFailed, StateError
from headwater.orchestrate.runs import execute_run, this_process
from headwater.orchestrate.schedule import Schedule, key
from headwater.state.records import RunRecord, RunStatus

if TYPE_CHECKING:
    from headwater.orchestrate.scope import Scope

__all__ = ["Backfill", "backfill"]


@dataclass(frozen=True)
class Backfill:
    """What a backfill did: its runs in date order, and the dates it left alone."""

    pipeline: str
    runs: list[RunRecord]
    skipped: list[datetime]  # dates that already had a successful run
    in_progress: list[datetime]  # dates whose run was queued or running

    @property
    def succeeded(self) -> list[RunRecord]:
        return [r for r in self.runs if r.status is RunStatus.SUCCESS]

    @property
    def failed(self) -> list[RunRecord]:
        """Runs that did not succeed (failed or cancelled)."""
        return [r for r in self.runs if r.status is not RunStatus.SUCCESS]


def backfill(
    scope: Scope,
    pipeline: str,
    start: datetime,
    end: datetime,
    max_active: int = 2,
    rerun: bool = False,
    on_run: Callable[[RunRecord | RunFailed], None] | None = None,
) -> Backfill:
    """One run per logical date of the schedule in [start, end], ``max_active`` at a time."""
    definition = scope.catalog.definition(pipeline)
    schedule = Schedule.of(pipeline, definition.settings)
    if schedule is None:
        raise DagError(
            f"pipeline `{pipeline}` has no schedule, so it has no logical dates to backfill",
            hint="give it `schedule:` (cron, @daily or `every 1h`), or use "
            "`headwater run PIPELINE --date D` for one date",
        )
    first, last = (d if d.tzinfo else d.replace(tzinfo=UTC) for d in (start, end))
    if last < first:
        raise DagError(f"backfill: --end {end:%Y-%m-%d} is before --start {start:%Y-%m-%d}")
    intervals = schedule.between(first, last)
    store = scope.store
    store.abandon_dead_runs()  # a run whose process was killed is failed, not in progress
    statuses: dict[str, set[RunStatus]] = {}
    held: set[str] = set()  # keys taken by a run: one run per key, a rerun goes without
    if intervals:
        for logical, status, schedule_key in store.dated_runs(
            pipeline, intervals[0][0], intervals[-1][0]
        ):
            statuses.setdefault(key(logical), set()).add(status)
            if schedule_key is not None:
                held.add(schedule_key)
    todo: list[tuple[datetime, datetime]] = []
    skipped: list[datetime] = []
    in_progress: list[datetime] = []
    for interval in intervals:
        found = statuses.get(key(interval[0]), set())
        if rerun:
            todo.append(interval)
        elif RunStatus.SUCCESS in found:
            skipped.append(interval[0])
        elif any(not s.finished for s in found):
            in_progress.append(interval[0])
        else:
            todo.append(interval)
    dag = scope.catalog.plan(pipeline) if todo else None

    def one(interval: tuple[datetime, datetime]) -> RunRecord:
        date_key = key(interval[0])
        run_id = store.start_run(
            pipeline,
            scope.public_variables(),
            trigger="backfill",
            logical_date=interval[0],
            interval=interval,
            schedule_key=None if date_key in held else date_key,
            owner=this_process(),
        )
        if run_id is None:
            raise StateError(
                f"a run of `{pipeline}` for {interval[0]:%Y-%m-%d %H:%M} was created meanwhile",
                hint="a scheduler or another backfill created it; run the backfill again "
                "once it has finished",
            )
        return execute_run(scope, pipeline, dag=dag, run_id=run_id)

    records: list[RunRecord] = []
    with ThreadPoolExecutor(max_workers=max(1, max_active), thread_name_prefix="backfill") as pool:
        for future in [pool.submit(one, i) for i in todo]:
            try:
                record = future.result()
            except RunFailed as exc:
                if on_run:
                    on_run(exc)
                if isinstance(exc.run, RunRecord):
                    records.append(exc.run)
                continue
            if on_run:
                on_run(record)
            records.append(record)
    return Backfill(pipeline, records, skipped, in_progress)
