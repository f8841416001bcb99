"""A validated, immutable graph of tasks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter

from headwater.errors import DagError, did_you_mean
from headwater.orchestrate.task import Task


@dataclass(frozen=True)
class Dag:
    name: str
    tasks: Mapping[str, Task]
    #: task id → the tasks that depend on it directly
    children: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, name: str, tasks: Iterable[Task]) -> Dag:
        by_id: dict[str, Task] = {}
        for task in tasks:
            if task.id in by_id:
                raise DagError(f"pipeline `{name}` has two tasks named `{task.id}`")
            by_id[task.id] = task
        children: dict[str, list[str]] = {tid: [] for tid in by_id}
        for task in by_id.values():
            for dep in sorted(task.depends_on):
                if dep not in by_id:
                    raise DagError(
                        f"task `{task.id}` of pipeline `{name}` depends on unknown task `{dep}`"
                        f"{did_you_mean(dep, by_id)}"
                    )
                children[dep].append(task.id)
        dag = cls(name=name, tasks=by_id, children={k: tuple(v) for k, v in children.items()})
        dag.order()
        return dag

    def order(self) -> list[str]:
        try:
            return list(
                TopologicalSorter({t.id: t.depends_on for t in self.tasks.values()}).static_order()
            )
        except CycleError as exc:
            raise DagError(
                f"pipeline `{self.name}` has a dependency cycle: {' → '.join(exc.args[1])}",
                hint="remove one of these dependencies (depends_on, or a model reading a table "
                "written downstream)",
            ) from None

    def downstream(self, task_id: str) -> set[str]:
        """Every task that depends on ``task_id``, directly or not."""
        out: set[str] = set()
        frontier = [task_id]
        while frontier:
            for child in self.children.get(frontier.pop(), ()):
                if child not in out:
                    out.add(child)
                    frontier.append(child)
        return out
