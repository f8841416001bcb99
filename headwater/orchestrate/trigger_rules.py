"""Trigger rules: whether a task runs, is skipped or is blocked, given its upstream states."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from headwater.orchestrate.task import TriggerRule
from headwater.state.records import TaskStatus

Decision = Literal["wait", "run", "skip", "upstream_failed"]

FAILED = frozenset((TaskStatus.FAILED, TaskStatus.UPSTREAM_FAILED, TaskStatus.CANCELLED))


@dataclass
class Upstream:
    """How a task's upstream tasks ended so far (counts, so a join of 10 000 stays cheap)."""

    total: int
    finished: int = 0
    successes: int = 0
    failures: int = 0

    def add(self, status: TaskStatus) -> None:
        self.finished += 1
        if status is TaskStatus.SUCCESS:
            self.successes += 1
        elif status in FAILED:
            self.failures += 1


def decide(rule: TriggerRule, upstream: Upstream) -> Decision:
    """What to do with a task now; ``one_success`` may fire before the others finish."""
    total, successes, failures = upstream.total, upstream.successes, upstream.failures
    if rule == "one_success" and successes:
        return "run"
    if upstream.finished < total:
        return "wait"
    skipped = total - successes - failures
    if rule == "all_done":
        return "run"
    if rule == "all_success":
        return "upstream_failed" if failures else "skip" if skipped else "run"
    if rule == "none_failed":
        return "upstream_failed" if failures else "run"
    if rule == "one_success":
        return "upstream_failed" if failures else "skip"
    # none_failed_or_skipped: no failure, and at least one upstream ran (none at all: run)
    if failures:
        return "upstream_failed"
    return "run" if successes or total == 0 else "skip"
