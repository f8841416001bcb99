"""When a pipeline is due: cron or fixed-interval schedules in a time zone, as data intervals.

As in Airflow, a run covers a data interval and starts when the interval ends; its logical date
is the interval's start. Cron times are computed in the pipeline's time zone (so ``0 6 * * *``
in Europe/Paris stays at 06:00 across daylight-saving changes) and stored in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from headwater.errors import DagError
from headwater.project.pipelines import PipelineSettings, cron_of


def _aware(value: datetime | date | None, zone: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo else value.replace(tzinfo=zone)


def key(logical: datetime) -> str:
    """A logical date as stored (UTC, ISO 8601): one scheduled run per key."""
    return logical.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Schedule:
    cron: str | None
    every: timedelta | None
    zone: ZoneInfo
    start: datetime | None
    end: datetime | None
    catchup: bool

    @classmethod
    def of(cls, name: str, settings: PipelineSettings) -> Schedule | None:
        if settings.schedule is None:
            return None
        zone = ZoneInfo(settings.timezone)
        cron = cron_of(settings.schedule)
        every = None
        if cron is None:
            from headwater.durations import parse_duration

            every = parse_duration(settings.schedule.removeprefix("every ").strip())
            if every.total_seconds() <= 0:
                raise DagError(
                    f"pipeline `{name}`: `{settings.schedule}` is not a positive interval"
                )
        return cls(
            cron,
            every,
            zone,
            _aware(settings.start_date, zone),
            _aware(settings.end_date, zone),
            settings.catchup,
        )

    def _ticks(self, origin: datetime) -> Iterator[datetime]:
        """Schedule times at or after ``origin``, in order."""
        if self.every is not None:
            anchor = self.start or origin
            steps = max(0, -(-(origin - anchor) // self.every)) if origin > anchor else 0
            current = anchor + steps * self.every
            while True:
                yield current
                current = current + self.every
        from croniter import croniter

        assert self.cron is not None
        local = origin.astimezone(self.zone)
        iterator = croniter(self.cron, local - timedelta(microseconds=1))
        while True:
            yield iterator.get_next(datetime)

    def intervals(self, first: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Complete data intervals starting at or after ``first`` and ending by ``until``."""
        begin = max(first, self.start) if self.start else first
        ticks = self._ticks(begin)
        start = next(ticks)
        for end in ticks:
            if end > until or (self.end is not None and start > self.end):
                return
            yield start.astimezone(UTC), end.astimezone(UTC)
            start = end

    def due(self, now: datetime, done: set[str]) -> list[tuple[datetime, datetime]]:
        """Intervals that should have a run by ``now`` and have none (``done`` holds keys)."""
        if self.catchup:
            if self.start is None:
                raise DagError("`catchup: true` needs a `start_date`")
            return [i for i in self.intervals(self.start, now) if key(i[0]) not in done]
        # without catch-up only the latest complete interval counts
        latest = self.latest(now)
        if latest is None or key(latest[0]) in done:
            return []
        if self.start is not None and latest[0] < self.start.astimezone(UTC):
            return []
        if self.end is not None and latest[0] > self.end.astimezone(UTC):
            return []
        return [latest]

    def latest(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The newest complete data interval at ``now``."""
        if self.every is not None:
            anchor = self.start or datetime(2000, 1, 1, tzinfo=UTC)
            if now < anchor + self.every:
                return None
            end = anchor + ((now - anchor) // self.every) * self.every
            return (end - self.every).astimezone(UTC), end.astimezone(UTC)
        from croniter import croniter

        assert self.cron is not None
        iterator = croniter(self.cron, now.astimezone(self.zone))
        end = iterator.get_prev(datetime)
        start = iterator.get_prev(datetime)
        return start.astimezone(UTC), end.astimezone(UTC)

    def between(self, first: datetime, last: datetime) -> list[tuple[datetime, datetime]]:
        """Intervals whose logical date lies in [first, last] (for a backfill)."""
        out = []
        for interval in self.intervals(first, datetime.max.replace(tzinfo=UTC)):
            if interval[0] > last:
                break
            out.append(interval)
        return out

    def interval_at(self, logical: datetime) -> tuple[datetime, datetime]:
        """The data interval that starts at ``logical`` (or the one containing it)."""
        ticks = self._ticks(logical)
        start = next(ticks)
        if start > logical:  # ``logical`` falls inside an interval: step back one
            return logical.astimezone(UTC), start.astimezone(UTC)
        return start.astimezone(UTC), next(ticks).astimezone(UTC)
