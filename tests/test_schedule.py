"""Schedules as data intervals: cron in a time zone (across DST), fixed intervals, presets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headwater.orchestrate.schedule import Schedule, key
from headwater.project.pipelines import PipelineSettings


def schedule(**settings: object) -> Schedule:
    made = Schedule.of("p", PipelineSettings.model_validate(settings))
    assert made is not None
    return made


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_cron_in_a_time_zone_keeps_local_time_across_dst() -> None:
    paris = schedule(
        schedule="0 6 * * *", timezone="Europe/Paris", catchup=True, start_date="2024-03-29"
    )
    intervals = paris.due(at(2024, 4, 1, 12), set())
    # 06:00 in Paris is 05:00 UTC in winter and 04:00 UTC from 31 March
    assert [i[0] for i in intervals] == [at(2024, 3, 29, 5), at(2024, 3, 30, 5), at(2024, 3, 31, 4)]
    assert [i[1] for i in intervals] == [at(2024, 3, 30, 5), at(2024, 3, 31, 4), at(2024, 4, 1, 4)]


def test_interval_schedules_are_anchored_at_the_start_date() -> None:
    every = schedule(schedule="every 15m", start_date="2024-01-01T00:05:00")
    assert every.due(at(2024, 1, 1, 1, 7), set()) == [(at(2024, 1, 1, 0, 50), at(2024, 1, 1, 1, 5))]
    assert every.due(at(2024, 1, 1, 0, 10), set()) == []  # no interval has ended yet


def test_catchup_end_date_and_done_keys() -> None:
    daily = schedule(
        schedule="@daily", start_date="2024-01-01", end_date="2024-01-03", catchup=True
    )
    due = daily.due(at(2024, 2, 1), {key(at(2024, 1, 2))})
    assert [i[0] for i in due] == [at(2024, 1, 1), at(2024, 1, 3)]
    latest = schedule(schedule="@daily", start_date="2024-01-01")
    assert latest.due(at(2024, 2, 1, 3), set()) == [(at(2024, 1, 31), at(2024, 2, 1))]
    assert latest.between(at(2024, 1, 1), at(2024, 1, 2)) == [
        (at(2024, 1, 1), at(2024, 1, 2)),
        (at(2024, 1, 2), at(2024, 1, 3)),
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"schedule": "61 * * * *"}, "is not a valid cron expression"),
        ({"schedule": "@daily", "timezone": "Mars/Olympus"}, "unknown time zone `Mars/Olympus`"),
        ({"schedule": "every soon"}, "is not a duration"),
    ],
)
def test_bad_schedules_say_what_to_write(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PipelineSettings.model_validate(settings)
