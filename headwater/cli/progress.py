"""Live progress of a run: one line per task with its state, rows and time."""

from __future__ import annotations

import logging
import threading
import time

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from headwater.cli.output import counted
from headwater.orchestrate import Dag, Task, TaskOutcome
from headwater.state import TaskStatus

STYLE = {
    TaskStatus.SUCCESS: ("✓", "green"),
    TaskStatus.FAILED: ("✗", "red"),
    TaskStatus.UPSTREAM_FAILED: ("–", "yellow"),
    TaskStatus.PENDING: ("·", "dim"),
    TaskStatus.SKIPPED: ("↷", "dim"),
    TaskStatus.UP_FOR_RETRY: ("↻", "yellow"),
    TaskStatus.CANCELLED: ("⊘", "magenta"),
}
_DATA = ("ingest", "model")  # tasks that write rows
# events this display and the run's summary already show: not logged on the terminal too
_SHOWN = frozenset({"task_failed", "run_failed", "run_succeeded"})


class _NotShownHere(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        from headwater.orchestrate.hooks import EVENT_FIELD

        return getattr(record, EVENT_FIELD, None) not in _SHOWN


class RunProgress:
    """A RunListener that draws a live table on a terminal, or prints lines otherwise."""

    def __init__(self, dag: Dag, console: Console) -> None:
        self.dag = dag
        self.console = console
        self.state: dict[str, tuple[TaskStatus, float | None, TaskOutcome | None]] = {
            t: (TaskStatus.PENDING, None, None) for t in dag.order()
        }
        self.started: dict[str, float] = {}
        self.read: dict[str, int] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._filter = _NotShownHere()

    def __enter__(self) -> RunProgress:
        logging.getLogger("headwater.orchestrate").addFilter(self._filter)
        if self.console.is_terminal:
            self._live = Live(
                self._render(), console=self.console, refresh_per_second=8, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("headwater.orchestrate").removeFilter(self._filter)
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def task_started(self, task: Task) -> None:
        with self._lock:
            self.started[task.id] = time.perf_counter()
            self.state[task.id] = (TaskStatus.RUNNING, None, None)
        self._refresh()

    def task_progress(self, task: Task, rows: int) -> None:
        with self._lock:
            self.read[task.id] = self.read.get(task.id, 0) + rows

    def task_finished(
        self, task: Task, status: TaskStatus, outcome: TaskOutcome | None, error: str | None
    ) -> None:
        with self._lock:
            began = self.started.get(task.id)
            seconds = time.perf_counter() - began if began else None
            self.state[task.id] = (status, seconds, outcome)
        if self._live is None:
            rows = counted(outcome.rows, "row") if outcome and task.kind in _DATA else ""
            took = f"{seconds:.2f}s" if seconds is not None else ""
            self.console.print(
                f"{status.value:>15}  {task.kind:<6} {task.id:<40} {rows:>14} {took:>8}",
                highlight=False,
            )
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Group:
        view = Table.grid(padding=(0, 2))
        for _ in range(5):
            view.add_column()
        now = time.perf_counter()
        with self._lock:
            for task_id, (status, seconds, outcome) in self.state.items():
                task = self.dag.tasks[task_id]
                rows = counted(outcome.rows, "row") if outcome and task.kind in _DATA else ""
                if status is TaskStatus.RUNNING:
                    mark: Text | Spinner = Spinner("dots", style="cyan")
                    elapsed = now - self.started[task_id]
                    took = f"{elapsed:.1f}s"
                    if self.read.get(task_id):
                        done_rows = self.read[task_id]
                        rows = f"{done_rows:,} rows  {done_rows / max(elapsed, 1e-3):,.0f}/s"
                else:
                    symbol, style = STYLE.get(status, ("?", ""))
                    mark = Text(symbol, style=style)
                    took = f"{seconds:.2f}s" if seconds is not None else ""
                view.add_row(mark, task.kind, task_id, Text(rows, justify="right"), took)
        done = sum(1 for s, _, _ in self.state.values() if s.finished)
        return Group(Text(f"{self.dag.name}: {done}/{len(self.state)} tasks", style="bold"), view)
