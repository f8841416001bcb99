"""Run listeners see every task start and finish, and the rows as they stream."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from headwater import Workspace
from headwater.orchestrate import Task, TaskOutcome
from headwater.samples import build_classicmodels
from headwater.state import TaskStatus
from tests.classicmodels_support import copy_example

pytestmark = pytest.mark.slow


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.rows: Counter[str] = Counter()
        self.finished: dict[str, tuple[TaskStatus, int | None]] = {}

    def task_started(self, task: Task) -> None:
        self.started.append(task.id)

    def task_progress(self, task: Task, rows: int) -> None:
        with self.lock:
            self.rows[task.id] += rows

    def task_finished(
        self, task: Task, status: TaskStatus, outcome: TaskOutcome | None, error: str | None
    ) -> None:
        self.finished[task.id] = (status, outcome.rows if outcome else None)


def test_listener_sees_rows_as_they_stream(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "classicmodels")
    build_classicmodels(f"sqlite:///{project / '.headwater' / 'classicmodels.db'}", scale=3)
    text = (
        (project / "headwater.yaml")
        .read_text()
        .replace("    namespace: raw\n", "    namespace: raw\n    batch_rows: 500\n")
    )
    (project / "headwater.yaml").write_text(text)
    recorder = Recorder()
    record = Workspace.open(project).run("classicmodels", listener=recorder)
    assert sorted(recorder.started) == sorted(t.task_id for t in record.tasks)
    assert recorder.finished == {t.task_id: (TaskStatus.SUCCESS, t.rows) for t in record.tasks}
    assert dict(recorder.rows) == {t.task_id: t.rows for t in record.tasks if t.rows}
