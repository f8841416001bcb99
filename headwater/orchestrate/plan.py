"""Expand a YAML pipeline's steps into tasks (groups, maps, defaults) with the DAG builder."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from headwater.orchestrate import templates
from headwater.orchestrate.builder import DagBuilder, Options, retry_policy
from headwater.orchestrate.dag import Dag
from headwater.orchestrate.task import (
    CheckSpec,
    CrawlSpec,
    MaintainSpec,
    PipelineSpec,
    PythonSpec,
    SensorSpec,
    ShellSpec,
    TaskKind,
    TaskSpec,
)
from headwater.project.pipelines import (
    CheckStep,
    CrawlStep,
    DeliverStep,
    FeedStep,
    GroupStep,
    IngestStep,
    MaintainStep,
    Mapped,
    ModelsStep,
    Pipeline,
    PipelineStep,
    ProcessStep,
    PythonStep,
    SensorStep,
    ShellStep,
    Step,
    StepBase,
)

if TYPE_CHECKING:
    from headwater.project.config import ProjectConfig, Source
    from headwater.sql.graph import ModelGraph

_WORD = re.compile(r"[^A-Za-z0-9_]+")


def step_name(step: Step | StepBase, index: int = 0) -> str:
    """A step's name: its ``name``, or one made from what it does."""
    if step.name:
        return step.name
    if isinstance(step, IngestStep):
        return f"ingest_{step.ingest}"
    if isinstance(step, ModelsStep):
        return "models_" + "_".join(step.models)
    if isinstance(step, CheckStep):
        return "check_" + _WORD.sub("_", step.check)
    if isinstance(step, PythonStep):
        return step.python.partition(":")[2]
    if isinstance(step, PipelineStep):
        return f"run_{step.pipeline}"
    if isinstance(step, MaintainStep):
        return "maintain_" + _WORD.sub("_", step.maintain)
    if isinstance(step, CrawlStep):
        return f"crawl_{step.namespace}"
    if isinstance(step, DeliverStep):
        return f"deliver_{step.deliver}"
    if isinstance(step, ProcessStep):
        return f"process_{step.process}"
    if isinstance(step, FeedStep):
        return f"feed_{step.feed}"
    if isinstance(step, GroupStep):
        return step.group
    if isinstance(step, SensorStep):
        return f"wait_{index}"
    return f"shell_{index}"


def plan_pipeline(
    name: str,
    pipeline: Pipeline,
    sources: Mapping[str, Source],
    models: ModelGraph | Callable[[], ModelGraph] | None,
    pools: Iterable[str] = (),
    connections: Mapping[str, Any] | None = None,
    config: ProjectConfig | None = None,
) -> Dag:
    builder = DagBuilder(name, pipeline, sources, models, pools, connections, config)
    _steps(builder, pipeline.tasks, ())
    return builder.build()


def _options(step: StepBase) -> Options:
    return Options(
        trigger_rule=step.trigger_rule,
        retry=retry_policy(step.retries) if step.retries else None,
        timeout=step.timeout,
        pool=step.pool,
    )


def _steps(builder: DagBuilder, steps: Sequence[Step], inherited: tuple[str, ...]) -> None:
    for index, step in enumerate(steps):
        name = step_name(step, index)
        after = (*inherited, *step.depends_on)
        options = _options(step)
        if isinstance(step, GroupStep):
            builder.groups.append(step.group)
            _steps(builder, step.tasks, after)
            builder.groups.pop()
            builder.names.setdefault(builder.qualify(step.group), [])
            continue
        if isinstance(step, IngestStep):
            ids = builder.ingest(step.ingest, step.tables, after, options)
        elif isinstance(step, ModelsStep):
            ids = builder.models(step.models, after, options)
        elif isinstance(step, DeliverStep):
            ids = [builder.stream("delivery", step.deliver, after, options, name)]
        elif isinstance(step, ProcessStep):
            ids = [
                builder.stream(
                    "processor",
                    step.process,
                    after,
                    options,
                    name,
                    flush_windows=step.flush_windows,
                )
            ]
        elif isinstance(step, FeedStep):
            settings = step.model_dump(include={"idle", "seconds", "max_messages"})
            ids = [builder.stream("feed", step.feed, after, options, name, **settings)]
        else:
            ids = _single(builder, step, name, after, options)
        builder.name_step(builder.qualify(name), ids)


def _single(
    builder: DagBuilder, step: Step, name: str, after: tuple[str, ...], options: Options
) -> list[str]:
    items: Sequence[Any] = (None,)
    if isinstance(step, Mapped) and step.map is not None:
        items = step.map
    ids = []
    for position, item in enumerate(items):
        task_name = name if item is None else f"{name}[{_label(item, position)}]"
        kind, spec = _spec(step, item)
        templates.check(spec)
        ids.append(builder.add(builder.unique(task_name), kind, spec, after, options))
    return ids


def _label(item: Any, position: int) -> str:
    return str(item) if isinstance(item, str | int | float) else str(position)


def _spec(step: Step, item: Any) -> tuple[TaskKind, TaskSpec]:
    extra = {} if item is None else {"item": item}
    if isinstance(step, PythonStep):
        return "python", PythonSpec(step.python, step.params, names=extra)
    if isinstance(step, ShellStep):
        return "shell", ShellSpec(step.shell, step.env, extra)
    if isinstance(step, SensorStep):
        return "sensor", SensorSpec(step.sensor.model_dump(), step.poke)
    if isinstance(step, CheckStep):
        return "check", CheckSpec(None if step.check == "all" else step.check)
    if isinstance(step, CrawlStep):
        return "crawl", CrawlSpec(
            step.crawl, step.namespace, step.import_files, step.policy, step.recrawl
        )
    if isinstance(step, MaintainStep):
        options = step.model_dump(
            include={"compact", "expire", "orphans", "keep_last", "older_than", "orphan_age"}
        )
        return "maintain", MaintainSpec(None if step.maintain == "all" else step.maintain, options)
    assert isinstance(step, PipelineStep)
    return "pipeline", PipelineSpec(step.pipeline, step.conf)
