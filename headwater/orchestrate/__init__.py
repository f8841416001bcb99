"""Pipelines as DAGs of immutable task definitions, run by an executor; state kept apart.

Names are imported on first use (see :mod:`headwater.lazy`): the Workspace's pipeline
methods live in this package, and a check or a query must not load the runner and the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.lazy import exports

if TYPE_CHECKING:
    from headwater.orchestrate.dag import Dag
    from headwater.orchestrate.executor import Executor, LocalExecutor
    from headwater.orchestrate.runner import RunListener, run_dag
    from headwater.orchestrate.task import Task, TaskOutcome

_WHERE = {
    "Dag": "headwater.orchestrate.dag",
    "Executor": "headwater.orchestrate.executor",
    "LocalExecutor": "headwater.orchestrate.executor",
    "RunListener": "headwater.orchestrate.runner",
    "run_dag": "headwater.orchestrate.runner",
    "Task": "headwater.orchestrate.task",
    "TaskOutcome": "headwater.orchestrate.task",
}

__getattr__ = exports("headwater.orchestrate", _WHERE)

__all__ = ["Dag", "Executor", "LocalExecutor", "RunListener", "Task", "TaskOutcome", "run_dag"]
