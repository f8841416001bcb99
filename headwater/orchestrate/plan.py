"""Expand a pipeline's steps into tasks; dependencies come from the tables models read."""

from __future__ import annotations

from collections.abc import Mapping

from headwater.errors import DagError, did_you_mean
from headwater.orchestrate.dag import Dag
from headwater.orchestrate.task import IngestSpec, ModelSpec, Task, TaskKind
from headwater.project.config import IngestStep, Pipeline, Source
from headwater.sql.graph import ModelGraph


def step_name(step: IngestStep | object) -> str:
    if isinstance(step, IngestStep):
        return step.name or f"ingest_{step.ingest}"
    name = getattr(step, "name", None)
    return name or "models_" + "_".join(getattr(step, "models", ()))


def plan_pipeline(
    name: str, pipeline: Pipeline, sources: Mapping[str, Source], models: ModelGraph
) -> Dag:
    """One task per source table and per selected model; ids are the tables they write."""
    groups: dict[str, list[str]] = {}
    drafts: list[tuple[str, TaskKind, str, IngestSpec | ModelSpec, tuple[str, ...]]] = []
    for step in pipeline.tasks:
        group = step_name(step)
        members = groups.setdefault(group, [])
        if isinstance(step, IngestStep):
            source = sources[step.ingest]
            entries = {t.name: t for t in source.tables}
            for table in step.tables or tuple(entries):
                if table not in entries:
                    raise DagError(
                        f"pipeline `{name}`: source `{step.ingest}` has no table `{table}`"
                        f"{did_you_mean(table, entries)}"
                    )
                target = f"{source.namespace}.{table}"
                drafts.append(
                    (target, "ingest", target, IngestSpec(step.ingest, table), step.depends_on)
                )
                members.append(target)
        else:
            for model in models.select(step.models):
                model_spec = ModelSpec(models.models[model])
                drafts.append((model, "model", model, model_spec, step.depends_on))
                members.append(model)
    writers = {target: task_id for task_id, _, target, _, _ in drafts}
    tasks = []
    for task_id, kind, target, spec, depends_on in drafts:
        deps: set[str] = set()
        for group in depends_on:
            if group not in groups:
                raise DagError(
                    f"pipeline `{name}`: `depends_on: {group}` names no step{did_you_mean(group, groups)}",
                    hint=f"steps: {', '.join(groups)} (a step's name defaults to ingest_<source> or models_<selector>)",
                )
            deps.update(groups[group])
        if isinstance(spec, ModelSpec):
            # every table the model reads that this pipeline writes, models and loads alike
            deps.update(writers[ref.name] for ref in spec.model.references if ref.name in writers)
        deps.discard(task_id)
        tasks.append(
            Task(id=task_id, kind=kind, target=target, spec=spec, depends_on=frozenset(deps))
        )
    return Dag.of(name, tasks)
