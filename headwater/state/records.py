"""What the metadata store hands out: plain immutable records and the status vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    QUEUED = "queued"  # waiting for a scheduler (or `headwater run`) to claim it
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    UP_FOR_RETRY = "up_for_retry"
    SUCCESS = "success"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"  # a branch not taken, or a trigger rule that said so
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.UP_FOR_RETRY)


@dataclass(frozen=True)
class TaskRunRecord:
    run_id: str
    task_id: str
    kind: str
    status: TaskStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    target: str | None = None
    rows: int | None = None
    bytes: int | None = None
    snapshot_id: int | None = None
    error: str | None = None
    # what the task did; for a failure, {"error": {"type", "retryable", "hint"}}
    details: dict[str, Any] | None = None
    attempts: int = 0
    value: Any = None  # what the task returned, handed to its downstream tasks

    @property
    def error_type(self) -> str | None:
        """The failure's exception type, e.g. ``headwater.errors.SourceUnreachable``."""
        error = (self.details or {}).get("error")
        return error.get("type") if isinstance(error, dict) else None

    @property
    def error_hint(self) -> str | None:
        """The failure's hint (what to do), when it was one of Headwater's errors."""
        error = (self.details or {}).get("error")
        return error.get("hint") if isinstance(error, dict) else None

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    pipeline: str
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None = None
    error: str | None = None
    variables: dict[str, Any] | None = None
    tasks: tuple[TaskRunRecord, ...] = ()
    logical_date: datetime | None = None
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    trigger: str = "manual"
    conf: dict[str, Any] | None = None
    owner: str | None = None
    cancel_requested: bool = False
    deadline: datetime | None = None
    sla_missed: bool = False

    @property
    def seconds(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None

    @property
    def rows(self) -> int:
        return sum(t.rows or 0 for t in self.tasks)


@dataclass(frozen=True)
class SchemaChangeRecord:
    """A change a load made to a table's schema, as kept in the run history."""

    run_id: str
    task_id: str
    table: str
    kind: str  # created | added | widened | changed | dropped | missing | returned
    column: str | None
    old_type: str | None
    new_type: str | None
    changed_at: datetime


@dataclass(frozen=True)
class EventRecord:
    """Something an operator should hear about: an SLA missed, a schedule missed, a failure."""

    id: int
    at: datetime
    kind: str
    pipeline: str | None
    run_id: str | None
    task_id: str | None
    message: str
