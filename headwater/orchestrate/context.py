"""What a running task can see: its run's logical date and parameters, upstream values, a log,
and a cancellation flag it should honour (a timeout or `headwater cancel` sets it)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from headwater.errors import HeadwaterError
from headwater.orchestrate.logs import TaskLog
from headwater.orchestrate.task import Task
from headwater.orchestrate.templates import date_names, render


class TaskCancelled(HeadwaterError):
    """The task was asked to stop (timeout or cancel); raised inside it by ``ctx.check()``."""


class TaskInterrupted(BaseException):
    """Raised inside a task's thread to stop it; a BaseException so ``except Exception`` in
    user code does not swallow it."""


@dataclass(frozen=True)
class RunContext:
    """One run of a pipeline, shared by its tasks."""

    run_id: str
    pipeline: str
    logical_date: datetime | None = None
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # pipeline params, then conf
    variables: Mapping[str, Any] = field(default_factory=dict)
    root: Path | None = None  # the project folder
    log_dir: Path | None = None  # where task logs go; None keeps none
    echo: bool = False  # task output also to the terminal

    def names(self) -> dict[str, Any]:
        return {
            **date_names(self.logical_date, self.interval_start, self.interval_end),
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "params": dict(self.params),
            "var": dict(self.variables),
        }


@dataclass
class TaskContext:
    run: RunContext
    task: Task
    attempt: int = 1
    values: Mapping[str, Any] = field(default_factory=dict)  # upstream task id → its value
    cancelled: threading.Event = field(default_factory=threading.Event)
    log: TaskLog = field(default_factory=lambda: TaskLog(None))
    on_rows: Any = None  # callable(rows) for progress, or None

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def logical_date(self) -> datetime | None:
        return self.run.logical_date

    @property
    def ds(self) -> str | None:
        return self.names()["ds"]

    @property
    def params(self) -> Mapping[str, Any]:
        return self.run.params

    def value(self, task_id: str, default: Any = None) -> Any:
        """The value an upstream task returned."""
        return self.values.get(task_id, default)

    def names(self) -> dict[str, Any]:
        return {**self.run.names(), "values": dict(self.values), "task_id": self.task.id}

    def render(self, value: Any, **extra: Any) -> Any:
        return render(value, {**self.names(), **extra})

    def check(self) -> None:
        """Raise :class:`TaskCancelled` if the task was asked to stop; call it in long loops."""
        if self.cancelled.is_set():
            raise TaskCancelled(f"task `{self.task.id}` was stopped")

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake and stop at once when the task is cancelled."""
        if self.cancelled.wait(seconds):
            self.check()
