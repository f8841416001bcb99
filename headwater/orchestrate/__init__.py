"""Pipelines as DAGs of immutable task definitions, run by an executor; state kept apart."""

from headwater.orchestrate.dag import Dag
from headwater.orchestrate.executor import Executor, LocalExecutor
from headwater.orchestrate.runner import RunListener, run_dag
from headwater.orchestrate.task import Task, TaskOutcome

__all__ = ["Dag", "Executor", "LocalExecutor", "RunListener", "Task", "TaskOutcome", "run_dag"]
