"""Running a task in another process that has only the project's folder: a Dask worker.

The worker opens the project's scope (:func:`headwater.orchestrate.scope.open_scope`) and plans the pipeline once per version of the project's
definitions (:func:`headwater.project.fingerprint.fingerprint`, sent with every task: a
worker outlives edits to the pipelines), finds the task by id and runs it. Only plain data
crosses the wire: the project's location and version, the task id, and the run's context; the
result is a :class:`TaskOutcome`, or the task's exception itself (made portable by
:func:`headwater.orchestrate.failures.portable`), so the run records its type and hint and
retries it or not as if it had failed in this process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from headwater.orchestrate.context import RunContext, TaskContext
from headwater.orchestrate.failures import portable
from headwater.orchestrate.logs import TaskLog, log_path
from headwater.orchestrate.task import TaskOutcome

if TYPE_CHECKING:
    from headwater.orchestrate.dag import Dag
    from headwater.orchestrate.scope import Scope


@dataclass(frozen=True)
class RemoteProject:
    root: str
    variables: dict[str, Any] = field(default_factory=dict)
    pipeline: str = ""
    full_refresh: bool = False
    version: str = ""  # the fingerprint of the definitions the run was planned from


# (root, variables and pipeline) → (version, scope, plan)
_cache: dict[tuple[str, str], tuple[str, Scope, Dag]] = {}
_lock = threading.Lock()


def _open(project: RemoteProject) -> tuple[Scope, Dag]:
    from headwater.orchestrate.code import forget
    from headwater.orchestrate.scope import open_scope

    cache_key = (project.root, repr(sorted(project.variables.items())) + project.pipeline)
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None and cached[0] == project.version:
            return cached[1], cached[2]
        if cached is not None:  # the definitions changed since: read them again
            cached[1].close()
            forget(Path(project.root))
        scope = open_scope(project.root, project.variables)
        _cache[cache_key] = (project.version, scope, scope.catalog.plan(project.pipeline))
        return _cache[cache_key][1], _cache[cache_key][2]


def context_payload(ctx: TaskContext) -> dict[str, Any]:
    return {"run": ctx.run, "attempt": ctx.attempt, "values": dict(ctx.values)}


def run_remote(project: RemoteProject, task_id: str, payload: dict[str, Any]) -> TaskOutcome:
    from headwater.orchestrate.dispatch import execute_task
    from headwater.orchestrate.runner import invoke

    try:
        scope, dag = _open(project)
        task = dag.tasks[task_id]
        run: RunContext = payload["run"]
        ctx = TaskContext(
            run=run,
            task=task,
            attempt=payload["attempt"],
            values=payload["values"],
            log=TaskLog(log_path(Path(run.log_dir), run.run_id, task_id) if run.log_dir else None),
        )
        run_scope = scope.for_run()
        return invoke(lambda t, c: execute_task(run_scope, t, c, project.full_refresh), task, ctx)
    except Exception as exc:
        raise portable(exc) from None
